package report

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// Printer prints report files to PDF with headless Chromium, A4 portrait,
// with the page number in the footer.
type Printer struct {
	// Chromium is the browser's path or name in PATH; empty finds
	// chromium, chromium-browser or google-chrome.
	Chromium string
	// Timeout bounds one Print call; 0 means 2 minutes.
	Timeout time.Duration
}

// pdfFooter is the footer of every page: the report's title and the page.
const pdfFooter = `<div style="width:100%;margin:0 11mm;font:8px 'Liberation Sans',Arial,sans-serif;color:#4b5563;display:flex;justify-content:space-between">` +
	`<span class="title"></span><span>page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>`

// Print writes, for each HTML file, the PDF beside it (report.html →
// report.pdf), starting one browser for all of them. It returns the PDF
// paths.
func (p Printer) Print(ctx context.Context, htmlFiles ...string) ([]string, error) {
	if len(htmlFiles) == 0 {
		return nil, nil
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-component-update", true),
	)
	if p.Chromium != "" {
		opts = append(opts, chromedp.ExecPath(p.Chromium))
	}
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox (containers).
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		return nil, fmt.Errorf("start chromium: %w (set report.chromium to its path, or install it: apt-get install chromium)", err)
	}
	var out []string
	for _, src := range htmlFiles {
		dst := strings.TrimSuffix(src, filepath.Ext(src)) + ".pdf"
		if err := printOne(bctx, src, dst); err != nil {
			return out, err
		}
		out = append(out, dst)
	}
	return out, nil
}

func printOne(bctx context.Context, src, dst string) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("print %s: %w", src, err)
	}
	tctx, cancel := chromedp.NewContext(bctx)
	defer cancel()
	u := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	if err := chromedp.Do(tctx, chromedp.Navigate(u)); err != nil {
		return fmt.Errorf("print %s: open in chromium: %w", src, err)
	}
	pdf, err := chromedp.Run(tctx, chromedp.PrintToPDF(
		chromedp.PDFPaper(chromedp.PaperA4),
		chromedp.PDFMargins(0.45, 0, 0.5, 0),
		chromedp.PDFPrintBackground(),
		chromedp.PDFHeaderTemplate(`<span></span>`),
		chromedp.PDFFooterTemplate(pdfFooter),
		chromedp.PDFOutlineAndTagged(),
	))
	if err != nil {
		return fmt.Errorf("print %s: %w", src, err)
	}
	if len(pdf) == 0 {
		return errors.New("print " + src + ": chromium returned an empty PDF")
	}
	return writeFileAtomic(dst, pdf)
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so that a reader never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
