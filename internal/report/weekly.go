package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/metricstore"
)

// The resolution of the report's figures.
const (
	// PeakWindow and PeakStep define peak RPS: the highest average request
	// rate over PeakWindow, evaluated every PeakStep.
	PeakWindow = time.Minute
	PeakStep   = 15 * time.Second
	// HostStep is the window and step of the host figures: CPU and network
	// are averages over it, memory the highest sample within it.
	HostStep = 5 * time.Minute
	// MinPathRequests is how many requests a path needs in the week to be
	// ranked among the slowest: fewer make a p95 that means little.
	MinPathRequests = 100
	topPaths        = 10
	maxAlertRows    = 30
)

// Options say what a weekly report covers.
type Options struct {
	// Job is the one job of the report; empty makes the overall report.
	Job string
	// Jobs limit the overall report to these jobs; empty means every job
	// with requests in the store.
	Jobs []string
	// From and To bound the period [From, To); the previous period, for
	// week-over-week change, is as long and ends at From.
	From, To time.Time
	// Location is the zone of day boundaries and shown times; nil is the
	// host's.
	Location *time.Location
}

// Weekly is a built report: every figure of the period and of the one
// before it. Rates are per second, durations in seconds, shares in 0…1.
type Weekly struct {
	Job       string   // the job, or "" for the overall report
	Jobs      []string // the jobs covered (found in either period), sorted
	From, To  time.Time
	PrevFrom  time.Time // the previous period is [PrevFrom, From)
	Location  *time.Location
	Generated time.Time
	Took      time.Duration // how long the queries took

	Cur, Prev Traffic
	// ByJob holds each job's figures in the overall report, by job name.
	ByJob map[string]*JobTraffic

	Days, PrevDays []Day // each day of the period, in Location

	// Hourly series of the period (Prev: of the previous one, shifted
	// forward by one period so that they line up), each point at the end
	// of its hour.
	HourlyRPS, PrevHourlyRPS []metricstore.Point // average request rate
	HourlyPeakRPS            []metricstore.Point // highest 1-minute rate in the hour
	HourlyLatency            [3][]metricstore.Point
	Hourly5xx                []metricstore.Point // 5xx responses

	SlowPaths    []PathRow // by p95, paths with at least MinPathRequests
	SlowAllPaths bool      // no path had MinPathRequests: every path ranked
	FailingPaths []PathRow // by 5xx responses

	Alerts Alerts
	Hosts  []Host

	Notes []string // what could not be shown and why
}

// Quantiles are the latency percentiles of the report, in the order of
// Traffic.Latency and Weekly.HourlyLatency.
var Quantiles = [3]float64{0.5, 0.95, 0.99}

// Traffic is the request figures of one period.
type Traffic struct {
	Found     bool // any request series in the period
	Requests  float64
	Errors5xx float64
	Errors4xx float64
	Bytes     float64
	PeakRPS   float64
	PeakAt    time.Time // end of the peak's 1-minute window; zero when none
	// Latency holds p50, p95, p99 (Quantiles), NaN without a histogram.
	Latency [3]float64
	Mean    float64 // NaN without a histogram
}

// Availability is the share of responses that are not 5xx; NaN without
// requests.
func (t Traffic) Availability() float64 {
	if t.Requests <= 0 {
		return math.NaN()
	}
	return 1 - t.Errors5xx/t.Requests
}

// JobTraffic is one job's figures in the overall report.
type JobTraffic struct {
	Cur, Prev Traffic
}

// Day is one day of a period.
type Day struct {
	From, To  time.Time // in Location
	Requests  float64
	Errors5xx float64
	P95       float64 // NaN without a histogram
	PeakRPS   float64
	PeakAt    time.Time
}

// PathRow is one path in the slowest or most failing paths.
type PathRow struct {
	Job, Path string
	Cur, Prev PathFigures
}

// PathFigures are a path's figures in one period.
type PathFigures struct {
	Found     bool
	Requests  float64
	Errors5xx float64
	P50, P95  float64 // NaN without a histogram
}

// Alerts are the alerts of the period, from the event log.
type Alerts struct {
	Available  bool   // the event log could be read
	Why        string // why not, when not
	Fired      int    // alerts that started in the period
	PrevFired  int    // in the previous period
	List       []events.Event
	More       int // alerts beyond List
	ByName     []NameCount
	PrevByName map[string]int
}

// NameCount is how often an alert fired.
type NameCount struct {
	Name  string
	Count int
}

// Host is one host's saturation peaks.
type Host struct {
	Instance  string
	Cur, Prev HostPeaks
	// Series of the period at HostStep, for the charts.
	CPU, Mem, NetIn, NetOut []metricstore.Point
}

// HostPeaks are one host's highest figures in a period.
type HostPeaks struct {
	Found       bool
	CPU, CPUAvg float64 // busy %, the highest HostStep average and the period's
	CPUAt       time.Time
	Mem         float64 // used %, the highest sample
	MemAt       time.Time
	NetIn       float64 // bytes per second, the highest HostStep average
	NetInAt     time.Time
	NetOut      float64
	NetOutAt    time.Time
	Disk        float64 // used %, the fullest filesystem at its fullest
	DiskMount   string
}

// Build queries q (and ev for alerts; nil leaves them out) and returns
// the weekly report of opts.
func Build(ctx context.Context, q Querier, ev EventLister, opts Options) (*Weekly, error) {
	if !opts.To.After(opts.From) {
		return nil, fmt.Errorf("report period %s to %s: the end must be after the start", opts.From.Format(time.RFC3339), opts.To.Format(time.RFC3339))
	}
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	start := time.Now()
	span := opts.To.Sub(opts.From)
	w := &Weekly{
		Job:      opts.Job,
		From:     opts.From.In(loc),
		To:       opts.To.In(loc),
		PrevFrom: opts.From.Add(-span).In(loc),
		Location: loc,
	}
	b := &builder{q: q, sel: selector(opts), overall: opts.Job == ""}
	// The parts of the report are independent: query them at once.
	var cur, prev *measured
	err := parallel(
		func() (err error) { cur, err = b.measure(ctx, w.From, w.To, loc); return err },
		func() (err error) { prev, err = b.measure(ctx, w.PrevFrom, w.From, loc); return err },
		func() error { return b.hourly(ctx, w) },
		func() error { return b.paths(ctx, w) },
		func() error { return b.hosts(ctx, w) },
		func() error { w.Alerts = alerts(ctx, ev, opts.Job, w.From, w.To, w.PrevFrom); return nil },
	)
	if err != nil {
		return nil, err
	}
	w.Cur, w.Prev = cur.total, prev.total
	w.Days, w.PrevDays = cur.days, prev.days
	w.HourlyPeakRPS = cur.hourlyPeak
	jobs := map[string]bool{}
	for j := range cur.byJob {
		jobs[j] = true
	}
	for j := range prev.byJob {
		jobs[j] = true
	}
	for j := range jobs {
		w.Jobs = append(w.Jobs, j)
	}
	slices.Sort(w.Jobs)
	if b.overall {
		w.ByJob = map[string]*JobTraffic{}
		for _, j := range w.Jobs {
			jt := &JobTraffic{}
			if t := cur.byJob[j]; t != nil {
				jt.Cur = *t
			}
			if t := prev.byJob[j]; t != nil {
				jt.Prev = *t
			}
			w.ByJob[j] = jt
		}
	}
	if !w.Alerts.Available {
		w.Notes = append(w.Notes, "Alerts: "+w.Alerts.Why+".")
	}
	w.Generated = time.Now().In(loc)
	w.Took = time.Since(start)
	return w, nil
}

// parallel runs fns at once and returns their errors, joined.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, f := range fns {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// selector returns the label matchers of the report's request series.
func selector(o Options) string {
	switch {
	case o.Job != "":
		return "job=" + strconv.Quote(o.Job)
	case len(o.Jobs) > 0:
		q := make([]string, len(o.Jobs))
		for i, j := range o.Jobs {
			q[i] = regexp.QuoteMeta(j)
		}
		return "job=~" + strconv.Quote(strings.Join(q, "|"))
	}
	return `job!=""`
}

// builder runs a report's queries.
type builder struct {
	q       Querier
	sel     string
	overall bool
}

// rng is a PromQL range of d, exact to the millisecond.
func rng(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// at evaluates expr at t.
func (b *builder) at(ctx context.Context, expr string, t time.Time) ([]metricstore.Series, error) {
	s, err := b.q.QueryRange(ctx, expr, t, t, time.Minute)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", expr, err)
	}
	return s, nil
}

// by evaluates expr at t and returns each series' value by the values of
// the labels names, joined by "\x00".
func (b *builder) by(ctx context.Context, expr string, t time.Time, names ...string) (map[string]float64, error) {
	ss, err := b.at(ctx, expr, t)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(ss))
	for _, s := range ss {
		if len(s.Points) == 0 {
			continue
		}
		out[key(s.Labels, names...)] = s.Points[len(s.Points)-1].V
	}
	return out, nil
}

func (b *builder) series(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]metricstore.Series, error) {
	s, err := b.q.QueryRange(ctx, expr, start, end, step)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", expr, err)
	}
	return s, nil
}

func key(ls metricstore.Labels, names ...string) string {
	vals := make([]string, len(names))
	for i, n := range names {
		vals[i] = ls.Get(n)
	}
	return strings.Join(vals, "\x00")
}

func sum(m map[string]float64) float64 {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same order every time: the same float sum
	s := 0.0
	for _, k := range keys {
		s += m[k]
	}
	return s
}

// The report's queries; %[1]s is the selector, %[2]s the range. Counts
// are fetched by status and histograms by bucket, once, and split and
// turned into percentiles here: fewer passes over the samples.
const (
	qStatus    = `sum by (job, status) (increase(http_requests_total{%[1]s}[%[2]s] anchored))`
	qDayStatus = `sum by (status) (increase(http_requests_total{%[1]s}[%[2]s] anchored))`
	qBytes     = `sum by (job) (increase(http_response_bytes_total{%[1]s}[%[2]s] anchored))`
	qDurSum    = `sum by (job) (increase(http_request_duration_seconds_sum{%[1]s}[%[2]s] anchored))`
	qDurCount  = `sum by (job) (increase(http_request_duration_seconds_count{%[1]s}[%[2]s] anchored))`
	qBuckets   = `sum by (job, le) (increase(http_request_duration_seconds_bucket{%[1]s}[%[2]s] anchored))`
	qDayBucket = `sum by (le) (increase(http_request_duration_seconds_bucket{%[1]s}[%[2]s] anchored))`
	qRate      = `sum by (job) (rate(http_requests_total{%[1]s}[%[2]s] anchored))`
	qRateAll   = `sum(rate(http_requests_total{%[1]s}[%[2]s] anchored))`
	q5xxAll    = `sum(increase(http_requests_total{%[1]s,status=~"5.."}[%[2]s] anchored))`
	qRateBkt   = `sum by (le) (rate(http_request_duration_seconds_bucket{%[1]s}[%[2]s] anchored))`

	qPathStatus = `sum by (job, path, status) (increase(http_requests_total{%[1]s}[%[2]s] anchored))`
	qPathBucket = `sum by (job, path, le) (increase(http_request_duration_seconds_bucket{%[1]s}[%[2]s] anchored))`

	qCPU    = `100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[%[2]s] anchored)))`
	qMem    = `100 * max by (instance) (1 - min_over_time(node_memory_MemAvailable_bytes[%[2]s]) / max_over_time(node_memory_MemTotal_bytes[%[2]s]))`
	qNetIn  = `sum by (instance) (rate(node_network_receive_bytes_total{device!="lo"}[%[2]s] anchored))`
	qNetOut = `sum by (instance) (rate(node_network_transmit_bytes_total{device!="lo"}[%[2]s] anchored))`
	qDisk   = `max by (instance, mountpoint) (100 * (1 - min_over_time(node_filesystem_avail_bytes[%[2]s]) / max_over_time(node_filesystem_size_bytes[%[2]s])))`
)

func (b *builder) expr(tmpl string, d time.Duration) string {
	return fmt.Sprintf(tmpl, b.sel, rng(d))
}

// histograms holds classic histograms by a key: bucket counts by bound.
type histograms map[string]map[float64]float64

// add counts v in the bucket le of key.
func (h histograms) add(key, le string, v float64) {
	ub, err := strconv.ParseFloat(le, 64)
	if err != nil {
		return // not a bucket bound
	}
	if h[key] == nil {
		h[key] = map[float64]float64{}
	}
	h[key][ub] += v
}

// quantile returns the q-quantile of key's histogram (NaN without one), as
// histogram_quantile does.
func (h histograms) quantile(key string, q float64) float64 {
	m := h[key]
	if len(m) == 0 {
		return math.NaN()
	}
	bs := make([]metricstore.Bucket, 0, len(m))
	for ub, c := range m {
		bs = append(bs, metricstore.Bucket{UpperBound: ub, Count: c})
	}
	return metricstore.BucketQuantile(q, bs)
}

// buckets evaluates expr, a sum by the labels names and le, at t.
func (b *builder) buckets(ctx context.Context, expr string, t time.Time, names ...string) (histograms, error) {
	ss, err := b.at(ctx, expr, t)
	if err != nil {
		return nil, err
	}
	h := histograms{}
	for _, s := range ss {
		if len(s.Points) > 0 {
			h.add(key(s.Labels, names...), s.Labels.Get("le"), s.Points[len(s.Points)-1].V)
		}
	}
	return h, nil
}

// statusCounts are request counts split by status class.
type statusCounts struct{ all, e5xx, e4xx float64 }

func (c *statusCounts) add(status string, v float64) {
	c.all += v
	switch {
	case strings.HasPrefix(status, "5"):
		c.e5xx += v
	case strings.HasPrefix(status, "4"):
		c.e4xx += v
	}
}

// byStatus evaluates expr, a sum by names and status, at t, and returns
// the counts by the values of names.
func (b *builder) byStatus(ctx context.Context, expr string, t time.Time, names ...string) (map[string]*statusCounts, error) {
	ss, err := b.at(ctx, expr, t)
	if err != nil {
		return nil, err
	}
	// Add in a fixed order: the same float sums every time.
	slices.SortFunc(ss, func(x, y metricstore.Series) int { return metricstore.Compare(x.Labels, y.Labels) })
	out := map[string]*statusCounts{}
	for _, s := range ss {
		if len(s.Points) == 0 {
			continue
		}
		k := key(s.Labels, names...)
		if out[k] == nil {
			out[k] = &statusCounts{}
		}
		out[k].add(s.Labels.Get("status"), s.Points[len(s.Points)-1].V)
	}
	return out, nil
}

// measured are the request figures of one period.
type measured struct {
	total      Traffic
	byJob      map[string]*Traffic
	days       []Day
	hourlyPeak []metricstore.Point
}

// days splits [from, to) at midnights in loc.
func days(from, to time.Time, loc *time.Location) [][2]time.Time {
	var out [][2]time.Time
	for t := from.In(loc); t.Before(to); {
		y, m, d := t.Date()
		next := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		if next.After(to) {
			next = to
		}
		out = append(out, [2]time.Time{t, next.In(loc)})
		t = next
	}
	return out
}

func newTraffic() *Traffic {
	return &Traffic{Mean: math.NaN(), Latency: [3]float64{math.NaN(), math.NaN(), math.NaN()}}
}

func (b *builder) measure(ctx context.Context, from, to time.Time, loc *time.Location) (*measured, error) {
	span := to.Sub(from)
	m := &measured{byJob: map[string]*Traffic{}}
	total := newTraffic()
	counts, err := b.byStatus(ctx, b.expr(qStatus, span), to, "job")
	if err != nil {
		return nil, err
	}
	for _, j := range slices.Sorted(maps.Keys(counts)) {
		c := counts[j]
		t := newTraffic()
		t.Found, t.Requests, t.Errors5xx, t.Errors4xx = true, c.all, c.e5xx, c.e4xx
		m.byJob[j] = t
		total.Found = true
		total.Requests += c.all
		total.Errors5xx += c.e5xx
		total.Errors4xx += c.e4xx
	}
	bytes, err := b.by(ctx, b.expr(qBytes, span), to, "job")
	if err != nil {
		return nil, err
	}
	for j, v := range bytes {
		if t := m.byJob[j]; t != nil {
			t.Bytes = v
		}
	}
	total.Bytes = sum(bytes)
	durSum, err := b.by(ctx, b.expr(qDurSum, span), to, "job")
	if err != nil {
		return nil, err
	}
	durCount, err := b.by(ctx, b.expr(qDurCount, span), to, "job")
	if err != nil {
		return nil, err
	}
	for j, c := range durCount {
		if t := m.byJob[j]; t != nil && c > 0 {
			t.Mean = durSum[j] / c
		}
	}
	if c := sum(durCount); c > 0 {
		total.Mean = sum(durSum) / c
	}
	hist, err := b.buckets(ctx, b.expr(qBuckets, span), to, "job")
	if err != nil {
		return nil, err
	}
	all := histograms{}
	for _, j := range slices.Sorted(maps.Keys(hist)) {
		for ub, c := range hist[j] {
			if all[""] == nil {
				all[""] = map[float64]float64{}
			}
			all[""][ub] += c
		}
	}
	for i, q := range Quantiles {
		total.Latency[i] = all.quantile("", q)
		for j, t := range m.byJob {
			t.Latency[i] = hist.quantile(j, q)
		}
	}

	// Days, and the peak: the rate over PeakWindow every PeakStep, a day
	// at a time (a day is 5,760 steps, under the API's 11,000 points).
	hourly := map[int]metricstore.Point{}
	for _, d := range days(from, to, loc) {
		day := Day{From: d[0], To: d[1], P95: math.NaN()}
		dspan := d[1].Sub(d[0])
		c, err := b.byStatus(ctx, b.expr(qDayStatus, dspan), d[1])
		if err != nil {
			return nil, err
		}
		if c := c[""]; c != nil {
			day.Requests, day.Errors5xx = c.all, c.e5xx
		}
		h, err := b.buckets(ctx, b.expr(qDayBucket, dspan), d[1])
		if err != nil {
			return nil, err
		}
		day.P95 = h.quantile("", Quantiles[1])
		// Windows lie inside the period: the first ends PeakWindow in.
		start := d[0].Add(PeakStep)
		if first := from.Add(PeakWindow); start.Before(first) {
			start = first
		}
		if start.After(d[1]) {
			m.days = append(m.days, day)
			continue
		}
		ss, err := b.series(ctx, b.expr(qRate, PeakWindow), start, d[1], PeakStep)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(ss, func(x, y metricstore.Series) int { return metricstore.Compare(x.Labels, y.Labels) })
		perStep := map[int64]float64{}
		for _, s := range ss {
			t := m.byJob[s.Labels.Get("job")]
			for _, p := range s.Points {
				perStep[p.T] += p.V
				if t != nil && peakBetter(p, t.PeakRPS, t.PeakAt) {
					t.PeakRPS, t.PeakAt = p.V, time.UnixMilli(p.T).In(loc)
				}
			}
		}
		for _, t := range slices.Sorted(maps.Keys(perStep)) {
			p := metricstore.Point{T: t, V: perStep[t]}
			if peakBetter(p, day.PeakRPS, day.PeakAt) {
				day.PeakRPS, day.PeakAt = p.V, time.UnixMilli(t).In(loc)
			}
			if peakBetter(p, total.PeakRPS, total.PeakAt) {
				total.PeakRPS, total.PeakAt = p.V, time.UnixMilli(t).In(loc)
			}
			// The hour the window ends in, counted from the period start.
			h := int((time.UnixMilli(t).Sub(from) - time.Millisecond) / time.Hour)
			if hp, ok := hourly[h]; !ok || p.V > hp.V {
				hourly[h] = metricstore.Point{T: from.Add(time.Duration(h+1) * time.Hour).UnixMilli(), V: p.V}
			}
		}
		m.days = append(m.days, day)
	}
	for _, h := range slices.Sorted(maps.Keys(hourly)) {
		m.hourlyPeak = append(m.hourlyPeak, hourly[h])
	}
	m.total = *total
	return m, nil
}

// peakBetter reports whether p beats the peak v at at: higher, or as high
// and earlier (the first of equal peaks is the one shown).
func peakBetter(p metricstore.Point, v float64, at time.Time) bool {
	if math.IsNaN(p.V) {
		return false
	}
	return at.IsZero() || p.V > v || p.V == v && p.T < at.UnixMilli()
}

// hourly fills the hourly series of w.
func (b *builder) hourly(ctx context.Context, w *Weekly) error {
	span := w.To.Sub(w.From)
	if span < time.Hour {
		return nil
	}
	first := w.From.Add(time.Hour)
	get := func(expr string, from, to time.Time, shift time.Duration) ([]metricstore.Point, error) {
		ss, err := b.series(ctx, expr, from, to, time.Hour)
		if err != nil || len(ss) == 0 {
			return nil, err
		}
		pts := ss[0].Points
		for i := range pts {
			pts[i].T += shift.Milliseconds()
		}
		return pts, nil
	}
	var err error
	if w.HourlyRPS, err = get(b.expr(qRateAll, time.Hour), first, w.To, 0); err != nil {
		return err
	}
	if w.PrevHourlyRPS, err = get(b.expr(qRateAll, time.Hour), w.PrevFrom.Add(time.Hour), w.From, span); err != nil {
		return err
	}
	if w.Hourly5xx, err = get(b.expr(q5xxAll, time.Hour), first, w.To, 0); err != nil {
		return err
	}
	// Latency: the buckets' rates each hour, then the quantiles.
	ss, err := b.series(ctx, b.expr(qRateBkt, time.Hour), first, w.To, time.Hour)
	if err != nil {
		return err
	}
	byTime := histograms{}
	for _, s := range ss {
		for _, p := range s.Points {
			byTime.add(strconv.FormatInt(p.T, 10), s.Labels.Get("le"), p.V)
		}
	}
	times := make([]int64, 0, len(byTime))
	for k := range byTime {
		t, _ := strconv.ParseInt(k, 10, 64)
		times = append(times, t)
	}
	slices.Sort(times)
	for _, t := range times {
		k := strconv.FormatInt(t, 10)
		for i, q := range Quantiles {
			if v := byTime.quantile(k, q); !math.IsNaN(v) {
				w.HourlyLatency[i] = append(w.HourlyLatency[i], metricstore.Point{T: t, V: v})
			}
		}
	}
	return nil
}

// paths fills the slowest and the most failing paths.
func (b *builder) paths(ctx context.Context, w *Weekly) error {
	span := w.To.Sub(w.From)
	figures := func(to time.Time) (map[string]*PathFigures, error) {
		counts, err := b.byStatus(ctx, b.expr(qPathStatus, span), to, "job", "path")
		if err != nil {
			return nil, err
		}
		hist, err := b.buckets(ctx, b.expr(qPathBucket, span), to, "job", "path")
		if err != nil {
			return nil, err
		}
		out := map[string]*PathFigures{}
		for k, c := range counts {
			out[k] = &PathFigures{Found: true, Requests: c.all, Errors5xx: c.e5xx, P50: hist.quantile(k, 0.5), P95: hist.quantile(k, 0.95)}
		}
		return out, nil
	}
	cur, err := figures(w.To)
	if err != nil {
		return err
	}
	prev, err := figures(w.From)
	if err != nil {
		return err
	}
	var rows []PathRow
	for k, f := range cur {
		job, path, _ := strings.Cut(k, "\x00")
		r := PathRow{Job: job, Path: path, Cur: *f}
		if p := prev[k]; p != nil {
			r.Prev = *p
		}
		rows = append(rows, r)
	}
	byName := func(a, b PathRow) int { return cmp.Or(cmp.Compare(a.Job, b.Job), cmp.Compare(a.Path, b.Path)) }
	var slow []PathRow
	for _, r := range rows {
		if r.Cur.Requests >= MinPathRequests && !math.IsNaN(r.Cur.P95) {
			slow = append(slow, r)
		}
	}
	if len(slow) == 0 {
		for _, r := range rows {
			if r.Cur.Requests > 0 && !math.IsNaN(r.Cur.P95) {
				slow = append(slow, r)
			}
		}
		w.SlowAllPaths = len(slow) > 0
	}
	slices.SortFunc(slow, func(a, b PathRow) int {
		return cmp.Or(-cmp.Compare(a.Cur.P95, b.Cur.P95), -cmp.Compare(a.Cur.Requests, b.Cur.Requests), byName(a, b))
	})
	w.SlowPaths = slow[:min(len(slow), topPaths)]
	var failing []PathRow
	for _, r := range rows {
		if r.Cur.Errors5xx > 0 {
			failing = append(failing, r)
		}
	}
	slices.SortFunc(failing, func(a, b PathRow) int {
		return cmp.Or(-cmp.Compare(a.Cur.Errors5xx, b.Cur.Errors5xx), byName(a, b))
	})
	w.FailingPaths = failing[:min(len(failing), topPaths)]
	return nil
}
