package parts_test

import (
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/parts"
	"github.com/dandan-sre/dandan/internal/server"
	"github.com/dandan-sre/dandan/internal/sqlstore"
)

const module = "github.com/dandan-sre/dandan/"

// shared are the packages every part may import; any other package under
// internal/ is a part. The libraries of the metric path (metricstore,
// tail, journal, remotewrite, opentsdb, webstatus, hostmetrics) are
// shared; so is logs, the access-log engine, whose part is only the
// command `dandan logs parse`.
var shared = []string{"buildinfo", "cli", "component", "config", "httpapi", "parts", "server", "sqlstore", "testkit", "ui",
	"metricstore", "tail", "journal", "remotewrite", "opentsdb", "webstatus", "hostmetrics", "logs", "events", "alerting"}

// packageDirs returns every directory under ../../internal and ../../cmd
// that holds non-test Go files.
func packageDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, root := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				if dir := filepath.Dir(path); !slices.Contains(dirs, dir) {
					dirs = append(dirs, dir)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

// TestPackageDocs: every package has a doc.go (internal/) or a package
// comment (commands) that says its job.
func TestPackageDocs(t *testing.T) {
	for _, dir := range packageDirs(t) {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for name, pkg := range pkgs {
			documented := false
			for fname, f := range pkg.Files {
				if f.Doc != nil && len(strings.Fields(f.Doc.Text())) >= 8 {
					documented = true
					if strings.Contains(dir, "internal") && filepath.Base(fname) != "doc.go" {
						t.Errorf("%s: package comment of %s belongs in doc.go", dir, name)
					}
				}
			}
			if !documented {
				t.Errorf("%s: package %s has no doc comment saying its job", dir, name)
			}
		}
	}
}

// TestPartImports: parts import shared packages only, never each other,
// the server or the command line.
func TestPartImports(t *testing.T) {
	for _, dir := range packageDirs(t) {
		rel, _ := filepath.Rel("../../internal", dir)
		if strings.HasPrefix(rel, "..") || slices.Contains(shared, strings.Split(rel, string(filepath.Separator))[0]) {
			continue
		}
		part := strings.Split(rel, string(filepath.Separator))[0]
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkg := range pkgs {
			for fname, f := range pkg.Files {
				for _, imp := range f.Imports {
					p, _ := strconv.Unquote(imp.Path.Value)
					inner, ok := strings.CutPrefix(p, module+"internal/")
					if !ok {
						continue
					}
					top := strings.Split(inner, "/")[0]
					if top == part {
						continue
					}
					if !slices.Contains(shared, top) || top == "server" || top == "cli" || top == "parts" {
						t.Errorf("%s imports %s: parts import only shared packages", fname, p)
					}
				}
			}
		}
	}
}

// TestParts walks every registered part: a package with doc.go, defaults
// that validate, a section in examples/dandan.yaml that checks, and a
// command with examples.
func TestParts(t *testing.T) {
	example, err := os.ReadFile("../../examples/dandan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range parts.All() {
		t.Run(p.Name, func(t *testing.T) {
			if seen[p.Name] {
				t.Fatalf("part %s is registered twice", p.Name)
			}
			seen[p.Name] = true
			if _, err := os.Stat(filepath.Join("../../internal", p.Name, "doc.go")); err != nil {
				t.Errorf("internal/%s/doc.go: %v", p.Name, err)
			}
			if p.Summary == "" || p.New == nil && p.Command == nil {
				t.Errorf("part %s lacks a summary, or both a component and a command", p.Name)
			}
			if p.NewConfig == nil {
				return // no config section
			}
			if p.Example == "" {
				t.Errorf("part %s has a config section but no example of it", p.Name)
			}
			if err := p.NewConfig().Validate(); err != nil && p.New == nil {
				t.Errorf("defaults of %s do not validate: %v", p.Name, err)
			}
			if !strings.Contains(string(example), "\n"+p.Name+":") && !strings.Contains(string(example), "\n# "+p.Name+":") {
				t.Errorf("examples/dandan.yaml has no %s section", p.Name)
			}
			if p.Command != nil && p.Command(component.Env{}).Example == "" {
				t.Errorf("dandan %s has no examples in --help", p.Name)
			}
		})
	}
}

// TestREADMERoutes: every route of a server with every part enabled is in
// the README's route table with its role.
func TestREADMERoutes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	db, err := sqlstore.New("", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var infos []server.PartInfo
	for _, p := range parts.All() {
		if p.New != nil {
			infos = append(infos, server.PartInfo{Name: p.Name, Summary: p.Summary, Example: p.Example, Enabled: true})
		}
	}
	runner := component.NewRunner(slog.New(slog.DiscardHandler), nil)
	srv, err := server.New(server.Options{Config: &cfg, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		SQL: db, Status: runner, Parts: infos, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts.All() {
		if p.New == nil {
			continue
		}
		c, err := p.New(component.Deps{Logger: slog.New(slog.DiscardHandler), DataDir: filepath.Join(dir, p.Name),
			Registerer: prometheus.NewRegistry(), SQL: db, UI: srv.UI()}, p.NewConfig())
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		c.Mount(srv.Mux())
		runner.Add(c)
	}
	for _, rt := range srv.Mux().Routes() {
		method := rt.Method()
		if method == "" {
			method = "any"
		}
		row := "| `" + method + " " + rt.Path() + "` | " + rt.Role.String() + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the route row %s", row)
		}
	}
}
