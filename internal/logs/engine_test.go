package logs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/logs/format"
)

func TestTemplates(t *testing.T) {
	rules := []string{"/article/*=/article/{id}", "/user/**=/user/{rest}", "~^/p/[a-z]+$=/p/{name}"}
	tests := []struct {
		name, target, want string
		noRules            bool
	}{
		{"query dropped", "/home?utm=x#frag", "/home", false},
		{"absolute form", "http://example.com/home?x", "/home", false},
		{"rule glob", "/article/some-title", "/article/{id}", false},
		{"rule double star", "/user/a/b/c", "/user/{rest}", false},
		{"rule regexp", "/p/abc", "/p/{name}", false},
		{"rule regexp no match", "/p/abc1", "/p/abc1", false},
		{"number", "/news/123456/comments", "/news/{id}/comments", true},
		{"uuid", "/u/0F8FAD5B-D9CB-469F-A165-70867728950E", "/u/{uuid}", true},
		{"date and slug", "/sports/2021-10-10/storm-hits-coast-123456", "/sports/{date}/{slug}", true},
		{"hex", "/blob/deadbeef00", "/blob/{hex}", true},
		{"word not hex", "/blob/deadbeef", "/blob/deadbeef", true},
		{"token", "/v/Az98xYqR7tPLmWk3JdHsQa", "/v/{token}", true},
		{"youtube id", "/watch/dQw4w9WgXcQ", "/watch/{token}", true},
		{"plain words", "/about/our-team/contact", "/about/our-team/contact", true},
		{"hashed asset", "/static/js/app.3f2a9c1b.js", "/static/js/app.{hash}.js", true},
		{"hashed asset all letters", "/static/js/main.abcdefab.js", "/static/js/main.{hash}.js", true},
		{"dash hash", "/css/site-3f2a9c1b8d.css", "/css/site-{hash}.css", true},
		{"numbered image", "/img/12345.jpg", "/img/{id}.jpg", true},
		{"versioned lib kept", "/js/jquery-3.6.0.min.js", "/js/jquery-3.6.0.min.js", true},
		{"root", "/", "/", true},
		{"double slash", "//a//1", "//a//{id}", true},
	}
	var rs []Rule
	for _, r := range rules {
		rule, err := ParseRule(r)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, rule)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rs
			if tc.noRules {
				r = nil
			}
			p := newPaths(r, true, 100)
			for range 2 { // the second time from the cache
				id, capped := p.id([]byte(tc.target))
				if got := p.names[id]; got != tc.want || capped {
					t.Fatalf("got %q (capped %v), want %q", got, capped, tc.want)
				}
			}
		})
	}
}

func TestReadRules(t *testing.T) {
	rules, err := ReadRules(strings.NewReader("# comment\n\n/a/*=/a/{x}\n ~^/b$ = /b \n"), "r.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[1].Template != "/b" {
		t.Fatalf("rules %+v", rules)
	}
	_, err = ReadRules(strings.NewReader("/a/*=/a/{x}\nbad\n"), "r.txt")
	if err == nil || err.Error() != `r.txt:2: path rule "bad": want PATTERN=TEMPLATE` {
		t.Fatalf("error %v", err)
	}
}

func newTestAggregator(t testing.TB, cfg Config) *Aggregator {
	t.Helper()
	if cfg.Format == nil {
		f, err := format.Compile("media-nginx", format.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Format = f
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func line(ts time.Time, client, method, target string, status int) []byte {
	return fmt.Appendf(nil, `"%s" "-" [%s] "%s %s HTTP/1.1" %d 100 0.010 "https://ref.example/x" "ua"`,
		client, ts.Format("02/Jan/2006:15:04:05 -0700"), method, target, status)
}

// TestFlood: a flood of unique URLs stays under the path cap, counts the
// cap hits, estimates distinct paths, and does not grow the heap.
func TestFlood(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxPaths = 50
	cfg.Referers = true
	a := newTestAggregator(t, cfg)
	t0 := time.Date(2021, 10, 10, 13, 55, 36, 0, time.UTC)
	feed := func(from, to int) {
		for i := from; i < to; i++ {
			// words, not IDs: each is a template of its own
			target := "/search/" + strings.Repeat(string(rune('a'+i%26)), 3) + strconv.FormatInt(int64(i), 36) + "x"
			if !a.Line(line(t0.Add(time.Duration(i/100)*time.Second), "10.0.0."+strconv.Itoa(i%250), "GET", target, 200)) {
				t.Fatal(a.Err())
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	feed(0, 20_000)
	before := heap()
	feed(20_000, 220_000)
	after := heap()
	st := a.Stats()
	if st.Templates != 51 {
		t.Errorf("templates %d, want 50 + other", st.Templates)
	}
	if st.Capped != 220_000-50 {
		t.Errorf("capped %d, want %d", st.Capped, 220_000-50)
	}
	if st.DistinctExact || st.DistinctPaths < 215_000 || st.DistinctPaths > 225_000 {
		t.Errorf("distinct %d (exact %v), want about 220000", st.DistinctPaths, st.DistinctExact)
	}
	if len(a.reqL) > 51 || len(a.refL) > 51 {
		t.Errorf("%d request series, %d referer series", len(a.reqL), len(a.refL))
	}
	if after > before+1<<20 {
		t.Errorf("heap grew from %d to %d bytes over 200000 unique URLs", before, after)
	}
}

// TestSecondsAndLateLines: each second's batch holds what changed, and a
// line older than the latest second counts in the latest one.
func TestSecondsAndLateLines(t *testing.T) {
	var got []string
	cfg := DefaultConfig()
	cfg.Emit = func(b *Batch) error {
		for _, s := range b.Requests {
			got = append(got, fmt.Sprintf("%d %s %s %d+%d", b.Time, s.Path, s.Status, s.Requests-s.RequestsDelta(), s.RequestsDelta()))
		}
		if b.InvalidDelta > 0 {
			got = append(got, fmt.Sprintf("%d invalid %d", b.Time, b.Invalid))
		}
		return nil
	}
	a := newTestAggregator(t, cfg)
	t0 := time.Date(2021, 10, 10, 13, 55, 36, 0, time.UTC)
	a.Line([]byte("junk before any time"))
	a.Line(line(t0, "1.1.1.1", "GET", "/a", 200))
	a.Line(line(t0.Add(2*time.Second), "1.1.1.1", "GET", "/a", 200))
	a.Line(line(t0.Add(time.Second), "1.1.1.1", "GET", "/a", 404)) // late
	a.Line(line(t0.Add(3*time.Second), "1.1.1.1", "GET", "/a", 200))
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1633874136 /a 200 0+1", "1633874136 invalid 1",
		"1633874138 /a 200 1+1", "1633874138 /a 404 0+1",
		"1633874139 /a 200 2+1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTopClients(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TopClients = 100
	a := newTestAggregator(t, cfg)
	t0 := time.Date(2021, 10, 10, 13, 55, 36, 0, time.UTC)
	// 3 heavy hitters among 5000 one-off clients.
	for i := range 5000 {
		a.Line(line(t0, fmt.Sprintf("10.1.%d.%d", i/250, i%250), "GET", "/", 200))
		if i%10 == 0 {
			a.Line(line(t0, "2001:db8::1", "GET", "/", 200))
		}
		if i%20 == 0 {
			a.Line(line(t0, "192.0.2.2", "GET", "/", 200))
		}
		if i%40 == 0 {
			a.Line(line(t0, "192.0.2.3", "GET", "/", 200))
		}
	}
	top := a.TopClients(3)
	want := []string{"2001:db8::1", "192.0.2.2", "192.0.2.3"}
	trueCount := []uint64{500, 250, 125}
	for i, c := range top {
		if c.Addr != want[i] || c.Count < trueCount[i] || c.Count-c.Error > trueCount[i] {
			t.Errorf("top %d: %+v, want %s with %d", i, c, want[i], trueCount[i])
		}
	}
}

// TestMerge: aggregators over separate chunks, run in parallel and merged,
// give the totals of one over the whole input.
func TestMerge(t *testing.T) {
	var buf bytes.Buffer
	tr := genLog(&buf, 40_000, 3, 0.1, time.Date(2021, 10, 10, 4, 55, 36, 0, time.UTC), 50, 0)
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), []byte{'\n'})
	cfg := DefaultConfig()
	cfg.Referers = true
	whole := newTestAggregator(t, cfg)
	for _, l := range lines {
		whole.Line(l)
	}
	parts := make([]*Aggregator, 4)
	var wg sync.WaitGroup
	for i := range parts {
		parts[i] = newTestAggregator(t, cfg)
		wg.Go(func() {
			for _, l := range lines[i*len(lines)/4 : (i+1)*len(lines)/4] {
				parts[i].Line(l)
			}
		})
	}
	wg.Wait()
	merged := parts[0]
	for _, p := range parts[1:] {
		merged.Merge(p)
	}
	checkTruth(t, merged, tr)
	if got, want := totals(merged), totals(whole); got != want {
		t.Errorf("merged totals\n%s\nwhole\n%s", got, want)
	}
}

// totals prints every family's series sorted, for comparing.
func totals(a *Aggregator) string {
	var out []string
	for _, f := range a.Families() {
		for _, s := range f.Series {
			l := f.Name + fmt.Sprint(s.Labels)
			if s.Histogram != nil {
				l += fmt.Sprintf(" %d %.6f %v", s.Histogram.Count, s.Histogram.Sum, s.Histogram.Buckets)
			} else {
				l += fmt.Sprintf(" %v", s.Value)
			}
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// checkTruth compares a's counts with the truth of a generated log.
func checkTruth(t *testing.T, a *Aggregator, tr genTruth) {
	t.Helper()
	st := a.Stats()
	if int(st.Lines) != tr.lines || int(st.Invalid) != tr.invalid {
		t.Errorf("lines %d invalid %d, want %d and %d", st.Lines, st.Invalid, tr.lines, tr.invalid)
	}
	status, method, path := map[string]int{}, map[string]int{}, map[string]int{}
	var bytesSum, durCount int64
	var durSum float64
	for _, f := range a.Families() {
		for _, s := range f.Series {
			lab := map[string]string{}
			for _, l := range s.Labels {
				lab[l.Name] = l.Value
			}
			switch f.Name {
			case MetricRequests:
				status[lab["status"]] += int(s.Value)
				method[lab["method"]] += int(s.Value)
				path[lab["path"]] += int(s.Value)
			case MetricBytes:
				bytesSum += int64(s.Value)
			case MetricDuration:
				durCount += int64(s.Histogram.Count)
				durSum += s.Histogram.Sum
			}
		}
	}
	for name, pair := range map[string][2]map[string]int{"status": {status, tr.status}, "method": {method, tr.method}, "path": {path, tr.path}} {
		if fmt.Sprint(pair[0]) != fmt.Sprint(pair[1]) {
			t.Errorf("%s counts\n got %v\nwant %v", name, pair[0], pair[1])
		}
	}
	valid := tr.lines - tr.invalid
	if bytesSum != tr.bytes || durCount != int64(valid) || int64(durSum*1e6+0.5) != tr.durationUS {
		t.Errorf("bytes %d durations %d sum %.6f, want %d, %d, %d µs", bytesSum, durCount, durSum, tr.bytes, valid, tr.durationUS)
	}
}

// TestMillionLines: a generated file of a million lines, 10% garbage,
// through `logs parse`, gives exact counts per status, method and path
// template, and the exact invalid count.
func TestMillionLines(t *testing.T) {
	n := 1_000_000
	if raceEnabled {
		n = 250_000 // the race detector makes this 10× slower; the code path is the same
	}
	file := filepath.Join(t.TempDir(), "access.log")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	tr := genLog(f, n, 1, 0.1, time.Date(2025, 11, 24, 0, 0, 0, 0, time.UTC), 200, 50_000)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	o := defaultParseOptions()
	o.progress = "never"
	var stderr bytes.Buffer
	out := bufio.NewWriter(discard{})
	a, err := runParse(t.Context(), o, []string{file}, nil, out, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	checkTruth(t, a, tr)
	for _, want := range []string{
		fmt.Sprintf("\nlines read: %d\n", tr.lines),
		fmt.Sprintf("\nlines invalid: %d\n", tr.invalid),
		" after templating\nrate: ",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr.String())
		}
	}
	if st := a.Stats(); st.Templates != len(tr.path) {
		t.Errorf("%d templates, want %d", st.Templates, len(tr.path))
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
