package watch

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/testkit"
	"github.com/dandan-sre/dandan/internal/ui"
)

// TestPages drives the jobs page and the PromQL page in headless Chromium
// on a desktop, a phone and a TV, with the demo source and host metrics
// feeding a real store.
func TestPages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	dir := t.TempDir()
	svc := metricstore.NewService(filepath.Join(dir, "metrics"), metricstore.Options{})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop(context.Background()) })
	assets, err := ui.NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	u, err := ui.New(assets, ui.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Interval = 200 * 1e6
	cfg.Host.Interval = 1e9
	cfg.Demo = DemoConfig{Enabled: true, Rate: 400}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := NewAgent(component.Deps{Logger: slog.New(slog.DiscardHandler), DataDir: filepath.Join(dir, "watch"),
		Registerer: prometheus.NewRegistry(), Metrics: svc, Query: svc, UI: u}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := httpapi.NewMux(httpapi.Options{Pages: u})
	mux.Handle("GET /static/", httpapi.Public, assets)
	svc.Mount(mux)
	a.Mount(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(httpapi.WithIdentity(r.Context(), &httpapi.Identity{Name: "tester", Role: httpapi.Viewer})))
	}))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Stop(ctx)
	})
	// Wait for figures: a minute's rate needs two commits.
	testkit.Eventually(t, 20*time.Second, func() error {
		for _, j := range a.jobViews(context.Background()) {
			if j.Name == "demo" && j.RequestRate != nil && j.P95 != nil {
				return nil
			}
		}
		return fmt.Errorf("no demo figures yet")
	})
	browser := testkit.StartChromium(t)
	for _, dev := range testkit.Devices() {
		t.Run(dev.Name, func(t *testing.T) {
			ctx := browser.NewTab(t, 60*time.Second)
			if err := chromedp.Do(ctx, dev.Emulate()); err != nil {
				t.Fatal(err)
			}
			q := ""
			if dev.Name == "tv" {
				q = "?tv=1"
			}
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/watch"+q), chromedp.WaitVisible(`table.wt-jobs`)); err != nil {
				t.Fatal(err)
			}
			text, err := chromedp.Run(ctx, chromedp.Text(`table.wt-jobs`))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"demo", "host"} {
				if !strings.Contains(text, want) {
					t.Errorf("jobs table lacks %q:\n%s", want, text)
				}
			}
			// A chart reloads every 30 s; right after the start its first
			// load may find too few samples for a rate.
			testkit.Eventually(t, 45*time.Second, func() error {
				if n := testkit.Count(t, ctx, ".chart canvas"); n < 1 {
					return fmt.Errorf("%d charts drawn", n)
				}
				return nil
			})
			if testkit.ScrollsSideways(t, ctx) {
				t.Error("the page scrolls sideways")
			}
			browser.Screenshot(t, ctx, "watch-"+dev.Name)

			// The rate links to the query page, which runs it.
			if err := chromedp.Do(ctx, chromedp.Click(`table.wt-jobs td.num a`), chromedp.WaitVisible(`form.wt-query`)); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 15*time.Second, func() error {
				if n := testkit.Count(t, ctx, ".chart canvas"); n < 1 {
					return fmt.Errorf("%d charts drawn", n)
				}
				return nil
			})
			rows := testkit.Count(t, ctx, "main table tbody tr")
			if rows < 1 {
				t.Errorf("no result rows")
			}
			if testkit.ScrollsSideways(t, ctx) {
				t.Error("the page scrolls sideways")
			}
			browser.Screenshot(t, ctx, "query-"+dev.Name)

			// A bad query shows the error, not a broken page.
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/watch/query?q="+url.QueryEscape("sum(")), chromedp.WaitVisible(`p.err`)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
