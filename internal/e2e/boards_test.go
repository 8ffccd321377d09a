package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dandan-sre/dandan/internal/testkit"
)

const (
	viewerToken = "viewer-token-0123456789"
	tvToken     = "tv-token-0123456789abcd"
)

// TestBoardFromNginx: requests driven through a real nginx are tailed by
// the watchdog into the store, and the built-in service board shows their
// exact total; the TV page keeps working across a dandan restart.
func TestBoardFromNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx, dandan and Chromium")
	}
	n := testkit.StartNginx(t, `log_format media '"$remote_addr" "$remote_user" [$time_local] "$request" $status $bytes_sent $request_time "$http_referer" "$http_user_agent"';
server {
	listen {{.Listen}};
	access_log {{.AccessLog}} media;
	location = /missing { return 404; }
	location = /boom { return 500; }
	location / { return 200 "ok"; }
}
`)
	d := testkit.StartDandan(t, `server:
  listen: {{.Listen}}
data_dir: {{.DataDir}}
log: {level: warn}
auth:
  login_link: false
  tokens:
    - {name: wall, role: tv, token: `+tvToken+`}
    - {name: dev, role: viewer, token: `+viewerToken+`}
watch:
  interval: 1s
  host: {enabled: false}
  jobs:
    - name: web
      files: [`+n.AccessLog+`]
      format: media-nginx
      from_start: true
boards:
  refresh: 2s
  tv: {refresh: 2s, interval: 1h}
`)
	sent := 0
	send := func(k int) {
		var wg sync.WaitGroup
		for i := range k {
			path := []string{"/article/" + strconv.Itoa(i), "/missing", "/boom", "/"}[i%4]
			wg.Go(func() {
				resp, err := http.Get(n.URL(path))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		wg.Wait()
		sent += k
	}
	send(137)

	browser := testkit.StartChromium(t)
	login := func(ctx context.Context, token string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(d.URL+"/login"), chromedp.WaitVisible("#token"),
			chromedp.SendKeys("#token", token), chromedp.Submit("#token"), chromedp.WaitNotPresent("#token")); err != nil {
			t.Fatal(err)
		}
	}
	bigNumbers := func(ctx context.Context) string {
		texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".bd-big")).map(e => e.textContent.trim())`))
		if err != nil {
			t.Fatal(err)
		}
		return " " + strings.Join(texts, " ") + " "
	}

	// The board, as a viewer.
	ctx := browser.NewTab(t, 90*time.Second)
	if err := chromedp.Do(ctx, testkit.Desktop().Emulate()); err != nil {
		t.Fatal(err)
	}
	login(ctx, viewerToken)
	testkit.Eventually(t, 30*time.Second, func() error {
		if err := chromedp.Do(ctx, chromedp.Navigate(d.URL+"/boards/service-web"), chromedp.WaitVisible(".bd-grid")); err != nil {
			return err
		}
		if got := bigNumbers(ctx); !strings.Contains(got, " "+strconv.Itoa(sent)+" ") {
			return fmt.Errorf("big numbers %q lack the total %d", got, sent)
		}
		return nil
	})
	browser.Screenshot(t, ctx, "e2e-board")

	// The TV, with a TV token: it may not open the board page itself.
	tv := browser.NewTab(t, 90*time.Second)
	if err := chromedp.Do(tv, testkit.TV().Emulate()); err != nil {
		t.Fatal(err)
	}
	login(tv, tvToken)
	if err := chromedp.Do(tv, chromedp.Navigate(d.URL+"/tv"), chromedp.WaitVisible(".bd-tvhead")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if got := bigNumbers(tv); !strings.Contains(got, " "+strconv.Itoa(sent)+" ") {
			return fmt.Errorf("TV big numbers %q lack the total %d", got, sent)
		}
		return nil
	})
	// Restart dandan under the open TV page: the page stays, says its data
	// is stale while dandan is away, and goes on with new numbers after.
	d.Restart(t)
	send(23)
	testkit.Eventually(t, 30*time.Second, func() error {
		if got := bigNumbers(tv); !strings.Contains(got, " "+strconv.Itoa(sent)+" ") {
			return fmt.Errorf("TV big numbers %q lack the new total %d", got, sent)
		}
		status, err := chromedp.Run(tv, chromedp.Evaluate[string](`document.querySelector(".bd-status").textContent`))
		if err != nil {
			return err
		}
		if strings.Contains(status, "stale") {
			return fmt.Errorf("still stale: %q", status)
		}
		return nil
	})
	browser.Screenshot(t, tv, "e2e-tv")
}
