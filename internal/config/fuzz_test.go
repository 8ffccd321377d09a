package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzLoad checks that no input makes the loader panic, and that a failed
// load always says where.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Load("f.yaml", data, Options{
			Parts:    testOpts.Parts,
			Env:      func(string) (string, bool) { return "v", true },
			ReadFile: func(string) ([]byte, error) { return []byte("x"), nil },
		})
		if err == nil {
			return
		}
		le, ok := err.(*LoadError)
		if !ok || len(le.Problems) == 0 {
			t.Fatalf("want a *LoadError with problems, got %T %v", err, err)
		}
	})
}

// FuzzParseDuration checks that durations never panic and that what parses
// prints back to the same value.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30s", "1h30m", "7d", "2w", "1.5h", "250ms", "0", "-1s", "1e3s", "9999999999w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, int64(d), d.String(), int64(back), err)
		}
	})
}

// FuzzParseSize checks that sizes never panic.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1024", "1MiB", "10MB", "1.5KiB", "", "x", "1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseSize(s); err == nil && v < 0 {
			t.Fatalf("%q → negative %d", s, v)
		}
	})
}
