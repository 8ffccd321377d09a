package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// PDFPages turns every page of the PDF file pdf into a PNG at dpi dots per
// inch with pdftoppm (poppler-utils), written as
// testdata/screens/<name>-<page>.png of the test's package directory, and
// returns their paths in page order. Old pages of name are removed first.
func PDFPages(t testing.TB, pdf, name string, dpi int) []string {
	t.Helper()
	bin := lookPath(t, "pdftoppm", "poppler-utils")
	dir := filepath.Join("testdata", "screens")
	prefix := filepath.Join(dir, filepath.FromSlash(name))
	if !strings.HasPrefix(prefix, dir+string(filepath.Separator)) {
		t.Fatalf("pdf pages %s: name leaves testdata/screens", name)
	}
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		t.Fatalf("pdf pages %s: %v", name, err)
	}
	// pdftoppm pads page numbers to the width of the last: -1 or -01.
	pagesOf := func() map[string]int {
		all, _ := filepath.Glob(prefix + "-*.png")
		out := map[string]int{}
		for _, p := range all {
			if n, err := strconv.Atoi(strings.TrimSuffix(p[len(prefix)+1:], ".png")); err == nil {
				out[p] = n
			}
		}
		return out
	}
	for f := range pagesOf() {
		os.Remove(f)
	}
	out, err := exec.Command(bin, "-png", "-r", strconv.Itoa(dpi), pdf, prefix).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm %s: %v\n%s", pdf, err, out)
	}
	num := pagesOf()
	pages := make([]string, 0, len(num))
	for p := range num {
		pages = append(pages, p)
	}
	sort.Slice(pages, func(i, j int) bool { return num[pages[i]] < num[pages[j]] })
	if len(pages) == 0 {
		t.Fatalf("pdftoppm %s: no page written\n%s", pdf, out)
	}
	return pages
}
