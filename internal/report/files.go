package report

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"
)

// FileName returns the name of a report file: weekly-<job>-<date>.<ext>,
// job "all" for the overall report, date the period's first day.
func FileName(job string, from time.Time, ext string) string {
	if job == "" {
		job = allName
	}
	return "weekly-" + job + "-" + from.Format(time.DateOnly) + "." + ext
}

// fileRE matches the names FileName makes, and nothing with a slash.
var fileRE = regexp.MustCompile(`^weekly-([a-zA-Z_][a-zA-Z0-9_.:-]{0,62})-(\d{4}-\d{2}-\d{2})\.(html|pdf)$`)

// File is one report file in the out directory (GET /api/reports).
type File struct {
	Name    string    `json:"name"`
	Job     string    `json:"job"`  // "all" for the overall report
	Kind    string    `json:"kind"` // html or pdf
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

// Meta names of the period in a report's HTML head, read back by List.
const (
	metaFrom = "dandan:from"
	metaTo   = "dandan:to"
)

// List returns the report files in dir, newest period first, the overall
// report before the jobs', HTML before PDF. A missing dir has none.
func List(dir string) ([]File, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	var out []File
	periods := map[string][2]time.Time{} // by base name, from the HTML
	for _, e := range ents {
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		day, err := time.ParseInLocation(time.DateOnly, m[2], time.Local)
		if err != nil {
			continue
		}
		f := File{Name: e.Name(), Job: m[1], Kind: m[3], From: day, To: day.AddDate(0, 0, 7), Size: info.Size(), Created: info.ModTime().UTC()}
		if f.Kind == "html" {
			if from, to, ok := readPeriod(filepath.Join(dir, f.Name)); ok {
				f.From, f.To = from, to
				periods[baseName(f.Name)] = [2]time.Time{from, to}
			}
		}
		out = append(out, f)
	}
	for i := range out {
		if p, ok := periods[baseName(out[i].Name)]; ok {
			out[i].From, out[i].To = p[0], p[1]
		}
	}
	slices.SortFunc(out, func(a, b File) int {
		return cmp.Or(-a.From.Compare(b.From), cmp.Compare(jobOrder(a.Job), jobOrder(b.Job)), cmp.Compare(a.Job, b.Job), cmp.Compare(a.Kind, b.Kind))
	})
	return out, nil
}

func jobOrder(job string) int {
	if job == allName {
		return 0
	}
	return 1
}

func baseName(name string) string { return name[:len(name)-len(filepath.Ext(name))] }

var metaRE = regexp.MustCompile(`<meta name="(dandan:from|dandan:to)" content="([^"]+)">`)

// readPeriod reads the period from the head of a report's HTML.
func readPeriod(path string) (from, to time.Time, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return from, to, false
	}
	defer f.Close()
	head := make([]byte, 2048)
	n, _ := io.ReadFull(f, head)
	for _, m := range metaRE.FindAllSubmatch(head[:n], -1) {
		t, err := time.Parse(time.RFC3339, string(m[2]))
		if err != nil {
			return from, to, false
		}
		if bytes.Equal(m[1], []byte(metaFrom)) {
			from = t
		} else {
			to = t
		}
	}
	return from, to, !from.IsZero() && !to.IsZero()
}

// Prune removes the report files of all but the keep newest periods (by
// the date in their names). It returns the names removed.
func Prune(dir string, keep int) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("prune reports: %w", err)
	}
	dates := map[string]bool{}
	for _, e := range ents {
		if m := fileRE.FindStringSubmatch(e.Name()); m != nil {
			dates[m[2]] = true
		}
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for d := range dates {
			if !yield(d) {
				return
			}
		}
	})
	if len(sorted) <= keep {
		return nil, nil
	}
	old := map[string]bool{}
	for _, d := range sorted[:len(sorted)-keep] {
		old[d] = true
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		if m := fileRE.FindStringSubmatch(e.Name()); m != nil && old[m[2]] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, fmt.Errorf("prune reports: %w", err))
				continue
			}
			removed = append(removed, e.Name())
		}
	}
	return removed, errors.Join(errs...)
}

// Write renders w into dir as its HTML file, weekly-<job>-<date>.html, and
// returns the file's path.
func Write(w *Weekly, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create report dir: %w", err)
	}
	var buf bytes.Buffer
	if err := w.WriteHTML(&buf); err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName(w.Job, w.From, "html"))
	return path, writeFileAtomic(path, buf.Bytes())
}

// Generate builds the report of opts, writes its HTML into dir and, with
// a printer, its PDF. It returns the report and the files written.
func Generate(ctx context.Context, q Querier, ev EventLister, opts Options, dir string, pr *Printer) (*Weekly, []string, error) {
	w, err := Build(ctx, q, ev, opts)
	if err != nil {
		return nil, nil, err
	}
	html, err := Write(w, dir)
	if err != nil {
		return nil, nil, err
	}
	files := []string{html}
	if pr != nil {
		pdfs, err := pr.Print(ctx, html)
		files = append(files, pdfs...)
		if err != nil {
			return w, files, err
		}
	}
	return w, files, nil
}
