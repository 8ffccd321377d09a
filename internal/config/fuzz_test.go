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
