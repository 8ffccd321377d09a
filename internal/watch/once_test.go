package watch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnce: `dandan watch --once` reports what each job would collect and
// fails, saying why, on a missing file, a format that matches nothing and
// a status page that does not answer.
func TestOnce(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "access.log")
	var lines []byte
	for range 50 {
		lines = append(lines, `"10.0.0.1" "-" [25/Nov/2026:10:00:00 +0000] "GET /a/1 HTTP/1.1" 200 10 0.010 "-" "t"`+"\n"...)
	}
	lines = append(lines, "garbage\n"...)
	if err := os.WriteFile(good, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(&JobConfig{Name: "web", Files: []string{good}, Format: "media-nginx"})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runOnce(context.Background(), cfg, dir, 1000, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"job web", "parsed its last 51 lines, 1 invalid", `{__name__="http_requests_total", job="web", method="GET", path="/a/{id}", status="200"} 50`, "ok"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	bad := testConfig(
		&JobConfig{Name: "none", Files: []string{filepath.Join(dir, "nothing-*.log")}},
		&JobConfig{Name: "apache", Files: []string{good}, Format: "media-apache"},
	)
	bad.Status = []*StatusConfig{{Job: "down", Kind: "nginx", URL: "http://127.0.0.1:1/status", Interval: 1e9}}
	if err := bad.Validate(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := runOnce(context.Background(), bad, dir, 1000, &out)
	if err == nil || !strings.Contains(err.Error(), "3 problem(s)") {
		t.Fatalf("err %v\n%s", err, out.String())
	}
	for _, want := range []string{"no file matches", "no line matches the format media-apache", "status down:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
