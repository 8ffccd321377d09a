package watch

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"

	"github.com/dandan-sre/dandan/internal/logs"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/tail"
)

// logJob tails a job's files into the access-log engine. Its reader
// goroutine counts lines; snapshot, under the same lock, takes every
// series' cumulative value together with the positions after the lines
// counted, so that a commit of both is exact.
type logJob struct {
	cfg *JobConfig
	log *slog.Logger

	mu       sync.Mutex // guards the fields below
	agg      *logs.Aggregator
	pos      map[string]tail.Position // by followed path
	fol      *tail.Follower
	lines    uint64
	lastLine time.Time
	invLog   rateLimit
	top      *topWindow
	err      error           // the follower's last error, shown on the jobs page
	emitted  map[uint64]bool // series committed before, by label hash (commit goroutine only)
	labels   labelCache      // the series' labels (commit goroutine only)

	done chan struct{}
}

func newLogJob(cfg *JobConfig, log *slog.Logger) (*logJob, error) {
	agg, err := logs.New(cfg.engineConfig())
	if err != nil {
		return nil, err
	}
	return &logJob{cfg: cfg, log: log.With("job", cfg.Name), agg: agg, pos: map[string]tail.Position{},
		top: newTopWindow(30, time.Minute), done: make(chan struct{})}, nil
}

// restore takes up counting where the last commit stopped: the series'
// values and the files' positions.
func (j *logJob) restore(fams []logs.Family, pos []tail.Position) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.agg.Restore(fams); err != nil {
		j.log.Warn("some counters start again at zero", "err", err)
	}
	for _, p := range pos {
		j.pos[p.Path] = p
	}
}

// start opens the follower at the restored positions.
func (j *logJob) start() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	cps := make([]tail.Position, 0, len(j.pos))
	for _, p := range j.pos {
		cps = append(cps, p)
	}
	f, err := tail.New(tail.Options{Globs: j.cfg.Files, FromStart: j.cfg.FromStart, Logger: j.log}, cps)
	if err != nil {
		return err
	}
	j.fol = f
	return nil
}

// run reads until ctx is done.
func (j *logJob) run(ctx context.Context) {
	defer close(j.done)
	for {
		ch, err := j.fol.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			j.mu.Lock()
			j.err = err
			j.mu.Unlock()
			j.log.Warn("reading failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		j.count(ch)
	}
}

// count feeds a chunk's lines to the engine and moves the file's position.
func (j *logJob) count(ch tail.Chunk) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.err = nil
	data := ch.Data
	n := int64(0)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			i = len(data)
		}
		line := data[:i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if !j.agg.Line(line) && j.invLog.allow() {
			attrs := []any{"file", ch.From, "err", j.agg.Err()}
			if ch.FirstLine > 0 {
				attrs = append(attrs, "line", ch.FirstLine+n)
			}
			j.log.Warn("invalid line", attrs...)
		}
		n++
		if i < len(data) {
			i++
		}
		data = data[i:]
	}
	for range ch.Skipped {
		j.agg.SkipLine()
	}
	j.lines += uint64(n) + uint64(ch.Skipped)
	j.lastLine = time.Now()
	j.pos[ch.Path] = ch.Pos
	j.top.tick(j.lastLine, j.agg)
}

// topClients returns the n clients with the most requests in the window.
func (j *logJob) topClients(n int) []logs.Client {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.top.tick(time.Now(), j.agg)
	return j.top.top(j.agg, n)
}

// snapshot appends every series of the job at t to out, and returns the
// positions the values stand for. A counter seen for the first time also
// gets a 0 at prev, the commit before: it had counted nothing then, and
// without that sample rate() could not see its first counts (Prometheus
// injects such zeros from created timestamps the same way).
func (j *logJob) snapshot(out []metricstore.Sample, t, prev int64) ([]metricstore.Sample, []tail.Position) {
	j.mu.Lock()
	fams := j.agg.Families()
	pos := make([]tail.Position, 0, len(j.pos))
	for _, p := range j.pos {
		pos = append(pos, p)
	}
	var lag []tail.Lag
	if j.fol != nil {
		lag = j.fol.Lag()
	}
	lines := j.lines
	j.mu.Unlock()
	sort.Slice(pos, func(a, b int) bool { return pos[a].Path < pos[b].Path })
	job := j.cfg.Name
	first := len(out)
	out = appendFamilies(out, fams, t, &j.labels)
	out = appendRollups(out, fams, t, &j.labels)
	out = append(out, metricstore.Sample{Labels: metricstore.FromStrings("__name__", "dandan_watch_lines_read_total", "job", job), T: t, V: float64(lines)})
	out = j.startAtZero(out, first, prev)
	for _, l := range lag {
		out = append(out, metricstore.Sample{Labels: metricstore.FromStrings("__name__", "dandan_watch_file_lag_bytes", "job", job, "path", l.Path), T: t, V: float64(l.Bytes)})
	}
	return out, pos
}

// appendFamilies turns the engine's families into samples at t. With a
// labelCache, each series' labels are made once and shared by every
// commit's samples (the journal's recent records, the last commit), not
// made again at every commit.
func appendFamilies(out []metricstore.Sample, fams []logs.Family, t int64, lc *labelCache) []metricstore.Sample {
	for _, f := range fams {
		for _, s := range f.Series {
			if s.Histogram == nil {
				out = append(out, metricstore.Sample{Labels: lc.get(f.Name, "", s.Labels, noLe), T: t, V: s.Value})
				continue
			}
			for _, b := range s.Histogram.Buckets {
				out = append(out, metricstore.Sample{Labels: lc.get(f.Name, "_bucket", s.Labels, b.UpperBound), T: t, V: float64(b.Count)})
			}
			out = append(out,
				metricstore.Sample{Labels: lc.get(f.Name, "_sum", s.Labels, noLe), T: t, V: s.Histogram.Sum},
				metricstore.Sample{Labels: lc.get(f.Name, "_count", s.Labels, noLe), T: t, V: float64(s.Histogram.Count)})
			if n := s.Histogram.Native; n != nil {
				out = append(out, metricstore.Sample{Labels: lc.get(f.Name, "", s.Labels, noLe), T: t, H: promHistogram(n)})
			}
		}
	}
	return out
}

// promHistogram returns n as Prometheus's integer histogram. Runs of
// populated buckets with gaps of up to two empty ones make one span, as
// client_golang writes them.
func promHistogram(n *logs.NativeHistogram) *metricstore.Histogram {
	h := &metricstore.Histogram{Schema: n.Schema, ZeroThreshold: n.ZeroThreshold, ZeroCount: n.ZeroCount, Count: n.Count, Sum: n.Sum}
	var prev int64
	next := int32(0)
	for i, b := range n.Buckets {
		gap := b.Index - next
		if i == 0 || gap > 2 {
			h.PositiveSpans = append(h.PositiveSpans, histogram.Span{Offset: gap})
		} else {
			for range gap {
				h.PositiveSpans[len(h.PositiveSpans)-1].Length++
				h.PositiveBuckets = append(h.PositiveBuckets, -prev)
				prev = 0
			}
		}
		h.PositiveSpans[len(h.PositiveSpans)-1].Length++
		h.PositiveBuckets = append(h.PositiveBuckets, int64(b.Count)-prev)
		prev = int64(b.Count)
		next = b.Index + 1
	}
	return h
}

// nativeOf is the inverse of promHistogram. It returns nil for a float or
// custom-bucket histogram, or one with negative buckets: never written.
func nativeOf(h *metricstore.Histogram) *logs.NativeHistogram {
	if h == nil || h.UsesCustomBuckets() || len(h.NegativeSpans) > 0 {
		return nil
	}
	n := &logs.NativeHistogram{Schema: h.Schema, ZeroThreshold: h.ZeroThreshold, ZeroCount: h.ZeroCount, Count: h.Count, Sum: h.Sum}
	var idx int32
	var count int64
	k := 0
	for _, sp := range h.PositiveSpans {
		idx += sp.Offset
		for range sp.Length {
			if k >= len(h.PositiveBuckets) {
				return nil
			}
			count += h.PositiveBuckets[k]
			k++
			if count > 0 {
				n.Buckets = append(n.Buckets, logs.NativeBucket{Index: idx, Count: uint64(count)})
			}
			idx++
		}
	}
	return n
}

// noLe stands for "no le label" in labelCache.get.
var noLe = math.NaN()

// labelCache keeps the labels of a job's series by name and label values.
// Series are never dropped by the engine (its path cap bounds them), so
// neither is an entry here.
type labelCache struct {
	m   map[string]metricstore.Labels
	key []byte
}

// get returns the labels of name+suffix with ls and, unless le is NaN,
// le. A nil cache makes new labels every time.
func (c *labelCache) get(name, suffix string, ls []logs.Label, le float64) metricstore.Labels {
	if c == nil {
		return seriesLabels(name+suffix, ls, le)
	}
	k := append(c.key[:0], name...)
	k = append(k, suffix...)
	k = append(k, 0)
	for _, l := range ls {
		k = append(k, l.Name...)
		k = append(k, 0)
		k = append(k, l.Value...)
		k = append(k, 0)
	}
	k = binary.LittleEndian.AppendUint64(k, math.Float64bits(le))
	c.key = k
	if v, ok := c.m[string(k)]; ok {
		return v
	}
	if c.m == nil {
		c.m = map[string]metricstore.Labels{}
	}
	v := seriesLabels(name+suffix, ls, le)
	c.m[string(k)] = v
	return v
}

func seriesLabels(name string, ls []logs.Label, le float64) metricstore.Labels {
	kv := make([]string, 0, 2*len(ls)+4)
	kv = append(kv, "__name__", name)
	for _, l := range ls {
		kv = append(kv, l.Name, l.Value)
	}
	if !math.IsNaN(le) {
		kv = append(kv, "le", formatLe(le))
	}
	return metricstore.FromStrings(kv...)
}

func formatLe(b float64) string {
	if math.IsInf(b, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(b, 'g', -1, 64)
}

// familiesOf rebuilds the engine's families of job from committed samples.
// Only samples at t count: a record also holds the zeros of new series
// at the commit before.
func familiesOf(samples []metricstore.Sample, job string, t int64) []logs.Family {
	plain := map[string]*logs.Family{}
	hists := map[string]*logs.Series{} // by labels without le
	var order []*logs.Family
	histFam := &logs.Family{Name: logs.MetricDuration, Type: "histogram"}
	family := func(name string) *logs.Family {
		f := plain[name]
		if f == nil {
			f = &logs.Family{Name: name, Type: "counter"}
			plain[name] = f
			order = append(order, f)
		}
		return f
	}
	for _, s := range samples {
		if s.Labels.Get("job") != job || s.T != t {
			continue
		}
		name := s.Labels.Get("__name__")
		var ls []logs.Label
		le := ""
		s.Labels.Range(func(l metricstore.Label) {
			switch l.Name {
			case "__name__":
			case "le":
				le = l.Value
			default:
				ls = append(ls, logs.Label{Name: l.Name, Value: l.Value})
			}
		})
		switch name {
		case logs.MetricRequests, logs.MetricBytes, logs.MetricReferer, logs.MetricInvalid, logs.MetricCapped:
			f := family(name)
			f.Series = append(f.Series, logs.Series{Labels: ls, Value: s.V})
		case logs.MetricDuration:
			if s.H == nil {
				continue
			}
			key := labelsKey(ls)
			h := hists[key]
			if h == nil {
				h = &logs.Series{Labels: ls, Histogram: &logs.Histogram{}}
				hists[key] = h
			}
			h.Histogram.Native = nativeOf(s.H)
		case logs.MetricDuration + "_bucket", logs.MetricDuration + "_sum", logs.MetricDuration + "_count":
			key := labelsKey(ls)
			h := hists[key]
			if h == nil {
				h = &logs.Series{Labels: ls, Histogram: &logs.Histogram{}}
				hists[key] = h
			}
			switch name {
			case logs.MetricDuration + "_sum":
				h.Histogram.Sum = s.V
			case logs.MetricDuration + "_count":
				h.Histogram.Count = uint64(s.V)
			default:
				ub, err := strconv.ParseFloat(le, 64)
				if err != nil {
					continue
				}
				h.Histogram.Buckets = append(h.Histogram.Buckets, logs.Bucket{UpperBound: ub, Count: uint64(s.V)})
			}
		}
	}
	keys := make([]string, 0, len(hists))
	for k := range hists {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h := hists[k]
		sort.Slice(h.Histogram.Buckets, func(a, b int) bool { return h.Histogram.Buckets[a].UpperBound < h.Histogram.Buckets[b].UpperBound })
		histFam.Series = append(histFam.Series, *h)
	}
	out := make([]logs.Family, 0, len(order)+1)
	for _, f := range order {
		out = append(out, *f)
	}
	return append(out, *histFam)
}

func labelsKey(ls []logs.Label) string {
	var b []byte
	for _, l := range ls {
		b = append(b, l.Name...)
		b = append(b, 0)
		b = append(b, l.Value...)
		b = append(b, 0)
	}
	return string(b)
}

// rateLimit allows a few events a minute: invalid-line samples in the log.
type rateLimit struct {
	window time.Time
	n      int
}

func (r *rateLimit) allow() bool {
	now := time.Now()
	if now.Sub(r.window) > time.Minute {
		r.window, r.n = now, 0
	}
	r.n++
	return r.n <= 5
}

// startAtZero inserts, before each counter sample of out[first:] whose
// series this job has not committed yet, a 0 at prev; for a native
// histogram, an empty histogram of the same schema marked as a counter
// reset, as Prometheus's head injects for a created timestamp.
func (j *logJob) startAtZero(out []metricstore.Sample, first int, prev int64) []metricstore.Sample {
	if j.emitted == nil {
		j.emitted = map[uint64]bool{}
	}
	var zeros []metricstore.Sample
	for _, s := range out[first:] {
		h := s.Labels.Hash()
		if j.emitted[h] {
			continue
		}
		j.emitted[h] = true
		if prev > 0 && prev < s.T {
			z := metricstore.Sample{Labels: s.Labels, T: prev}
			if s.H != nil {
				z.H = &metricstore.Histogram{CounterResetHint: histogram.CounterReset, Schema: s.H.Schema, ZeroThreshold: s.H.ZeroThreshold}
			}
			zeros = append(zeros, z)
		}
	}
	if len(zeros) == 0 {
		return out
	}
	// The zeros go first: each series' samples stay in time order.
	merged := make([]metricstore.Sample, 0, len(out)+len(zeros))
	merged = append(merged, out[:first]...)
	merged = append(merged, zeros...)
	return append(merged, out[first:]...)
}

// markEmitted records the series of samples as committed before (restored
// from the journal), so that they get no zero.
func (j *logJob) markEmitted(samples []metricstore.Sample) {
	if j.emitted == nil {
		j.emitted = map[uint64]bool{}
	}
	for _, s := range samples {
		if s.Labels.Get("job") == j.cfg.Name {
			j.emitted[s.Labels.Hash()] = true
		}
	}
}
