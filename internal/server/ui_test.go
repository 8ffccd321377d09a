package server

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// mixedStatus has one ready component and one that failed after start.
type mixedStatus struct{}

func (mixedStatus) Statuses() []component.Status {
	now := time.Now()
	return []component.Status{
		{Name: "store", State: component.StateRunning, Ready: true, Since: now.Add(-time.Hour)},
		{Name: "relay", State: component.StateRunning, Ready: false, Since: now.Add(-50 * time.Minute),
			Error: "shadow http://10.0.0.7:8080: connection refused", LastError: "shadow http://10.0.0.7:8080: connection refused", LastErrAt: now.Add(-2 * time.Minute)},
	}
}
func (mixedStatus) Ready() error {
	return errors.New("relay: shadow http://10.0.0.7:8080: connection refused")
}

// TestShellInChromium logs in with a token in a real browser, visits every
// page of the shell on a desktop, a phone and a TV, and saves screenshots
// to testdata/screens/. No page may throw or log an error.
func TestShellInChromium(t *testing.T) {
	_, ts := newTestServerWith(t, "", mixedStatus{})
	b := testkit.StartChromium(t)
	pages := []struct{ name, path, want string }{
		{"home", "/", "dandan"},
		{"status", "/status", "Component status"},
		{"config", "/config", "Configuration"},
		{"api", "/api-docs", "HTTP API"},
		{"part-disabled", "/relay", "Relay"},
		{"not-found", "/no/such/page", "404"},
	}
	for _, dev := range testkit.Devices() {
		t.Run(dev.Name, func(t *testing.T) {
			ctx := b.NewTab(t, 90*time.Second)
			var mu sync.Mutex
			var problems []string
			chromedp.Listen(ctx, func(ev any) {
				mu.Lock()
				defer mu.Unlock()
				switch e := ev.(type) {
				case *runtime.EventExceptionThrown:
					problems = append(problems, "exception: "+e.ExceptionDetails.Text)
				case *log.EventEntryAdded:
					expected := e.Entry.Source == "network" && (strings.HasSuffix(e.Entry.URL, "/login") || strings.HasSuffix(e.Entry.URL, "/no/such/page"))
					if e.Entry.Level == log.EntryLevelError && !expected {
						problems = append(problems, fmt.Sprintf("console %s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
					}
				case *runtime.EventConsoleAPICalled:
					if e.Type == runtime.ConsoleAPICalledTypeError {
						problems = append(problems, "console.error")
					}
				}
			})
			if err := chromedp.Do(ctx, dev.Emulate(), chromedp.Navigate(ts.URL+"/status")); err != nil {
				t.Fatal(err)
			}
			// Anonymous: sent to the login page, which keeps where we were going.
			loc, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil || !strings.Contains(loc, "/login?next=%2Fstatus") {
				t.Fatalf("anonymous visit landed at %s (%v)", loc, err)
			}
			b.Screenshot(t, ctx, "shell-"+dev.Name+"-login")
			// A wrong token shows an error; the right one logs in.
			if err := chromedp.Do(ctx, chromedp.SendKeys("#token", "not-a-token"), chromedp.Submit("#token"), chromedp.WaitVisible(".alert")); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(ctx, chromedp.SendKeys("#token", adminToken), chromedp.Submit("#token"), chromedp.WaitVisible("#components")); err != nil {
				t.Fatal(err)
			}
			text, err := chromedp.Run(ctx, chromedp.Text("#components"))
			if err != nil || !strings.Contains(text, "1 of 2 components not ready") || !strings.Contains(text, "connection refused") {
				t.Fatalf("status page does not show the failed component: %q %v", text, err)
			}
			for _, p := range pages {
				if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+p.path), chromedp.WaitVisible("main h1")); err != nil {
					t.Fatalf("%s: %v", p.path, err)
				}
				h1, err := chromedp.Run(ctx, chromedp.Text("main h1"))
				if err != nil || !strings.Contains(h1, p.want) {
					t.Errorf("%s: heading %q, want %q (%v)", p.path, h1, p.want, err)
				}
				b.Screenshot(t, ctx, "shell-"+dev.Name+"-"+p.name)
			}
			// The page does not scroll sideways, even on a phone.
			over, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("document.documentElement.scrollWidth > window.innerWidth + 1"))
			if err != nil || over {
				t.Errorf("page scrolls horizontally at %dpx (%v)", dev.Width, err)
			}
			if dev.Name == "desktop" {
				// The dark theme, chosen with its button, sticks.
				if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.Click(`[data-theme-set="dark"]`)); err != nil {
					t.Fatal(err)
				}
				theme, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.documentElement.dataset.theme"))
				if err != nil || theme != "dark" {
					t.Errorf("theme %q after clicking dark (%v)", theme, err)
				}
				b.Screenshot(t, ctx, "shell-desktop-home-dark")
				if err := chromedp.Do(ctx, chromedp.Click(`[data-theme-set="auto"]`)); err != nil {
					t.Fatal(err)
				}
			}
			if dev.Name == "tv" {
				if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/status?tv=1"), chromedp.WaitVisible("#components")); err != nil {
					t.Fatal(err)
				}
				b.Screenshot(t, ctx, "shell-tv-status-tvmode")
			}
			// Log out with the header's button: back to the login page.
			if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.Click(`form[action="/logout"] button`), chromedp.WaitVisible("#token")); err != nil {
				t.Fatalf("logout: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range problems {
				t.Errorf("browser reported: %s", p)
			}
		})
	}
}
