package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
)

// load reads a config file with the report part's section.
func load(path string) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := Part()
	return config.Load(path, data, config.Options{Parts: []config.PartSchema{{Name: p.Name, NewConfig: func() config.Validator { return p.NewConfig().(component.Config) }}}})
}

func TestConfigFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/*.yaml")
	want := map[string][]string{
		"values.bad.yaml": {
			`testdata/config/values.bad.yaml:2:13: report.schedule: "25:00" is not a time: want HH:MM, 00:00 to 23:59`,
			`testdata/config/values.bad.yaml:3:13: report.timezone: unknown time zone "Mars/Olympus": want an IANA name such as Europe/Berlin or UTC`,
			`testdata/config/values.bad.yaml:4:9: report.keep: must be between 1 and 520 weeks`,
			`testdata/config/values.bad.yaml:5:15: report.jobs[1]: "bad job" is not a job name: letters, digits, '_', '.', ':' or '-', starting with a letter`,
			`testdata/config/values.bad.yaml:5:26: report.jobs[2]: "all" names the overall report: choose another job name`,
			`testdata/config/values.bad.yaml:5:31: report.jobs[3]: job "web" is already listed at jobs[0]`,
		},
		"day.bad.yaml": {
			`testdata/config/day.bad.yaml:2:13: report.schedule: "someday" is not a weekday: want mon, tue, wed, thu, fri, sat or sun`,
			`testdata/config/day.bad.yaml:3:9: report.keep: must be between 1 and 520 weeks`,
		},
		"key.bad.yaml": {
			`testdata/config/key.bad.yaml:2:3: report.schedul: unknown key (did you mean "schedule"?)`,
		},
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			cfg, err := load(f)
			if strings.HasSuffix(name, ".good.yaml") {
				if err != nil {
					t.Fatal(err)
				}
				c := cfg.Parts["report"].Config.(*Config)
				if name == "full.good.yaml" && (c.sched.String() != "mon 09:30" || c.Location().String() != "Europe/Berlin" || c.Keep != 8 || len(c.Jobs) != 2) {
					t.Errorf("decoded %+v", c)
				}
				if name == "empty.good.yaml" && (!c.sched.IsZero() || c.Keep != defaultKeep || c.Location() != time.Local) {
					t.Errorf("defaults %+v", c)
				}
				return
			}
			var le *config.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v, want a LoadError", err)
			}
			var got []string
			for _, p := range le.Problems {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(want[name], "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want[name], "\n"))
			}
		})
	}
}

// TestExample: the part's example section is valid as it stands.
func TestExample(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "example.yaml")
	if err := os.WriteFile(path, []byte(Part().Example), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Parts["report"].Config.(*Config); c.sched.String() != "mon 09:00" || c.Keep != 12 {
		t.Errorf("example decodes to %+v", c)
	}
}
