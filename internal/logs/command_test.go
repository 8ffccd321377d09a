package logs

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dandan-sre/dandan/internal/testkit"
)

// sections splits a golden file into its "-- name --" sections.
func sections(t *testing.T, b []byte) (names []string, body map[string]string) {
	t.Helper()
	body = map[string]string{}
	cur := ""
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if n, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "-- "); ok && strings.HasSuffix(n, " --") {
			cur = strings.TrimSuffix(n, " --")
			names = append(names, cur)
			continue
		}
		if cur == "" {
			continue
		}
		body[cur] += line
	}
	return names, body
}

// run runs `dandan logs` with args and stdin; it returns stdout, stderr
// (with the rate line made stable) and the error.
func run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := Command()
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), rateLine.ReplaceAllString(errb.String(), "rate: N lines/s"), err
}

var rateLine = regexp.MustCompile(`rate: \d+ lines/s`)

// TestParseGolden runs each testdata/parse/*.txt: its args and input give
// the stdout and stderr it holds (go test -update rewrites them).
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/parse/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, sec := sections(t, b)
			args := append([]string{"parse"}, strings.Fields(sec["args"])...)
			args = append(args, "-")
			stdout, stderr, err := run(t, sec["input"], args...)
			var got strings.Builder
			got.WriteString("-- args --\n" + sec["args"])
			got.WriteString("-- input --\n" + sec["input"])
			got.WriteString("-- stdout --\n" + stdout)
			got.WriteString("-- stderr --\n" + stderr)
			if err != nil {
				got.WriteString("-- error --\n" + err.Error() + "\n")
			}
			testkit.Golden(t, file, []byte(got.String()))
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad format", []string{"--format", "$status %s"}, `invalid argument "$status %s" for "--format" flag: format has both $variables and %directives: start it with nginx: or apache: to say which`},
		{"bad output", []string{"--output", "xml"}, `invalid argument "xml" for "--output" flag: unknown output "xml" (use opentsdb, prom, json)`},
		{"bad rule", []string{"--path-rule", "/a"}, `invalid argument "/a" for "--path-rule" flag: path rule "/a": want PATTERN=TEMPLATE`},
		{"bad regexp rule", []string{"--path-rule", "~(=/x"}, "invalid argument \"~(=/x\" for \"--path-rule\" flag: path rule \"~(=/x\": error parsing regexp: missing closing ): `(`"},
		{"bad buckets", []string{"--buckets", "0.1,0.05"}, `invalid argument "0.1,0.05" for "--buckets" flag: bucket 0.05: bounds must be at least 0.000001 s, finite and increasing`},
		{"bad json field", []string{"--json-field", "latency=took"}, `invalid argument "latency=took" for "--json-field" flag: json field latency=took: unknown variable "latency"`},
		{"missing file", []string{"testdata/nope.log"}, "open testdata/nope.log: no such file or directory"},
		{"bad rules file", []string{"--path-rules", "testdata/bad.rules", "-"}, `testdata/bad.rules:3: path rule "/b": want PATTERN=TEMPLATE`},
		{"strict", []string{"--strict", "-"}, `stdin:2: bad status "2x0"`},
	}
	input := `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 200 1 0.1 "-" "-"
"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 2x0 1 0.1 "-" "-"
`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, input, append([]string{"parse"}, tc.args...)...)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseGzipAndFiles(t *testing.T) {
	dir := t.TempDir()
	line := `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET /a/1 HTTP/1.1" 200 10 0.1 "-" "-"` + "\n"
	plain := filepath.Join(dir, "access.log")
	if err := os.WriteFile(plain, []byte(line+line), 0o644); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(line + "garbage\n"))
	zw.Close()
	gzFile := filepath.Join(dir, "access.log.1.gz")
	if err := os.WriteFile(gzFile, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, line, "parse", "--output", "prom", plain, gzFile, "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, `http_requests_total{job="access",method="GET",path="/a/{id}",status="200"} 4 1633841736000`) {
		t.Errorf("stdout:\n%s", stdout)
	}
	for _, want := range []string{"lines read: 5\n", "lines invalid: 1\n", "  " + gzFile + ":2: expected", "paths: 1 distinct raw, 1 after templating\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
