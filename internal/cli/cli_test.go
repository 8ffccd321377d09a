package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/dandan-sre/dandan/internal/parts"
	"github.com/dandan-sre/dandan/internal/testkit"
)

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = New(parts.All(), &o, &e).Run(context.Background(), args)
	return code, o.String(), e.String()
}

// TestExampleConfig: `dandan config example` is examples/dandan.yaml
// (go test -update rewrites it) and passes `config check`.
func TestExampleConfig(t *testing.T) {
	code, out, errOut := run(t, "config", "example")
	if code != 0 {
		t.Fatalf("config example: %d %s", code, errOut)
	}
	testkit.Golden(t, "../../examples/dandan.yaml", []byte(out))
	code, out, errOut = run(t, "config", "check", "../../examples/dandan.yaml")
	if code != 0 || out != "../../examples/dandan.yaml: ok\n" {
		t.Fatalf("config check of the example: %d %q %q", code, out, errOut)
	}
}

func TestConfigCheckPrintsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := writeFile(bad, "server:\n  listn: x\n  read_timeout: soon\nlog:\n  level: loud\n"); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := writeFile(good, "server: {listen: 127.0.0.1:9999}\n"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "config", "check", good, bad)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if out != good+": ok\n" {
		t.Errorf("stdout %q", out)
	}
	want := []string{
		bad + `:2:3: server.listn: unknown key (did you mean "listen"?)`,
		bad + `:3:17: server.read_timeout: not a duration "soon": use a number with a unit, e.g. 30s, 5m, 1h, 7d`,
		bad + `:5:10: log.level: "loud" is not one of debug, info, warn, error`,
		bad + `: 3 problem(s)`,
	}
	if got := strings.TrimSpace(errOut); got != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestHelp: every command has a short line and examples in --help.
func TestHelp(t *testing.T) {
	root := New(parts.All(), &bytes.Buffer{}, &bytes.Buffer{}).root()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c.Short == "" {
			t.Errorf("%s has no short help", c.CommandPath())
		}
		if c.Runnable() && c.Example == "" {
			t.Errorf("%s has no examples", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	code, out, _ := run(t, "up", "--help")
	if code != 0 || !strings.Contains(out, "dandan up --config examples/dandan.yaml") {
		t.Errorf("up --help: %d\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "dandan ") {
		t.Fatalf("version: %d %q", code, out)
	}
	code, out, _ = run(t, "version", "--json")
	if code != 0 || !strings.Contains(out, `"go_version"`) {
		t.Fatalf("version --json: %d %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"up", "--nope"}, 2, "unknown flag: --nope (see dandan up --help)"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"config", "check", filepath.Join(dir, "missing.yaml")}, 2, "start one with: dandan config example > " + filepath.Join(dir, "missing.yaml")},
	} {
		code, _, errOut := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
