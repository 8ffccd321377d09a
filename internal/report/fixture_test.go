package report

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/sqlstore"
)

// The fixture is two weeks of known traffic in KST (UTC+9, no daylight
// saving): the previous week [prevFrom, weekFrom) and the week of the
// report [weekFrom, weekTo).
var (
	kst      = time.FixedZone("KST", 9*3600)
	prevFrom = time.Date(2026, 3, 2, 0, 0, 0, 0, kst) // a Monday
	weekFrom = prevFrom.AddDate(0, 0, 7)
	weekTo   = weekFrom.AddDate(0, 0, 7)
)

const (
	step    = 15 * time.Second // counters
	slowDur = time.Minute      // histograms, bytes, host metrics
)

// Histogram bounds, and the value each bucket's observations take.
var (
	les  = []float64{0.05, 0.1, 0.25, 0.5, 1, math.Inf(1)}
	mids = []float64{0.025, 0.075, 0.175, 0.375, 0.75, 2}
)

// reqSeries is one http_requests_total series: every `every` steps (at
// step offset 0) it grows by weight×shape(hour), weightCur in the week of
// the report.
type reqSeries struct {
	job, path, method, status string
	weight, weightCur         int
	every, everyCur           int
}

var reqs = []reqSeries{
	{"web", "/", "GET", "200", 20, 30, 1, 1},
	{"web", "/", "GET", "304", 10, 10, 1, 1},
	{"web", "/api/items", "GET", "200", 10, 10, 1, 1},
	{"web", "/api/items", "GET", "500", 10, 10, 40, 20},
	{"web", "/api/search", "GET", "200", 10, 10, 1, 1},
	{"web", "/api/search", "GET", "404", 10, 10, 8, 8},
	{"web", "/api/search", "GET", "503", 10, 10, 120, 120},
	{"web", "/login", "POST", "200", 10, 10, 2, 2},
	{"web", "/login", "POST", "401", 10, 10, 16, 16},
	{"static", "/assets/*", "GET", "200", 20, 30, 1, 1},
}

// Each path's distribution of durations, in tenths per bucket (les), in
// the previous week and in the week of the report; and its response size.
var paths = map[string]struct {
	prev, cur [6]float64
	size      float64
	method    string
}{
	"web\x00/":            {[6]float64{6, 3, 1}, [6]float64{6, 3, 1}, 5000, "GET"},
	"web\x00/api/items":   {[6]float64{2, 4, 3, 1}, [6]float64{2, 4, 3, 1}, 2000, "GET"},
	"web\x00/api/search":  {[6]float64{0, 1, 3, 4, 1, 1}, [6]float64{0, 0, 3, 4, 2, 1}, 800, "GET"},
	"web\x00/login":       {[6]float64{1, 2, 5, 2}, [6]float64{1, 2, 5, 2}, 300, "POST"},
	"static\x00/assets/*": {[6]float64{9, 1}, [6]float64{9, 1}, 20000, "GET"},
}

// shape is the daily shape: a weight from 1 to 10 by hour of day (KST).
var shape = [24]int{1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 10, 10, 9, 8, 8, 9, 10, 10, 8, 6, 4, 2, 1}

// Spikes: for the four steps of one minute, /api/search 200 grows by
// extra per step. The week's is 1,000 req/s more, the previous week's 500.
var (
	spikeCur  = time.Date(2026, 3, 11, 14, 3, 0, 0, kst) // end of the spike minute
	spikePrev = time.Date(2026, 3, 5, 10, 1, 0, 0, kst)
)

func spikeExtra(t time.Time) int {
	switch {
	case t.After(spikeCur.Add(-time.Minute)) && !t.After(spikeCur):
		return 15000
	case t.After(spikePrev.Add(-time.Minute)) && !t.After(spikePrev):
		return 7500
	}
	return 0
}

// Host peaks of the fixture.
var (
	cpuPeakCur  = time.Date(2026, 3, 10, 20, 5, 0, 0, kst) // 87.5% in (20:00, 20:05]
	cpuPeakPrev = time.Date(2026, 3, 6, 21, 5, 0, 0, kst)  // 75%
	memPeakCur  = time.Date(2026, 3, 13, 3, 7, 0, 0, kst)  // one sample at 93.75%
	memPeakPrev = time.Date(2026, 3, 7, 12, 0, 0, 0, kst)  // 81.25%
	netPeakCur  = time.Date(2026, 3, 9, 12, 5, 0, 0, kst)  // 50 MB/s in (12:00, 12:05]
	dataFuller  = time.Date(2026, 3, 14, 0, 0, 0, 0, kst)  // /data 80% from here
)

// expect is what a period of the fixture holds, counted as the data was
// made: by job ("" for all jobs).
type expect struct {
	req, e5xx, e4xx, bytes   map[string]float64
	buckets                  map[string][]float64 // per bucket, not cumulative
	durSum, durCount         map[string]float64
	dayReq, day5xx           map[string]*[7]float64
	peak                     map[string]float64
	peakAt                   map[string]time.Time
	dayPeak                  map[string]*[7]float64
	pathReq, path5xx         map[string]float64 // by job\x00path
	pathBuckets              map[string][]float64
	hourlyReq                map[string]*[168]float64
	cpuIdle, cpuTotalSeconds float64
}

func newExpect() *expect {
	return &expect{
		req: map[string]float64{}, e5xx: map[string]float64{}, e4xx: map[string]float64{}, bytes: map[string]float64{},
		buckets: map[string][]float64{}, durSum: map[string]float64{}, durCount: map[string]float64{},
		dayReq: map[string]*[7]float64{}, day5xx: map[string]*[7]float64{},
		peak: map[string]float64{}, peakAt: map[string]time.Time{}, dayPeak: map[string]*[7]float64{},
		pathReq: map[string]float64{}, path5xx: map[string]float64{}, pathBuckets: map[string][]float64{},
		hourlyReq: map[string]*[168]float64{},
	}
}

func arr(m map[string]*[7]float64, k string) *[7]float64 {
	if m[k] == nil {
		m[k] = new([7]float64)
	}
	return m[k]
}

// fixture is the store and event log of the known traffic.
type fixture struct {
	dir    string // the data dir: metrics/ and dandan.db
	svc    *metricstore.Service
	db     *sqlstore.DB
	events *events.Store
	want   [2]*expect // previous week, week of the report
	took   time.Duration
}

var (
	fxOnce sync.Once
	fx     *fixture
	fxErr  error
)

// loadFixture builds the fixture once for the test binary; TestMain
// removes it.
func loadFixture(t testing.TB) *fixture {
	t.Helper()
	fxOnce.Do(func() { fx, fxErr = buildFixture() })
	if fxErr != nil {
		t.Fatal(fxErr)
	}
	return fx
}

func closeFixture() {
	if fx != nil {
		fx.svc.Stop(context.Background())
		fx.db.Close()
		os.RemoveAll(fx.dir)
	}
}

// periodOf returns 0 for the previous week, 1 for the report's, -1 else;
// a sample at t counts for the window (from, to] that holds it.
func periodOf(t time.Time) int {
	switch {
	case t.After(prevFrom) && !t.After(weekFrom):
		return 0
	case t.After(weekFrom) && !t.After(weekTo):
		return 1
	}
	return -1
}

func dayOf(t time.Time, p int) int {
	from := prevFrom
	if p == 1 {
		from = weekFrom
	}
	return int((t.Sub(from) - time.Nanosecond) / (24 * time.Hour))
}

func buildFixture() (*fixture, error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "report-fixture-")
	if err != nil {
		return nil, err
	}
	f := &fixture{dir: dir, want: [2]*expect{newExpect(), newExpect()}}
	f.svc = metricstore.NewService(filepath.Join(dir, "metrics"), metricstore.Options{Retention: 100 * 24 * time.Hour})
	ctx := context.Background()
	if err := f.svc.Start(ctx); err != nil {
		return nil, err
	}
	if err := f.appendAll(ctx); err != nil {
		return nil, err
	}
	if f.db, err = sqlstore.Open(ctx, "", dir); err != nil {
		return nil, err
	}
	f.events = events.New(f.db, nil)
	if err := f.events.Migrate(ctx); err != nil {
		return nil, err
	}
	if err := f.recordAlerts(ctx); err != nil {
		return nil, err
	}
	f.took = time.Since(start)
	return f, nil
}

// appendAll writes the two weeks (and ten minutes before them) through
// the store's Appender, committing an hour at a time.
func (f *fixture) appendAll(ctx context.Context) error {
	begin := prevFrom.Add(-10 * time.Minute)
	end := weekTo.Add(5 * time.Minute)
	type hist struct {
		buckets  []float64 // cumulative counters, by les
		sum, cnt float64
		bytes    float64
		n        float64 // requests of the current minute
	}
	counters := make([]float64, len(reqs))
	hists := map[string]*hist{}
	for k := range paths {
		hists[k] = &hist{buckets: make([]float64, len(les))}
	}
	var cpuIdle, cpuUser, netIn, netOut, lo float64
	// Rolling per-step totals by job, for the peak: the last 4 steps.
	ring := map[string]*[4]float64{"": {}, "web": {}, "static": {}}
	stepIdx := 0
	app := f.svc.Appender(ctx)
	add := func(ls metricstore.Labels, t time.Time, v float64) error {
		_, err := app.Append(0, ls, t.UnixMilli(), v)
		return err
	}
	lbl := func(kv ...string) metricstore.Labels { return metricstore.FromStrings(kv...) }
	for t := begin; !t.After(end); t = t.Add(step) {
		p := periodOf(t)
		h := t.In(kst).Hour()
		jobStep := map[string]float64{}
		for i, s := range reqs {
			w, every := s.weight, s.every
			if t.After(weekFrom) {
				w, every = s.weightCur, s.everyCur
			}
			inc := 0.0
			if stepIdx%every == 0 {
				inc = float64(w * shape[h])
			}
			if s.path == "/api/search" && s.status == "200" {
				inc += float64(spikeExtra(t))
			}
			counters[i] += inc
			if err := add(lbl("__name__", "http_requests_total", "job", s.job, "path", s.path, "method", s.method, "status", s.status), t, counters[i]); err != nil {
				return err
			}
			hists[s.job+"\x00"+s.path].n += inc
			jobStep[s.job] += inc
			jobStep[""] += inc
			if p < 0 {
				continue
			}
			e := f.want[p]
			d := dayOf(t, p)
			for _, job := range []string{s.job, ""} {
				e.req[job] += inc
				arr(e.dayReq, job)[d] += inc
				if s.status[0] == '5' {
					e.e5xx[job] += inc
					arr(e.day5xx, job)[d] += inc
				}
				if s.status[0] == '4' {
					e.e4xx[job] += inc
				}
				if e.hourlyReq[job] == nil {
					e.hourlyReq[job] = new([168]float64)
				}
				from := prevFrom
				if p == 1 {
					from = weekFrom
				}
				e.hourlyReq[job][int((t.Sub(from)-time.Nanosecond)/time.Hour)] += inc
			}
			k := s.job + "\x00" + s.path
			e.pathReq[k] += inc
			if s.status[0] == '5' {
				e.path5xx[k] += inc
			}
		}
		// The peak: the rate over the minute ending at t, for windows in
		// the period (ending at least a minute after its start).
		for job, r := range ring {
			copy(r[:], r[1:])
			r[3] = jobStep[job]
			if p < 0 {
				continue
			}
			from := prevFrom
			if p == 1 {
				from = weekFrom
			}
			if t.Before(from.Add(time.Minute)) {
				continue
			}
			rate := (r[0] + r[1] + r[2] + r[3]) / 60
			e := f.want[p]
			if at, ok := e.peakAt[job]; !ok || rate > e.peak[job] || rate == e.peak[job] && t.Before(at) {
				e.peak[job], e.peakAt[job] = rate, t
			}
			if d := arr(e.dayPeak, job); rate > d[dayOf(t, p)] {
				d[dayOf(t, p)] = rate
			}
		}
		stepIdx++
		if t.Sub(begin)%slowDur != 0 {
			continue
		}

		// Once a minute: histograms, bytes and host metrics.
		for k, ps := range paths {
			hs := hists[k]
			job, path := splitKey(k)
			dist := ps.prev
			if t.After(weekFrom) {
				dist = ps.cur
			}
			tenth := hs.n / 10
			for i := range les {
				obs := tenth * dist[i]
				hs.sum += obs * mids[i]
				for j := i; j < len(les); j++ {
					hs.buckets[j] += obs
				}
				if p >= 0 {
					e := f.want[p]
					for _, jb := range []string{job, ""} {
						if e.buckets[jb] == nil {
							e.buckets[jb] = make([]float64, len(les))
						}
						e.buckets[jb][i] += obs
						e.durSum[jb] += obs * mids[i]
						e.durCount[jb] += obs
					}
					if e.pathBuckets[k] == nil {
						e.pathBuckets[k] = make([]float64, len(les))
					}
					e.pathBuckets[k][i] += obs
				}
			}
			hs.cnt += hs.n
			hs.bytes += hs.n * ps.size
			if p >= 0 {
				f.want[p].bytes[job] += hs.n * ps.size
				f.want[p].bytes[""] += hs.n * ps.size
			}
			hs.n = 0
			base := []string{"job", job, "path", path, "method", ps.method}
			for i, le := range les {
				if err := add(lbl(append(base, "__name__", "http_request_duration_seconds_bucket", "le", strconv.FormatFloat(le, 'g', -1, 64))...), t, hs.buckets[i]); err != nil {
					return err
				}
			}
			if err := add(lbl(append(base, "__name__", "http_request_duration_seconds_sum")...), t, hs.sum); err != nil {
				return err
			}
			if err := add(lbl(append(base, "__name__", "http_request_duration_seconds_count")...), t, hs.cnt); err != nil {
				return err
			}
			if err := add(lbl(append(base, "__name__", "http_response_bytes_total", "status", "200")...), t, hs.bytes); err != nil {
				return err
			}
		}
		// Host: CPU busy 12.5% to 50% by the daily shape, with a peak.
		q := float64((shape[h] + 2) / 3) // 1…4
		busy := 0.125 * q
		switch {
		case t.After(cpuPeakCur.Add(-5*time.Minute)) && !t.After(cpuPeakCur):
			busy = 0.875
		case t.After(cpuPeakPrev.Add(-5*time.Minute)) && !t.After(cpuPeakPrev):
			busy = 0.75
		}
		cpuIdle += 60 * (1 - busy)
		cpuUser += 60 * busy
		if p >= 0 {
			f.want[p].cpuIdle += 60 * (1 - busy)
			f.want[p].cpuTotalSeconds += 60
		}
		used := 0.5 + 0.0625*q
		switch {
		case t.Equal(memPeakCur):
			used = 0.9375
		case t.Equal(memPeakPrev):
			used = 0.8125
		}
		rx := 1e6 * q
		if t.After(netPeakCur.Add(-5*time.Minute)) && !t.After(netPeakCur) {
			rx = 50e6
		}
		netIn += 60 * rx
		netOut += 30 * rx
		lo += 60 * 1e9
		dataUsed := 0.7
		if t.After(weekFrom) {
			dataUsed = 0.75
		}
		if !t.Before(dataFuller) {
			dataUsed = 0.8
		}
		host := []string{"job", "node", "instance", "web-1"}
		for _, s := range []struct {
			kv []string
			v  float64
		}{
			{[]string{"__name__", "node_cpu_seconds_total", "cpu", "0", "mode", "idle"}, cpuIdle},
			{[]string{"__name__", "node_cpu_seconds_total", "cpu", "0", "mode", "user"}, cpuUser},
			{[]string{"__name__", "node_memory_MemTotal_bytes"}, 16e9},
			{[]string{"__name__", "node_memory_MemAvailable_bytes"}, 16e9 * (1 - used)},
			{[]string{"__name__", "node_network_receive_bytes_total", "device", "eth0"}, netIn},
			{[]string{"__name__", "node_network_transmit_bytes_total", "device", "eth0"}, netOut},
			{[]string{"__name__", "node_network_receive_bytes_total", "device", "lo"}, lo},
			{[]string{"__name__", "node_filesystem_size_bytes", "mountpoint", "/", "device", "sda1", "fstype", "ext4"}, 100e9},
			{[]string{"__name__", "node_filesystem_avail_bytes", "mountpoint", "/", "device", "sda1", "fstype", "ext4"}, 60e9},
			{[]string{"__name__", "node_filesystem_size_bytes", "mountpoint", "/data", "device", "sdb1", "fstype", "ext4"}, 1e12},
			{[]string{"__name__", "node_filesystem_avail_bytes", "mountpoint", "/data", "device", "sdb1", "fstype", "ext4"}, 1e12 * (1 - dataUsed)},
		} {
			if err := add(lbl(append(append([]string{}, host...), s.kv...)...), t, s.v); err != nil {
				return err
			}
		}
		if t.Sub(begin)%time.Hour == 0 {
			if err := app.Commit(); err != nil {
				return err
			}
			app = f.svc.Appender(ctx)
		}
	}
	return app.Commit()
}

func splitKey(k string) (string, string) {
	for i := range k {
		if k[i] == 0 {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

// The fixture's alerts, in the event log.
func (f *fixture) recordAlerts(ctx context.Context) error {
	at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, kst) }
	alerts := []events.Event{
		{Time: at(5, 9, 0), End: at(5, 9, 30), Kind: "alert", Severity: events.Warning, Text: "p95 latency above 500 ms",
			Labels: map[string]string{"alertname": "HighLatency", "job": "web"}},
		{Time: at(8, 23, 0), End: at(9, 1, 0), Kind: "alert", Severity: events.Warning, Text: "/data filling up",
			Labels: map[string]string{"alertname": "DiskFilling", "instance": "web-1"}},
		{Time: at(10, 20, 3), End: at(10, 20, 10), Kind: "alert", Severity: events.Critical, Text: "CPU busy above 85%",
			Labels: map[string]string{"alertname": "HostCPUHigh", "instance": "web-1"}},
		{Time: at(11, 14, 5), End: at(11, 14, 25), Kind: "alert", Severity: events.Critical, Text: "5xx above 1% of web requests",
			Labels: map[string]string{"alertname": "HighErrorRate", "job": "web"}},
		{Time: at(11, 14, 25), Kind: "alert_resolved", Text: "HighErrorRate resolved",
			Labels: map[string]string{"alertname": "HighErrorRate", "job": "web"}},
		{Time: at(12, 9, 0), End: at(12, 9, 5), Kind: "alert", Severity: events.Critical, Text: "5xx above 1% of web requests",
			Labels: map[string]string{"alertname": "HighErrorRate", "job": "web"}},
	}
	for _, e := range alerts {
		e.Part = "alerts"
		e.Lasting = e.Kind == "alert"
		if _, err := f.events.Record(ctx, e); err != nil {
			return fmt.Errorf("record %s: %w", e.Text, err)
		}
	}
	return nil
}

// quantile is Prometheus's histogram_quantile of per-bucket counts: the
// bucket holding rank q×count, linear inside it, from 0 for the first.
func quantile(q float64, per []float64) (est, lo, hi float64) {
	total := 0.0
	for _, c := range per {
		total += c
	}
	rank := q * total
	cum := 0.0
	for i, c := range per {
		prev := cum
		cum += c
		if cum >= rank && c > 0 {
			lo = 0
			if i > 0 {
				lo = les[i-1]
			}
			hi = les[i]
			if math.IsInf(hi, 1) {
				return les[len(les)-2], lo, hi
			}
			return lo + (hi-lo)*(rank-prev)/c, lo, hi
		}
	}
	return math.NaN(), 0, 0
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
