package testkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
)

// Browser is a headless Chromium started by StartChromium.
type Browser struct {
	// URL is the DevTools WebSocket URL,
	// ws://127.0.0.1:PORT/devtools/browser/ID.
	URL string
	// Dir holds the profile in profile/ and the browser's output in
	// chromium.log.
	Dir string
}

// chromiumArgs are the browser's arguments: headless, off the network, with
// its profile in profile.
func chromiumArgs(profile string) []string {
	return []string{
		"--headless",
		"--no-sandbox",
		"--disable-gpu",
		"--disable-quic",
		"--no-first-run",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-default-apps",
		"--disable-extensions",
		"--mute-audio",
		"--remote-debugging-port=0",
		"--remote-debugging-address=127.0.0.1",
		"--user-data-dir=" + profile,
		"about:blank",
	}
}

// devToolsLine finds the WebSocket URL in the browser's output.
var devToolsLine = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// StartChromium starts headless Chromium with a new profile in a temporary
// directory and returns once it prints its DevTools URL. It is stopped when
// the test ends. Open tabs with NewTab.
func StartChromium(t testing.TB) *Browser {
	t.Helper()
	bin := "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		bin = lookPath(t, "chromium", "chromium")
	}
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile")
	log := filepath.Join(dir, "chromium.log")
	p, err := start(t, procOpts{
		dir: dir,
		log: log,
		env: []string{
			"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
			"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		},
	}, bin, chromiumArgs(profile)...)
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &Browser{Dir: dir}
	err = waitReady(p, func() error {
		out, err := os.ReadFile(log)
		if err != nil {
			return err
		}
		m := devToolsLine.FindSubmatch(out)
		if m == nil {
			return fmt.Errorf("no %q line in %s yet", "DevTools listening on", log)
		}
		b.URL = string(m[1])
		return nil
	})
	if err != nil {
		p.stop()
		t.Fatalf("start chromium in %s: %v\n%s", dir, err, tail(log))
	}
	return b
}

// NewTab opens a new tab in the browser and returns its chromedp context. The
// context ends after timeout, which bounds everything the test does in the
// tab; the tab is closed when the test ends.
func (b *Browser) NewTab(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := remote.NewAllocator(context.Background(), b.URL, remote.NoModifyURL)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		chromedp.FromContext(allocCtx).Allocator.Wait()
	})
	// The first run opens the tab and binds the tab to the context it gets,
	// so it must not get the one with the timeout; see chromedp.NewContext.
	opened := make(chan error, 1)
	go func() { opened <- chromedp.Do(tabCtx) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("open tab in chromium %s: %v", b.URL, err)
		}
	case <-timer.C:
		cancelTab()
		<-opened
		t.Fatalf("open tab in chromium %s: not open after %v", b.URL, timeout)
	}
	ctx, cancel := context.WithTimeout(tabCtx, timeout)
	t.Cleanup(cancel)
	return ctx
}

// Screenshot writes a PNG of the whole page in the tab ctx to
// testdata/screens/<name>.png of the test's package directory, creating the
// directory. name may hold slashes to make subdirectories.
func (b *Browser) Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join("testdata", "screens", filepath.FromSlash(name)+".png")
	if !strings.HasPrefix(path, filepath.Join("testdata", "screens")+string(filepath.Separator)) {
		t.Fatalf("screenshot %s: name leaves testdata/screens", name)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
}

// Viewport sets the tab's viewport to w×h CSS pixels at scale 1, as a
// desktop browser.
func Viewport(w, h int) chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(int64(w), int64(h))
}

// Device is a screen that pages are checked on.
type Device struct {
	// Name names the device in screenshot names: "desktop", "phone", "tv".
	Name string
	// Width and Height are the viewport in CSS pixels.
	Width, Height int
	// Scale is the device pixel ratio.
	Scale float64
	// Mobile turns on mobile emulation and touch.
	Mobile bool
}

// Desktop is a 1280×800 desktop browser.
func Desktop() Device { return Device{Name: "desktop", Width: 1280, Height: 800, Scale: 1} }

// Phone is a 390×844 phone at scale 3 with mobile emulation and touch.
func Phone() Device { return Device{Name: "phone", Width: 390, Height: 844, Scale: 3, Mobile: true} }

// TV is a 1920×1080 television screen.
func TV() Device { return Device{Name: "tv", Width: 1920, Height: 1080, Scale: 1} }

// Devices returns Desktop, Phone and TV, for tests that check a page on each.
func Devices() []Device { return []Device{Desktop(), Phone(), TV()} }

// Emulate returns the action that makes a tab emulate d.
func (d Device) Emulate() chromedp.Action[chromedp.Void] {
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(d.Scale)}
	if d.Mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	return chromedp.EmulateViewport(int64(d.Width), int64(d.Height), opts...)
}

// Count returns how many elements in the tab match the CSS selector.
func Count(t testing.TB, ctx context.Context, selector string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(selector)+`).length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// ScrollsSideways reports whether the tab's page is wider than its
// window: a layout that does not fit a phone.
func ScrollsSideways(t testing.TB, ctx context.Context) bool {
	t.Helper()
	over, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("document.documentElement.scrollWidth > window.innerWidth + 1"))
	if err != nil {
		t.Fatal(err)
	}
	return over
}
