package report

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestListAndPrune(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	head := `<!doctype html><meta name="dandan:from" content="2026-03-08T15:00:00Z">` + "\n" + `<meta name="dandan:to" content="2026-03-11T15:00:00Z">`
	write("weekly-web-2026-03-09.html", head)
	write("weekly-web-2026-03-09.pdf", "%PDF-")
	write("weekly-all-2026-03-09.html", "<!doctype html>")
	write("weekly-all-2026-03-02.html", "<!doctype html>")
	write("weekly-my-job.v2-2026-02-23.pdf", "%PDF-")
	write("notes.txt", "x")
	write(".tmp-weekly-all-2026-03-16.html-123", "half")
	files, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Name)
	}
	want := []string{"weekly-all-2026-03-09.html", "weekly-web-2026-03-09.html", "weekly-web-2026-03-09.pdf", "weekly-all-2026-03-02.html", "weekly-my-job.v2-2026-02-23.pdf"}
	if !slices.Equal(got, want) {
		t.Fatalf("List: %v, want %v", got, want)
	}
	// The period comes from the HTML's head, for its PDF too; else the
	// name's date and a week.
	if f := files[2]; !f.From.Equal(time.Date(2026, 3, 8, 15, 0, 0, 0, time.UTC)) || !f.To.Equal(time.Date(2026, 3, 11, 15, 0, 0, 0, time.UTC)) || f.Job != "web" || f.Kind != "pdf" {
		t.Errorf("web PDF: %+v", f)
	}
	if f := files[4]; f.Job != "my-job.v2" || f.To.Sub(f.From) != 7*24*time.Hour {
		t.Errorf("my-job.v2: %+v", f)
	}

	removed, err := Prune(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{"weekly-my-job.v2-2026-02-23.pdf"}) {
		t.Errorf("Prune removed %v", removed)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("Prune removed a file that is not a report: %v", err)
	}
	if files, _ := List(filepath.Join(dir, "missing")); files != nil {
		t.Errorf("missing dir: %v", files)
	}
}

func TestFileName(t *testing.T) {
	if got := FileName("", weekFrom, "pdf"); got != "weekly-all-2026-03-09.pdf" {
		t.Errorf("FileName: %q", got)
	}
	if got := FileName("web", weekFrom, "html"); got != "weekly-web-2026-03-09.html" || !fileRE.MatchString(got) {
		t.Errorf("FileName: %q", got)
	}
}
