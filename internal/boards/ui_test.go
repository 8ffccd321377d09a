package boards

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestPages draws the built-in board on a desktop and a phone and the TV
// page on a TV in headless Chromium, with an hour of known data.
func TestPages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	cfg := DefaultConfig()
	cfg.Services = map[string]*Capacity{"web": {RPSPerInstance: 5, Instances: 2}}
	h := newHarness(t, cfg)
	total := h.feed(t, "web")
	h.events.Record(context.Background(), events.Event{Time: time.Now().Add(-20 * time.Minute), Part: "alerts", Kind: "alert", Severity: events.Critical,
		Text: "HighErrorRate on web", Labels: map[string]string{"job": "web"}, Lasting: true, End: time.Now().Add(-12 * time.Minute)})
	h.events.Record(context.Background(), events.Event{Time: time.Now().Add(-40 * time.Minute), Part: "dandan", Kind: "start", Text: "dandan started", Labels: map[string]string{"job": "web"}})
	browser := testkit.StartChromium(t)
	for _, dev := range testkit.Devices() {
		t.Run(dev.Name, func(t *testing.T) {
			ctx := browser.NewTab(t, 60*time.Second)
			if err := chromedp.Do(ctx, dev.Emulate()); err != nil {
				t.Fatal(err)
			}
			path := "/boards/service-web"
			if dev.Name == "tv" {
				path = "/tv/service-web?tv=1"
			}
			if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+path), chromedp.WaitVisible(`.bd-grid`)); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 20*time.Second, func() error {
				if n := testkit.Count(t, ctx, ".bd-big"); n < 5 {
					return fmt.Errorf("%d big numbers", n)
				}
				want := 8 // time series, status mix, heatmap; fewer fit a TV
				if dev.Name == "tv" {
					want = 4
				}
				if n := testkit.Count(t, ctx, ".chart:not(.bd-spark) canvas"); n < want {
					return fmt.Errorf("%d charts drawn", n)
				}
				return nil
			})
			texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".bd-big")).map(e => e.textContent.trim())`))
			if err != nil {
				t.Fatal(err)
			}
			if want := FormatValue(total, ""); !strings.Contains(strings.Join(texts, " "), want) {
				t.Errorf("big numbers %q lack the total %s", texts, want)
			}
			if testkit.ScrollsSideways(t, ctx) {
				t.Error("the page scrolls sideways")
			}
			if dev.Name != "tv" {
				testkit.Eventually(t, 10*time.Second, func() error {
					if n := testkit.Count(t, ctx, ".bd-ev"); n < 2 {
						return fmt.Errorf("%d events listed", n)
					}
					return nil
				})
			}
			browser.Screenshot(t, ctx, "board-"+dev.Name)
		})
	}
}
