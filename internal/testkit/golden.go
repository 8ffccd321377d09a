package testkit

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update is the -update flag of every test binary that imports testkit. It is
// package-level because the flag package needs it registered before
// flag.Parse; nothing else in testkit is.
var update = flag.Bool("update", false, "rewrite golden files with the output of the tests")

// Golden compares got with the contents of the file at path and fails the test
// with a diff when they differ. With `go test -update` it writes got to path
// instead, creating the directories it needs.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	golden(t, path, got, *update)
}

// golden is Golden with the update flag as an argument, for tests.
func golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("update golden file: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read golden file: %v (run go test -update to create it)", err)
	}
	if err != nil {
		t.Fatalf("read golden file: %v", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	t.Fatalf("output differs from golden file %s (run go test -update to accept it):\n%s", path, diff(want, got))
}

// diffContext is how many equal lines diff shows around the change, and
// diffMax how many changed lines of each side it shows at most.
const (
	diffContext = 3
	diffMax     = 20
)

// diff shows where got differs from want: the lines between the longest
// common prefix and the longest common suffix, marked - for want and + for
// got, with a few equal lines around them.
func diff(want, got []byte) string {
	wl, gl := lines(want), lines(got)
	pre := 0
	for pre < len(wl) && pre < len(gl) && wl[pre] == gl[pre] {
		pre++
	}
	suf := 0
	for suf < len(wl)-pre && suf < len(gl)-pre && wl[len(wl)-1-suf] == gl[len(gl)-1-suf] {
		suf++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d (- golden, + got):\n", pre+1)
	for _, l := range wl[max(0, pre-diffContext):pre] {
		b.WriteString("  " + line(l))
	}
	side := func(mark string, changed []string) {
		for i, l := range changed {
			if i == diffMax {
				fmt.Fprintf(&b, "%s … %d more lines\n", mark, len(changed)-i)
				break
			}
			b.WriteString(mark + " " + line(l))
		}
	}
	side("-", wl[pre:len(wl)-suf])
	side("+", gl[pre:len(gl)-suf])
	for _, l := range wl[len(wl)-suf : min(len(wl), len(wl)-suf+diffContext)] {
		b.WriteString("  " + line(l))
	}
	return b.String()
}

// lines splits b after each newline.
func lines(b []byte) []string {
	l := strings.SplitAfter(string(b), "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// line quotes s when it has no final newline or holds characters that would
// hide the difference, and ends it with a newline.
func line(s string) string {
	body, nl := strings.CutSuffix(s, "\n")
	if !nl || strings.ContainsAny(body, "\r\t") || strings.TrimRight(body, " ") != body {
		q := fmt.Sprintf("%q", body)
		if !nl {
			q += " (no newline at end)"
		}
		return q + "\n"
	}
	return s
}
