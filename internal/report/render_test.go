package report

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestFiles writes the reports of the fixture's week as HTML and PDF,
// turns the PDF pages into PNGs (testdata/screens/weekly-*.png) and takes
// a Chromium screenshot of the HTML, to be looked at; it checks the HTML
// is self-contained and the PDF is A4.
func TestFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	f := loadFixture(t)
	dir := t.TempDir()
	browser := testkit.StartChromium(t)
	for _, job := range []string{"web", ""} {
		name := FileName(job, weekFrom, "")
		name = strings.TrimSuffix(name, ".")
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			w, files, err := Generate(context.Background(), f.svc, f.events, Options{Job: job, From: weekFrom, To: weekTo, Location: kst}, dir, &Printer{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: queries %s, HTML and PDF %s", name, w.Took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
			if len(files) != 2 || filepath.Base(files[0]) != name+".html" || filepath.Base(files[1]) != name+".pdf" {
				t.Fatalf("files %v", files)
			}
			html, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			selfContained(t, html)
			for _, want := range []string{fmtCount(w.Cur.Requests), fmtRate(w.Cur.PeakRPS), fmtWhen(spikeCur), "/api/items", "HighErrorRate", "web-1"} {
				if !bytes.Contains(html, []byte(want)) {
					t.Errorf("HTML lacks %q", want)
				}
			}
			if n := bytes.Count(html, []byte("<svg")); n != 7 {
				t.Errorf("%d charts, want 7", n)
			}
			pdf, err := os.ReadFile(files[1])
			if err != nil {
				t.Fatal(err)
			}
			// A4 is 595×842 points.
			if !regexp.MustCompile(`/MediaBox \[0 0 59[45]\.\d* 84[12]\.\d*\]`).Match(pdf) {
				t.Errorf("PDF is not A4: %q", regexp.MustCompile(`/MediaBox \[[^]]*\]`).Find(pdf))
			}
			pages := testkit.PDFPages(t, files[1], name, 60)
			if len(pages) < 3 || len(pages) > 6 {
				t.Errorf("%d PDF pages, want 3 to 6", len(pages))
			}
			ctx := browser.NewTab(t, 60*time.Second)
			u := (&url.URL{Scheme: "file", Path: files[0]}).String()
			if err := chromedp.Do(ctx, testkit.Viewport(1024, 800), chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(`header.top h1`))); err != nil {
				t.Fatal(err)
			}
			browser.Screenshot(t, ctx, name+"-html")
			if job == "" {
				if err := chromedp.Do(ctx, testkit.Phone().Emulate(), chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(`header.top h1`))); err != nil {
					t.Fatal(err)
				}
				browser.Screenshot(t, ctx, name+"-phone")
			}
		})
	}
	// A week without data: every chart says so, the PDF still prints.
	t.Run("empty", func(t *testing.T) {
		from := time.Date(2025, 6, 2, 0, 0, 0, 0, kst)
		w, files, err := Generate(context.Background(), f.svc, nil, Options{Job: "web", From: from, To: from.AddDate(0, 0, 7), Location: kst}, dir, &Printer{})
		if err != nil {
			t.Fatal(err)
		}
		html, _ := os.ReadFile(files[0])
		if n := bytes.Count(html, []byte(`class="nodata"`)); n != 7 {
			t.Errorf("%d charts say %q, want 7", n, NoData)
		}
		if len(w.Notes) != 1 || !bytes.Contains(html, []byte("Alerts: no event log to read.")) {
			t.Errorf("notes %v", w.Notes)
		}
		testkit.PDFPages(t, files[1], "weekly-empty", 60)
	})
}

// selfContained fails on anything a report would load: scripts, links,
// sources, URLs other than the SVG namespace.
func selfContained(t *testing.T, html []byte) {
	t.Helper()
	for _, bad := range []string{"<script", "<link", " src=", "url(", "@import"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("HTML holds %q", bad)
		}
	}
	for _, m := range regexp.MustCompile(`https?://[^"' <]+`).FindAll(html, -1) {
		if string(m) != "http://www.w3.org/2000/svg" {
			t.Errorf("HTML refers to %s", m)
		}
	}
}

// TestPrinterMissingBrowser names the setting to fix.
func TestPrinterMissingBrowser(t *testing.T) {
	dir := t.TempDir()
	html := filepath.Join(dir, "x.html")
	if err := os.WriteFile(html, []byte("<p>x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Printer{Chromium: filepath.Join(dir, "no-chromium")}.Print(context.Background(), html)
	if err == nil || !strings.Contains(err.Error(), "report.chromium") {
		t.Fatalf("error %v, want one naming report.chromium", err)
	}
}
