package boards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// The benchmarks' data: 7 days of 15-second samples of one access-log job
// with 200 paths, and a host, as the watchdog writes them. Generating it
// takes a minute or more, so the store is kept under
// os.TempDir()/dandan-bench-board7d/v<benchDataVersion> and reused; on
// reuse it is topped up to now with the same functions, so the 7 days
// always end now. Change benchDataVersion whenever the series change.
const (
	benchDataVersion = 3
	benchJob         = "shop"
	benchPaths       = 200
	benchStep        = 15 * time.Second
	benchDays        = 7
)

// benchBounds are the latency histogram's bounds (+Inf comes on top).
var benchBounds = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1}

// benchSeries is one series of the generator: its value at a time is
// mult × the shared cumulative curve (or a gauge function).
type benchSeries struct {
	ls  metricstore.Labels
	ref metricstore.SeriesRef
	val func(g *benchGen, t float64) float64
	// sumOf, for a job-level rollup (as the watchdog writes them), are
	// the earlier series it sums; val is nil then.
	sumOf []int
}

// benchGen writes the benchmark's series. Every counter is a closed-form
// integral of a rate with a daily shape, so any step can be written
// without the ones before it, and a top-up continues the curves exactly.
type benchGen struct {
	t0     float64 // Unix seconds the counters start from
	series []benchSeries
	vals   []float64 // the step's values, by series
	// per step: the cumulative "requests per unit rate" and CPU busy
	// seconds since t0, shared by all series.
	reqs, busy float64
}

const day = 86400.0

// cum is the integral from t0 to t of 1 + a·sin(2πt/day + ph).
func cum(t0, t, a, ph float64) float64 {
	w := 2 * math.Pi / day
	return (t - t0) - a/w*(math.Cos(w*t+ph)-math.Cos(w*t0+ph))
}

func newBenchGen(t0 float64) *benchGen {
	g := &benchGen{t0: t0}
	add := func(val func(g *benchGen, t float64) float64, kv ...string) {
		g.series = append(g.series, benchSeries{ls: metricstore.FromStrings(kv...), val: val})
	}
	// The rollups' parts, by rollup labels (name, then label pairs).
	rollups := map[string][]int{}
	var rollupOrder []string
	part := func(kv ...string) {
		k := strings.Join(kv, "\x00")
		if _, ok := rollups[k]; !ok {
			rollupOrder = append(rollupOrder, k)
		}
		rollups[k] = append(rollups[k], len(g.series)-1)
	}
	// Counters count whole requests and bytes, as the watchdog's do
	// (and so compress as real ones).
	counter := func(mult float64) func(*benchGen, float64) float64 {
		return func(g *benchGen, _ float64) float64 { return math.Floor(mult * g.reqs) }
	}
	seconds := func(mult float64) func(*benchGen, float64) float64 {
		return func(g *benchGen, _ float64) float64 { return math.Round(mult*g.reqs*1000) / 1000 }
	}
	for p := 0; p < benchPaths; p++ {
		path := benchPath(p)
		rate := 200 / float64(p+1) // req/s at the daily mean: Zipf, ~1,200 req/s in all
		e5 := 0.001 + 0.03*float64(p%7)/6
		e4 := 0.02 + 0.05*float64(p%5)/4
		add(counter(rate*(1-e4-e5)), "__name__", "http_requests_total", "job", benchJob, "path", path, "method", "GET", "status", "200")
		part("job_status:http_requests_total", "job", benchJob, "status", "200")
		add(counter(rate*e4), "__name__", "http_requests_total", "job", benchJob, "path", path, "method", "GET", "status", "404")
		part("job_status:http_requests_total", "job", benchJob, "status", "404")
		add(counter(rate*e5), "__name__", "http_requests_total", "job", benchJob, "path", path, "method", "GET", "status", "500")
		part("job_status:http_requests_total", "job", benchJob, "status", "500")
		add(counter(rate*float64(1000+(p*7919)%50000)), "__name__", "http_response_bytes_total", "job", benchJob, "path", path, "method", "GET", "status", "200")
		part("job:http_response_bytes_total", "job", benchJob)
		scale := 0.01 + 0.3*float64((p*31)%100)/100 // the path's mean latency
		for _, le := range benchBounds {
			frac := 1 - math.Exp(-le/scale)
			add(counter(rate*frac), "__name__", "http_request_duration_seconds_bucket", "job", benchJob, "path", path, "method", "GET", "le", strconv.FormatFloat(le, 'g', -1, 64))
			part("job:http_request_duration_seconds_bucket", "job", benchJob, "le", strconv.FormatFloat(le, 'g', -1, 64))
		}
		add(counter(rate), "__name__", "http_request_duration_seconds_bucket", "job", benchJob, "path", path, "method", "GET", "le", "+Inf")
		part("job:http_request_duration_seconds_bucket", "job", benchJob, "le", "+Inf")
		add(counter(rate), "__name__", "http_request_duration_seconds_count", "job", benchJob, "path", path, "method", "GET")
		part("job:http_request_duration_seconds_count", "job", benchJob)
		add(seconds(rate*scale), "__name__", "http_request_duration_seconds_sum", "job", benchJob, "path", path, "method", "GET")
		part("job:http_request_duration_seconds_sum", "job", benchJob)
	}
	for _, k := range rollupOrder {
		kv := strings.Split(k, "\x00")
		g.series = append(g.series, benchSeries{ls: metricstore.FromStrings(append([]string{"__name__"}, kv...)...), sumOf: rollups[k]})
	}
	node := func(name string, val func(*benchGen, float64) float64, kv ...string) {
		add(val, append([]string{"__name__", name, "job", "node", "instance", "host1"}, kv...)...)
	}
	for _, cpu := range []string{"0", "1"} {
		node("node_cpu_seconds_total", func(g *benchGen, t float64) float64 { return math.Round(((t-g.t0)-g.busy)*100) / 100 }, "cpu", cpu, "mode", "idle")
		node("node_cpu_seconds_total", func(g *benchGen, _ float64) float64 { return math.Round(g.busy*100) / 100 }, "cpu", cpu, "mode", "user")
	}
	node("node_memory_MemTotal_bytes", func(*benchGen, float64) float64 { return 16e9 })
	node("node_memory_MemAvailable_bytes", func(_ *benchGen, t float64) float64 { return math.Round(8e9 + 3e9*math.Sin(2*math.Pi*t/day)) })
	node("node_network_receive_bytes_total", func(g *benchGen, _ float64) float64 { return math.Floor(2e5 * g.reqs) }, "device", "eth0")
	node("node_network_transmit_bytes_total", func(g *benchGen, _ float64) float64 { return math.Floor(3e6 * g.reqs) }, "device", "eth0")
	return g
}

// benchPath names path p like a web shop's routes.
func benchPath(p int) string {
	kinds := []string{"/api/v1/products/%d", "/api/v1/cart/%d", "/static/app.%d.js", "/catalog/%d", "/search/%d"}
	return fmt.Sprintf(kinds[p%len(kinds)], p)
}

// at sets the shared curves for the time t (Unix seconds).
func (g *benchGen) at(t float64) {
	g.reqs = cum(g.t0, t, 0.6, 0)                                // traffic: ±60% over a day
	g.busy = 0.35*(t-g.t0) + 0.3*(cum(g.t0, t, 0.5, 1)-(t-g.t0)) // CPU busy 35% ± 15%
}

// appendRange appends every step in (from, to] (Unix seconds, multiples
// of the step), one commit per step.
func (g *benchGen) appendRange(ctx context.Context, svc *metricstore.Service, from, to int64, progress func(done, all int64)) error {
	st := int64(benchStep / time.Second)
	all := (to - from) / st
	for i, t := int64(1), from+st; t <= to; i, t = i+1, t+st {
		g.at(float64(t))
		app := svc.Appender(ctx)
		ms := t * 1000
		if len(g.vals) != len(g.series) {
			g.vals = make([]float64, len(g.series))
		}
		for j := range g.series {
			s := &g.series[j]
			v := 0.0
			if s.val != nil {
				v = s.val(g, float64(t))
			}
			for _, k := range s.sumOf {
				v += g.vals[k]
			}
			g.vals[j] = v
			ref, err := app.Append(s.ref, s.ls, ms, v)
			if err != nil {
				_ = app.Rollback()
				return fmt.Errorf("append %s at %d: %w", s.ls, t, err)
			}
			s.ref = ref
		}
		if err := app.Commit(); err != nil {
			return err
		}
		if progress != nil && i%2000 == 0 {
			progress(i, all)
		}
	}
	return nil
}

// benchMeta is kept beside the store: what it holds.
type benchMeta struct {
	Version int   `json:"version"`
	T0      int64 `json:"t0"`   // counters start (Unix s)
	Last    int64 `json:"last"` // newest step written (Unix s)
	// Open is set while a run has the store open: a run that died then
	// may have written past Last, so the next one starts afresh.
	Open bool `json:"open"`
}

// benchData is the benchmarks' store, opened; share it with benchStore.
type benchData struct {
	dir  string
	svc  *metricstore.Service
	gen  *benchGen
	meta benchMeta
	mu   sync.Mutex // guards appends (feedLive) and meta
}

func benchRoot() string {
	return filepath.Join(os.TempDir(), "dandan-bench-board7d", "v"+strconv.Itoa(benchDataVersion))
}

// openBenchData opens the cached store, generating it when missing (or
// too old) and topping it up to now. It is closed when the test ends,
// after everything registered later with tb.Cleanup.
func openBenchData(tb testing.TB) *benchData {
	tb.Helper()
	root := benchRoot()
	metaPath := filepath.Join(root, "meta.json")
	st := int64(benchStep / time.Second)
	now := time.Now().Unix() / st * st
	var meta benchMeta
	raw, err := os.ReadFile(metaPath)
	if err == nil {
		err = json.Unmarshal(raw, &meta)
	}
	if err != nil || meta.Open || meta.Version != benchDataVersion || meta.Last < now-benchDays*86400 || meta.Last > now {
		if err := os.RemoveAll(root); err != nil {
			tb.Fatal(err)
		}
		meta = benchMeta{Version: benchDataVersion, T0: now - benchDays*86400, Last: now - benchDays*86400 - st}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		tb.Fatal(err)
	}
	d := &benchData{dir: root, meta: meta, gen: newBenchGen(float64(meta.T0))}
	d.meta.Open = true
	d.saveMeta(tb)
	d.svc = metricstore.NewService(filepath.Join(root, "metrics"), metricstore.Options{})
	if err := d.svc.Start(context.Background()); err != nil {
		tb.Fatalf("open the bench store (is another run using %s?): %v", root, err)
	}
	tb.Cleanup(func() { d.close(tb) })
	if gap := now - meta.Last; gap > 0 {
		start := time.Now()
		tb.Logf("bench data: writing %d steps × %d series into %s", gap/st, len(d.gen.series), root)
		err := d.gen.appendRange(context.Background(), d.svc, meta.Last, now, func(done, all int64) {
			if done%20000 == 0 {
				tb.Logf("bench data: %d/%d steps, %s", done, all, time.Since(start).Round(time.Second))
			}
		})
		if err != nil {
			tb.Fatal(err)
		}
		d.meta.Last = now
		tb.Logf("bench data: %d samples in %s", gap/st*int64(len(d.gen.series)), time.Since(start).Round(time.Millisecond))
	}
	return d
}

func (d *benchData) saveMeta(tb testing.TB) {
	b, _ := json.Marshal(d.meta)
	if err := os.WriteFile(filepath.Join(d.dir, "meta.json"), b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// topUp appends the steps up to now (a live feed for long tests).
func (d *benchData) topUp(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := int64(benchStep / time.Second)
	now := time.Now().Unix() / st * st
	if now <= d.meta.Last {
		return nil
	}
	if err := d.gen.appendRange(ctx, d.svc, d.meta.Last, now, nil); err != nil {
		return err
	}
	d.meta.Last = now
	return nil
}

// feedLive tops the store up every step until ctx ends.
func (d *benchData) feedLive(ctx context.Context, tb testing.TB) {
	tick := time.NewTicker(benchStep)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := d.topUp(ctx); err != nil && !errors.Is(err, context.Canceled) {
				tb.Errorf("live feed: %v", err)
				return
			}
		}
	}
}

// feedLiveUntilEnd feeds the store live (feedLive) until the test ends,
// so that the "last minute" panels keep their data.
func (d *benchData) feedLiveUntilEnd(tb testing.TB) {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.feedLive(ctx, tb) })
	tb.Cleanup(func() { stop(); wg.Wait() })
}

func (d *benchData) close(tb testing.TB) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.svc.Stop(context.Background()); err != nil {
		tb.Error(err)
		return
	}
	d.meta.Open = false
	d.saveMeta(tb)
}
