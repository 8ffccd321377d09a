package redis

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestPages drives the key search, key view and slow log pages in headless
// Chromium on a desktop and a phone, and checks that stored HTML renders
// as text.
func TestPages(t *testing.T) {
	skipShort(t)
	srv := testkit.StartRedis(t, "slowlog-log-slower-than 0")
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, ClientName: "ui-test"})
	t.Cleanup(func() { rdb.Close() })
	seed(t, rdb)
	h := newHarnessAs(t, standalone(srv.Addr, false), httpapi.Operator)
	browser := testkit.StartChromium(t)
	for _, dev := range []testkit.Device{testkit.Desktop(), testkit.Phone()} {
		t.Run(dev.Name, func(t *testing.T) {
			ctx := browser.NewTab(t, 60*time.Second)
			if err := chromedp.Do(ctx, dev.Emulate()); err != nil {
				t.Fatal(err)
			}
			// Key search, through the form and htmx.
			err := chromedp.Do(ctx,
				chromedp.Navigate(h.srv.URL+"/redis/local"),
				chromedp.WaitVisible(`input[name="pattern"]`),
				chromedp.SetValue(`input[name="pattern"]`, "str:*"),
				chromedp.Click(`form.rd-form button[type="submit"]`),
				chromedp.WaitVisible(`#rows tr td.rd-key a`),
			)
			if err != nil {
				t.Fatal(err)
			}
			if rows := testkit.Count(t, ctx, "#rows tr td.rd-key"); rows != 5 {
				t.Errorf("%d rows for str:*", rows)
			}
			if progress, err := chromedp.Run(ctx, chromedp.Text(`#progress`)); err != nil || !strings.Contains(progress, "Done") {
				t.Errorf("progress %q %v", progress, err)
			}
			if testkit.ScrollsSideways(t, ctx) {
				t.Error("the search page scrolls sideways")
			}
			browser.Screenshot(t, ctx, "search-"+dev.Name)

			// A whole-keyspace search in pages: auto-continues to min.
			err = chromedp.Do(ctx,
				chromedp.Navigate(h.srv.URL+"/redis/local?pattern=user:*&min=120"),
				chromedp.WaitVisible(`#rows tr td.rd-key a`),
			)
			if err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 10*time.Second, func() error {
				if n := testkit.Count(t, ctx, "#rows tr td.rd-key"); n < 120 {
					return fmt.Errorf("%d rows", n)
				}
				return nil
			})

			// Stored HTML is text, in a string and in a hash.
			for _, key := range []string{"str:html", "hash:big"} {
				err = chromedp.Do(ctx,
					chromedp.Navigate(h.srv.URL+"/redis/local/key?name="+url.QueryEscape(key)),
					chromedp.WaitVisible(`.rd-keycard`),
				)
				if err != nil {
					t.Fatal(err)
				}
				pwned, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__pwned !== undefined || document.querySelector("main script, main img") !== null`))
				if err != nil {
					t.Fatal(err)
				}
				text, err := chromedp.Run(ctx, chromedp.Text(`main`))
				if err != nil {
					t.Fatal(err)
				}
				if pwned || !strings.Contains(text, "<script>window.__pwned=") {
					t.Errorf("%s: stored HTML ran or vanished (pwned %v)", key, pwned)
				}
			}
			browser.Screenshot(t, ctx, "key-hash-"+dev.Name)
			// Paging a list: "Show more" appends rows.
			if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/redis/local/key?name=list:big"), chromedp.WaitVisible(`#more-items button`)); err != nil {
				t.Fatal(err)
			}
			before := testkit.Count(t, ctx, "#items tr")
			if err := chromedp.Do(ctx, chromedp.Click(`#more-items button`)); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 5*time.Second, func() error {
				if after := testkit.Count(t, ctx, "#items tr"); after <= before {
					return fmt.Errorf("%d rows after, %d before", after, before)
				}
				return nil
			})
			err = chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/redis/local/key?name=str:json"), chromedp.WaitVisible(`.rd-value`))
			if err != nil {
				t.Fatal(err)
			}
			browser.Screenshot(t, ctx, "key-json-"+dev.Name)

			// The slow log shows the test's own command and client name.
			if err := rdb.Echo(context.Background(), "ui-marker-"+dev.Name).Err(); err != nil {
				t.Fatal(err)
			}
			err = chromedp.Do(ctx,
				chromedp.Navigate(h.srv.URL+"/redis/local/slowlog"),
				chromedp.WaitVisible(`table.rd-slowlog`),
			)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := chromedp.Run(ctx, chromedp.Text(`table.rd-slowlog`))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(slow, "ui-test") || !strings.Contains(slow, `"ui-marker-`+dev.Name+`"`) {
				t.Errorf("slow log lacks the test's commands:\n%.500s", slow)
			}
			browser.Screenshot(t, ctx, "slowlog-"+dev.Name)

			for _, page := range []string{"clients", "cluster", "info", "config", "bigkeys"} {
				if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/redis/local/"+page), chromedp.WaitVisible(`.rd-tabs`)); err != nil {
					t.Fatal(err)
				}
				if page == "info" {
					testkit.Eventually(t, 10*time.Second, func() error {
						if n := testkit.Count(t, ctx, ".rd-chart canvas"); n < 4 {
							return fmt.Errorf("%d charts drawn", n)
						}
						return nil
					})
				}
				browser.Screenshot(t, ctx, page+"-"+dev.Name)
			}
		})
	}
}
