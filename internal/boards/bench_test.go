package boards

// The issue's benchmark: "a board of 12 panels over 7 days of 15-second
// data for 200 paths renders (all queries answered and drawn) within 1 s
// here, and a TV page left open for an hour of fast refresh keeps a flat
// JS heap". bench/boards.sh runs all three:
//
//	BenchmarkBoard7Days   the board's requests over HTTP, 6 at a time (go test -bench)
//	TestBenchBoardDrawn   the board drawn in headless Chromium (DANDAN_BENCH=1)
//	TestBenchTVHeap       the TV page's JS heap over time (DANDAN_BENCH=1,
//	                      DANDAN_BENCH_TV_MINUTES, 60 by default)
//
// The data (benchdata_test.go) is generated once and cached under
// os.TempDir()/dandan-bench-board7d.

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/heapprofiler"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/sqlstore"
	"github.com/dandan-sre/dandan/internal/testkit"
	"github.com/dandan-sre/dandan/internal/ui"
)

// Goals of the issue.
const (
	goalBoard      = time.Second // board answered and drawn
	goalHeapGrowth = 10.0        // % from minute 2 to the end
	browserConns   = 6           // requests a browser runs at once to one host
)

// newBenchHarness is newHarness on an open metric store that outlives it.
// It also returns the server's request counts.
func newBenchHarness(tb testing.TB, cfg *Config, svc *metricstore.Service) (*harness, *reqStats) {
	tb.Helper()
	dir := tb.TempDir()
	db, err := sqlstore.Open(context.Background(), "", dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	evs := events.New(db, nil)
	if err := evs.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	assets, err := ui.NewAssets()
	if err != nil {
		tb.Fatal(err)
	}
	u, err := ui.New(assets, ui.Options{Version: "bench"})
	if err != nil {
		tb.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	b, err := New(component.Deps{Logger: slog.New(slog.DiscardHandler), DataDir: filepath.Join(dir, "boards"), SQL: db, Metrics: svc, Query: svc, Events: evs, UI: u}, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Stop(context.Background()) })
	mux := httpapi.NewMux(httpapi.Options{Pages: u})
	mux.Handle("GET /static/", httpapi.Public, assets)
	svc.Mount(mux)
	evs.Mount(mux)
	b.Mount(mux)
	stats := &reqStats{by: map[string]*reqStat{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		mux.ServeHTTP(w, r.WithContext(httpapi.WithIdentity(r.Context(), &httpapi.Identity{Name: "bench", Role: httpapi.Viewer})))
		stats.add(r.URL.Path, time.Since(start))
	}))
	tb.Cleanup(srv.Close)
	return &harness{srv: srv, b: b, store: svc, events: evs}, stats
}

// reqStats counts the server's requests by kind, with their time.
type reqStats struct {
	mu sync.Mutex
	by map[string]*reqStat
}

type reqStat struct {
	n          int
	total, max time.Duration
}

func (s *reqStats) add(path string, d time.Duration) {
	kind := "other"
	switch {
	case path == "/api/v1/query_range":
		kind = "query_range"
	case strings.Contains(path, "/panel/"):
		kind = "panel"
	case strings.HasPrefix(path, "/boards/") || strings.HasPrefix(path, "/tv/"):
		kind = "page"
	case strings.HasPrefix(path, "/static/"):
		kind = "static"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.by[kind]
	if st == nil {
		st = &reqStat{}
		s.by[kind] = st
	}
	st.n++
	st.total += d
	st.max = max(st.max, d)
}

// take returns a summary of the requests since the last take and resets.
func (s *reqStats) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kinds []string
	for k := range s.by {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		st := s.by[k]
		parts = append(parts, fmt.Sprintf("%s %d (mean %v, max %v)", k, st.n, (st.total/time.Duration(st.n)).Round(time.Millisecond), st.max.Round(time.Millisecond)))
	}
	s.by = map[string]*reqStat{}
	return strings.Join(parts, ", ")
}

// ---- the board's requests, as a browser makes them ----

// benchReq is one request of the board page.
type benchReq struct {
	Kind  string // page, query_range, panel, events
	Label string // the query or the URL
	URL   string
	Form  url.Values // POSTed when set
}

var (
	divTag = regexp.MustCompile(`<div ([^>]*)>`)
	attrRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9-]*)="([^"]*)"`)
)

func attrs(tag string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(tag, -1) {
		m[a[1]] = html.UnescapeString(a[2])
	}
	return m
}

// chartStep returns chart.js's start, end and step (seconds) for a range:
// about 240 points, end aligned to the step (see chart.js load()).
func chartStep(rng string, now time.Time) (start, end, step int64) {
	d, err := time.ParseDuration(strings.Replace(strings.Replace(rng, "d", "h", 1), "w", "h", 1))
	secs := d.Seconds()
	switch {
	case strings.HasSuffix(rng, "d"):
		secs *= 24
	case strings.HasSuffix(rng, "w"):
		secs *= 24 * 7
	}
	if err != nil || secs <= 0 {
		secs = 3600
	}
	step = max(1, int64(math.Round(secs/240)))
	end = now.Unix() / step * step
	start = end - int64(math.Ceil(secs/float64(step)))*step
	return
}

// boardRequests returns what the board page at path asks for once loaded:
// every chart's query_range (sparklines included) and events, and every
// stat and table panel's fragment.
func boardRequests(tb testing.TB, pageHTML string, now time.Time) []benchReq {
	tb.Helper()
	var out []benchReq
	for _, m := range divTag.FindAllStringSubmatch(pageHTML, -1) {
		a := attrs(m[1])
		cls := " " + a["class"] + " "
		switch {
		case strings.Contains(cls, " chart "):
			var qs []Query
			if err := json.Unmarshal([]byte(a["data-queries"]), &qs); err != nil {
				tb.Fatalf("data-queries %q: %v", a["data-queries"], err)
			}
			start, end, step := chartStep(a["data-range"], now)
			for _, q := range qs {
				out = append(out, benchReq{Kind: "query_range", Label: q.Expr, URL: "/api/v1/query_range", Form: url.Values{
					"query": {WithRateInterval(q.Expr, rangeDuration(a["data-range"]))}, "start": {strconv.FormatInt(start, 10)}, "end": {strconv.FormatInt(end, 10)}, "step": {strconv.FormatInt(step, 10)}}})
			}
			if ev := a["data-events"]; ev != "" {
				sep := "?"
				if strings.Contains(ev, "?") {
					sep = "&"
				}
				u := ev + sep + "from=" + strconv.FormatInt(start, 10) + "&to=" + strconv.FormatInt(end, 10)
				out = append(out, benchReq{Kind: "events", Label: u, URL: u})
			}
		case strings.Contains(cls, " bd-frag ") && a["hx-get"] != "":
			out = append(out, benchReq{Kind: "panel", Label: a["hx-get"], URL: a["hx-get"]})
		case a["hx-get"] != "":
			out = append(out, benchReq{Kind: "htmx", Label: a["hx-get"], URL: a["hx-get"]})
		}
	}
	return out
}

// do makes one request and checks its answer.
func do(client *http.Client, base string, r benchReq) error {
	var req *http.Request
	if r.Form != nil {
		req, _ = http.NewRequest("POST", base+r.URL, strings.NewReader(r.Form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest("GET", base+r.URL, nil)
	}
	if r.Kind == "panel" || r.Kind == "htmx" {
		req.Header.Set("HX-Request", "true")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode != 200:
		return fmt.Errorf("%s %s: %d %.300s", r.Kind, r.Label, resp.StatusCode, body)
	case r.Kind == "query_range" && !strings.Contains(string(body[:min(len(body), 40)]), `"success"`):
		return fmt.Errorf("%s %s: %.300s", r.Kind, r.Label, body)
	case r.Kind == "panel" && strings.Contains(string(body), `data-stale`):
		return fmt.Errorf("%s %s: %.300s", r.Kind, r.Label, body)
	}
	return nil
}

// loadBoard fetches the page at path, then all its requests, conns at a
// time, as a browser does; it returns the time it took.
func loadBoard(client *http.Client, base, path string, conns int, reqs []benchReq) (time.Duration, error) {
	start := time.Now()
	if err := do(client, base, benchReq{Kind: "page", Label: path, URL: path}); err != nil {
		return 0, err
	}
	work := make(chan benchReq)
	errc := make(chan error, len(reqs))
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for r := range work {
				if err := do(client, base, r); err != nil {
					errc <- err
				}
			}
		})
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// BenchmarkBoard7Days answers every request of the built-in service board
// for range=7d over HTTP, 6 at a time: the page, each chart's query_range
// at chart.js's step (sparklines included), the stat and table panels'
// fragments (instant queries) and the events.
func BenchmarkBoard7Days(b *testing.B) {
	b.StopTimer()
	d := openBenchData(b)
	h, _ := newBenchHarness(b, DefaultConfig(), d.svc)
	path := "/boards/service-" + benchJob + "?range=7d"
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: browserConns, MaxIdleConnsPerHost: browserConns}}
	pageHTML := fetch(b, client, h.srv.URL+path)
	reqs := boardRequests(b, pageHTML, time.Now())
	if n := countKind(reqs, "query_range"); n < 12 {
		b.Fatalf("%d range queries on the board, want 12 or more", n)
	}
	// One untimed round, one request at a time, warms the page cache and
	// shows each request's own time.
	logSlowest(b, client, h.srv.URL, path, reqs)

	b.ResetTimer()
	b.StartTimer()
	var total time.Duration
	for b.Loop() {
		took, err := loadBoard(client, h.srv.URL, path, browserConns, reqs)
		if err != nil {
			b.Fatal(err)
		}
		total += took
	}
	b.StopTimer()
	ms := float64(total.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(ms, "ms/board")
	b.ReportMetric(float64(len(reqs)+1), "requests/board")
	b.Logf("BENCH board %s over HTTP, %d at a time: %d requests (page, %d query_range, %d panel fragments, %d other htmx, %d events) in %.0f ms; goal ≤ %v: %s",
		path, browserConns, len(reqs)+1, countKind(reqs, "query_range"), countKind(reqs, "panel"), countKind(reqs, "htmx"), countKind(reqs, "events"), ms, goalBoard, verdict(ms <= float64(goalBoard.Milliseconds())))
}

func countKind(reqs []benchReq, kind string) int {
	n := 0
	for _, r := range reqs {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

func fetch(tb testing.TB, client *http.Client, u string) string {
	tb.Helper()
	resp, err := client.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		tb.Fatalf("GET %s: %d %.300s", u, resp.StatusCode, body)
	}
	return string(body)
}

// logSlowest times every request alone and logs them, slowest first.
func logSlowest(tb testing.TB, client *http.Client, base, path string, reqs []benchReq) {
	type timed struct {
		r benchReq
		d time.Duration
	}
	all := []benchReq{{Kind: "page", Label: path, URL: path}}
	all = append(all, reqs...)
	var ts []timed
	var sum time.Duration
	for _, r := range all {
		start := time.Now()
		if err := do(client, base, r); err != nil {
			tb.Fatal(err)
		}
		ts = append(ts, timed{r, time.Since(start)})
		sum += ts[len(ts)-1].d
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].d > ts[j].d })
	var sb strings.Builder
	fmt.Fprintf(&sb, "each request alone (sum %v):", sum.Round(time.Millisecond))
	for _, t := range ts {
		fmt.Fprintf(&sb, "\n  %7.1f ms  %-11s %.110s", float64(t.d.Microseconds())/1000, t.r.Kind, t.r.Label)
	}
	// Printed, not logged: a benchmark's log is cut to a few lines.
	fmt.Println(sb.String())
}

// ---- in Chromium ----

func benchEnabled(t *testing.T) {
	if os.Getenv("DANDAN_BENCH") != "1" {
		t.Skip("a benchmark: set DANDAN_BENCH=1 (bench/boards.sh)")
	}
}

// drawnProbe runs in the page before its own scripts: it notes, with
// performance.now() (ms since navigation start), when every .chart has a
// canvas or a message and every stat and table fragment is filled, and
// the next frame after that. It also counts live setInterval timers.
const drawnProbe = `(function () {
  var si = window.setInterval, ci = window.clearInterval, live = new Set();
  window.setInterval = function () { var id = si.apply(this, arguments); live.add(id); return id; };
  window.clearInterval = function (id) { live.delete(id); return ci.apply(this, arguments); };
  var B = window.__bench = { done: 0, painted: 0, intervals: function () { return live.size; } };
  function ready() {
    if (document.readyState === "loading") return false;
    var charts = document.querySelectorAll(".chart");
    if (!charts.length) return false;
    for (var i = 0; i < charts.length; i++) {
      var c = charts[i], msg = c.querySelector(".chart-msg");
      if (!c.querySelector("canvas") && !(msg && msg.textContent)) return false;
    }
    var frags = document.querySelectorAll(".bd-frag");
    for (var j = 0; j < frags.length; j++) {
      var big = frags[j].querySelector(".bd-big");
      if (big ? !big.textContent.trim() : !frags[j].querySelector("table, .bd-nodata, .err")) return false;
    }
    return true;
  }
  var obs = new MutationObserver(function () {
    if (B.done || !ready()) return;
    B.done = performance.now();
    obs.disconnect();
    requestAnimationFrame(function () { B.painted = performance.now(); });
  });
  obs.observe(document, { childList: true, subtree: true, characterData: true });
})();`

// drawnState is what the probe saw, read after the board is drawn.
type drawnState struct {
	Done, Painted    float64
	Charts, Canvases int
	Messages         []string
	Bigs             []string
	Queries          int     // query_range requests
	QueriesEnd       float64 // when the last one was answered (ms)
	SlowestQuery     float64 // ms
	Fragments        int
	FragmentsEnd     float64
	DOMContentLoaded float64
}

const drawnStateJS = `(function () {
  var B = window.__bench || {};
  var res = performance.getEntriesByType("resource");
  var q = res.filter(function (e) { return e.name.indexOf("/api/v1/query_range") >= 0; });
  var f = res.filter(function (e) { return e.name.indexOf("/panel/") >= 0; });
  var end = function (es) { return es.reduce(function (m, e) { return Math.max(m, e.responseEnd); }, 0); };
  var nav = performance.getEntriesByType("navigation")[0] || {};
  return {
    Done: B.done || 0, Painted: B.painted || 0,
    Charts: document.querySelectorAll(".chart").length,
    Canvases: document.querySelectorAll(".chart canvas").length,
    Messages: Array.from(document.querySelectorAll(".chart-msg")).map(function (e) { return e.textContent; }),
    Bigs: Array.from(document.querySelectorAll(".bd-big")).map(function (e) { return e.textContent.trim(); }),
    Queries: q.length, QueriesEnd: end(q),
    SlowestQuery: q.reduce(function (m, e) { return Math.max(m, e.duration); }, 0),
    Fragments: f.length, FragmentsEnd: end(f),
    DOMContentLoaded: nav.domContentLoadedEventEnd || 0,
  };
})()`

// TestBenchBoardDrawn opens the built-in board for 7 days in headless
// Chromium (desktop) 5 times and reports the median time from navigation
// start to every chart drawn and every big number filled; then the same
// for 1 hour, for comparison (the page's own cost, with cheap queries).
// A load not drawn within drawnTimeout ends the range's runs: the goal is
// missed, the test does not fail.
func TestBenchBoardDrawn(t *testing.T) {
	benchEnabled(t)
	d := openBenchData(t)
	d.feedLiveUntilEnd(t)
	h, _ := newBenchHarness(t, DefaultConfig(), d.svc)
	browser := testkit.StartChromium(t)
	ctx := browser.NewTab(t, 7*drawnTimeout)
	if err := chromedp.Do(ctx, testkit.Desktop().Emulate()); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: drawnProbe}); err != nil {
		t.Fatal(err)
	}
	for _, rng := range []string{"7d", "1h"} {
		u := h.srv.URL + "/boards/service-" + benchJob + "?range=" + rng
		var times []float64
		for run := 1; run <= 5; run++ {
			st := drawOnce(t, ctx, u)
			t.Logf("range=%s run %d: drawn at %.0f ms (all present %.0f ms; DOMContentLoaded %.0f ms; %d query_range, last answered at %.0f ms, slowest %.0f ms; %d fragments, last at %.0f ms); %d charts, %d canvases, messages %q; big numbers %q",
				rng, run, st.Painted, st.Done, st.DOMContentLoaded, st.Queries, st.QueriesEnd, st.SlowestQuery, st.Fragments, st.FragmentsEnd, st.Charts, st.Canvases, st.Messages, st.Bigs)
			if st.Painted == 0 {
				browser.Screenshot(t, ctx, "bench/board-"+rng+"-not-drawn")
				times = append(times, math.Inf(1))
				break
			}
			times = append(times, st.Painted)
			if st.Canvases+len(st.Messages) < st.Charts {
				t.Errorf("range=%s run %d: %d charts, %d canvases and %d messages", rng, run, st.Charts, st.Canvases, len(st.Messages))
			}
		}
		var msg string
		if last := times[len(times)-1]; math.IsInf(last, 1) {
			msg = fmt.Sprintf("BENCH board drawn (Chromium, desktop, range=%s): NOT DRAWN within %v (run %d); goal ≤ %v: MISSED", rng, drawnTimeout, len(times), goalBoard)
		} else {
			browser.Screenshot(t, ctx, "bench/board-"+rng)
			sorted := slices.Clone(times)
			slices.Sort(sorted)
			med := sorted[len(sorted)/2]
			msg = fmt.Sprintf("BENCH board drawn (Chromium, desktop, range=%s): median %.0f ms of %v ms; goal ≤ %v: %s",
				rng, med, roundAll(times), goalBoard, verdict(med <= float64(goalBoard.Milliseconds())))
		}
		if rng != "7d" {
			msg += " (for comparison; the goal is for 7d)"
		}
		t.Log(msg)
		fmt.Println(msg)
	}
}

// drawOnce loads the page at u and waits until the probe says it is
// drawn, or drawnTimeout; Painted is 0 when it was not.
func drawOnce(t *testing.T, ctx context.Context, u string) drawnState {
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(drawnTimeout)
	for {
		st, err := chromedp.Run(ctx, chromedp.Evaluate[drawnState](drawnStateJS))
		if err != nil {
			t.Fatal(err)
		}
		if st.Painted > 0 || time.Now().After(deadline) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// drawnTimeout bounds one load in TestBenchBoardDrawn.
const drawnTimeout = 2 * time.Minute

func roundAll(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(math.Round(min(x, 1e9)))
	}
	return out
}

// heapReading is one minute of TestBenchTVHeap.
type heapReading struct {
	Minute           int
	Heap             float64 // JSHeapUsedSize, bytes, after a GC
	Nodes, Listeners float64
	Documents        float64
	Intervals        int
	Canvases         int
	ServerCPU        time.Duration // the test process (server and store) since the last reading
}

// TestBenchTVHeap leaves the TV page of the built-in board open with a
// 2 s refresh while the store is fed live, and reads the page's JS heap
// (after a forced GC), DOM nodes and event listeners every minute.
func TestBenchTVHeap(t *testing.T) {
	benchEnabled(t)
	minutes := 60
	if s := os.Getenv("DANDAN_BENCH_TV_MINUTES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 3 {
			t.Fatalf("DANDAN_BENCH_TV_MINUTES=%q: want a whole number of minutes, at least 3", s)
		}
		minutes = n
	}
	d := openBenchData(t)
	cfg := DefaultConfig()
	cfg.Refresh = config.Duration(2 * time.Second)
	cfg.TV.Refresh = config.Duration(2 * time.Second)
	d.feedLiveUntilEnd(t)
	h, stats := newBenchHarness(t, cfg, d.svc)

	browser := testkit.StartChromium(t)
	ctx := browser.NewTab(t, time.Duration(minutes+5)*time.Minute)
	if err := chromedp.Do(ctx, testkit.TV().Emulate()); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: drawnProbe}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, performance.Enable, performance.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	u := h.srv.URL + "/tv/service-" + benchJob + "?tv=1"
	if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitVisible(`.bd-grid`)); err != nil {
		t.Fatal(err)
	}
	quietDevTools(t, ctx)
	// read takes the least of 5 readings 0.5 s apart, each after a forced
	// GC, so that a swap or a fetch under way at one of them does not
	// count as growth.
	read := func(minute int, lastCPU *time.Duration) heapReading {
		r := heapReading{Minute: minute, Heap: math.Inf(1), Nodes: math.Inf(1), Listeners: math.Inf(1), Documents: math.Inf(1), Intervals: math.MaxInt, Canvases: math.MaxInt}
		for i := range 5 {
			if i > 0 {
				time.Sleep(500 * time.Millisecond)
			}
			if _, err := chromedp.Call(ctx, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
				t.Fatal(err)
			}
			res, err := chromedp.Call(ctx, performance.GetMetrics, cdp.Empty{})
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]float64{}
			for _, x := range res.Metrics {
				m[x.Name] = x.Value
			}
			type js struct{ Intervals, Canvases int }
			j, err := chromedp.Run(ctx, chromedp.Evaluate[js](`({Intervals: window.__bench ? window.__bench.intervals() : -1, Canvases: document.querySelectorAll("canvas").length})`))
			if err != nil {
				t.Fatal(err)
			}
			r.Heap, r.Nodes, r.Listeners, r.Documents = min(r.Heap, m["JSHeapUsedSize"]), min(r.Nodes, m["Nodes"]), min(r.Listeners, m["JSEventListeners"]), min(r.Documents, m["Documents"])
			r.Intervals, r.Canvases = min(r.Intervals, j.Intervals), min(r.Canvases, j.Canvases)
		}
		cpu := processCPU()
		r.ServerCPU = cpu - *lastCPU
		*lastCPU = cpu
		t.Logf("minute %2d: JS heap %6.3f MB, nodes %4.0f, listeners %4.0f, documents %2.0f, intervals %2d, canvases %2d; server: CPU %v, requests: %s",
			r.Minute, r.Heap/1e6, r.Nodes, r.Listeners, r.Documents, r.Intervals, r.Canvases, r.ServerCPU.Round(time.Millisecond), stats.take())
		return r
	}
	lastCPU := processCPU()
	// Let the first load settle before the baseline.
	time.Sleep(10 * time.Second)
	series := []heapReading{read(0, &lastCPU)}
	// Heap snapshots at minute 2 and at the end show what grew, if anything.
	var snap2 map[string]heapKind
	for minute := 1; minute <= minutes; minute++ {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Minute):
		}
		series = append(series, read(minute, &lastCPU))
		if minute == 2 {
			snap2 = heapSnapshot(t, ctx)
		}
	}
	browser.Screenshot(t, ctx, "bench/tv-heap-end")
	if snap2 != nil {
		t.Logf("JS heap growth from minute 2 by object kind (heap snapshots):\n%s", snapshotDiff(snap2, heapSnapshot(t, ctx), 15))
	}
	base, last := series[2], series[len(series)-1]
	growth := (last.Heap - base.Heap) / base.Heap * 100
	flat := growth <= goalHeapGrowth && last.Nodes == base.Nodes && last.Listeners == base.Listeners
	var heaps []string
	for _, r := range series {
		heaps = append(heaps, fmt.Sprintf("%.3f", r.Heap/1e6))
	}
	var cpu time.Duration
	for _, r := range series[1:] {
		cpu += r.ServerCPU
	}
	msg := fmt.Sprintf("BENCH TV heap (Chromium, TV, refresh 2s, %d min): JS heap MB by minute [%s]; growth from minute 2: %+.1f%% (goal ≤ %.0f%%); nodes %.0f→%.0f, listeners %.0f→%.0f, intervals %d→%d: %s; server CPU %.1f s per minute",
		minutes, strings.Join(heaps, " "), growth, goalHeapGrowth, base.Nodes, last.Nodes, base.Listeners, last.Listeners, base.Intervals, last.Intervals, verdict(flat), cpu.Seconds()/float64(minutes))
	t.Log(msg)
	fmt.Println(msg)
}

// quietDevTools turns off the DevTools domains that chromedp enables on
// every tab and that keep data of the page in the renderer: Network keeps
// every request's data (NetworkResourcesData, XHRReplayData: about 170 kB a
// minute at a 2 s refresh, counted in JSHeapUsedSize), CSS and DOM track
// style sheets and nodes, Log keeps entries. A wall screen has no DevTools
// attached, so its heap is measured without them; Page, Runtime,
// Performance and HeapProfiler stay on.
func quietDevTools(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, off := range []struct {
		name string
		call func() error
	}{
		{"Network", func() error { _, err := chromedp.Call(ctx, network.Disable, cdp.Empty{}); return err }},
		{"CSS", func() error { _, err := chromedp.Call(ctx, css.Disable, cdp.Empty{}); return err }},
		{"DOM", func() error { _, err := chromedp.Call(ctx, dom.Disable, cdp.Empty{}); return err }},
		{"Log", func() error { _, err := chromedp.Call(ctx, cdplog.Disable, cdp.Empty{}); return err }},
	} {
		if err := off.call(); err != nil {
			t.Fatalf("%s.disable: %v", off.name, err)
		}
	}
}

// heapKind is the objects of one kind in a heap snapshot.
type heapKind struct{ Count, Bytes float64 }

// heapSnapshot takes a heap snapshot of the tab (after a GC, as V8 does)
// and sums its objects' own sizes by type and constructor or name.
func heapSnapshot(t *testing.T, ctx context.Context) map[string]heapKind {
	t.Helper()
	var mu sync.Mutex
	var buf strings.Builder
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := chromedp.Listen(lctx, func(ev any) {
		if c, ok := ev.(*heapprofiler.EventAddHeapSnapshotChunk); ok {
			mu.Lock()
			buf.WriteString(c.Chunk)
			mu.Unlock()
		}
	}); err != nil {
		t.Logf("heap snapshot: %v", err)
		return nil
	}
	if _, err := chromedp.Call(ctx, heapprofiler.TakeHeapSnapshot, heapprofiler.TakeHeapSnapshotParams{}); err != nil {
		t.Logf("heap snapshot: %v", err)
		return nil
	}
	var raw string
	for n := -1; ; time.Sleep(200 * time.Millisecond) { // until the chunks stop coming
		mu.Lock()
		raw = buf.String()
		mu.Unlock()
		if len(raw) == n {
			break
		}
		n = len(raw)
	}
	var snap struct {
		Snapshot struct {
			Meta struct {
				NodeFields []string          `json:"node_fields"`
				NodeTypes  []json.RawMessage `json:"node_types"`
			} `json:"meta"`
		} `json:"snapshot"`
		Nodes   []float64 `json:"nodes"`
		Strings []string  `json:"strings"`
	}
	if err := json.Unmarshal([]byte(raw), &snap); err != nil {
		t.Logf("heap snapshot: %v", err)
		return nil
	}
	var types []string
	if len(snap.Snapshot.Meta.NodeTypes) > 0 {
		_ = json.Unmarshal(snap.Snapshot.Meta.NodeTypes[0], &types)
	}
	f := snap.Snapshot.Meta.NodeFields
	ti, ni, si := slices.Index(f, "type"), slices.Index(f, "name"), slices.Index(f, "self_size")
	if len(f) == 0 || ti < 0 || ni < 0 || si < 0 {
		t.Logf("heap snapshot: unknown node fields %q", f)
		return nil
	}
	out := map[string]heapKind{}
	for i := 0; i+len(f) <= len(snap.Nodes); i += len(f) {
		typ, name := "", ""
		if k := int(snap.Nodes[i+ti]); k < len(types) {
			typ = types[k]
		}
		if k := int(snap.Nodes[i+ni]); k < len(snap.Strings) {
			name = snap.Strings[k]
		}
		switch typ {
		case "string", "concatenated string", "sliced string", "number", "code", "hidden", "array":
			name = "" // by type only: their names are contents
		}
		if len(name) > 60 {
			name = name[:60] + "…"
		}
		k := out[typ+" "+name]
		k.Count++
		k.Bytes += snap.Nodes[i+si]
		out[typ+" "+name] = k
	}
	return out
}

// snapshotDiff lists the n kinds of objects that grew most in bytes from
// a to b.
func snapshotDiff(a, b map[string]heapKind, n int) string {
	type row struct {
		kind         string
		bytes, count float64
	}
	var rows []row
	var total float64
	for k, v := range b {
		d := row{k, v.Bytes - a[k].Bytes, v.Count - a[k].Count}
		total += d.bytes
		rows = append(rows, d)
	}
	for k, v := range a {
		if _, ok := b[k]; !ok {
			rows = append(rows, row{k, -v.Bytes, -v.Count})
			total -= v.Bytes
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].bytes > rows[j].bytes })
	var sb strings.Builder
	fmt.Fprintf(&sb, "  %+.0f bytes in all", total)
	for _, r := range rows[:min(n, len(rows))] {
		fmt.Fprintf(&sb, "\n  %+9.0f bytes %+7.0f objects  %s", r.bytes, r.count, r.kind)
	}
	return sb.String()
}

// processCPU returns the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
