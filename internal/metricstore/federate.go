package metricstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/dandan-sre/dandan/internal/httpapi"
)

// federateFormats returns the formats /federate offers, in Prometheus's
// order of preference, then OpenMetrics; the text format is the default.
func federateFormats() []expfmt.Format {
	return []expfmt.Format{
		expfmt.NewFormat(expfmt.TypeProtoDelim),
		expfmt.NewFormat(expfmt.TypeProtoText),
		expfmt.NewFormat(expfmt.TypeProtoCompact),
		expfmt.NewFormat(expfmt.TypeTextPlain),
		expfmt.FmtOpenMetrics_1_0_0,
		expfmt.FmtOpenMetrics_0_0_1,
	}
}

// federate answers GET /federate?match[]=<selector>… (role viewer; README
// route table: | `GET /federate` | viewer |), as Prometheus's
// web/federate.go: the newest sample, at most the lookback delta old, of
// every series that matches one of the selectors, in the exposition format
// the Accept header asks for (text 0.0.4 by default), one family per
// metric name with its timestamps, so that another Prometheus (or dandan)
// can scrape this store with honor_labels.
//
// It differs from Prometheus's in four ways. A request without match[] is
// refused with 400, where Prometheus answers 200 and nothing. A family
// whose metadata the store knows (SetMetadata) gets its HELP and its TYPE
// counter or gauge, where Prometheus calls every float family untyped.
// The series of one name are in the order of their labels, where
// Prometheus leaves that order to an unstable sort. OpenMetrics is offered
// too (a Prometheus 3 scraper prefers it); there a histogram with a
// fractional count is left out, as OpenMetrics 1.0 cannot carry it.
// Errors are plain text, as there, and so carry no code.
func (a *api) federate(w http.ResponseWriter, r *http.Request) {
	st, err := a.store()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, fmt.Sprintf("error parsing form values: %v", err), http.StatusBadRequest)
		return
	}
	match := r.Form["match[]"]
	if len(match) == 0 {
		http.Error(w, "no match[] parameter provided", http.StatusBadRequest)
		return
	}
	// As Prometheus, and unlike /api/v1/series, a selector whose matchers
	// all match the empty label ({job=~".*"}) is taken: it selects every
	// series, as {__name__=~".+"} does.
	sets, err := st.parser.ParseMetricSelectors(match)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	vec, done, err := st.latest(r.Context(), sets, a.now())
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusServiceUnavailable
		} else {
			a.log.LogAttrs(r.Context(), slog.LevelError, "federate failed", slog.String("path", r.URL.Path),
				slog.String("request_id", httpapi.RequestID(r.Context())), slog.Any("err", err))
		}
		http.Error(w, err.Error(), status)
		return
	}
	defer done()

	format := expfmt.NegotiateAccept(r.Header, federateFormats()...)
	w.Header().Set("Content-Type", string(format))
	enc := expfmt.NewEncoder(w, format)
	err = federation(vec, st.metadata(), format.FormatType(), enc.Encode)
	if c, ok := enc.(expfmt.Closer); ok && err == nil {
		err = c.Close()
	}
	if err != nil {
		// The reply has begun: the client may read a truncated body.
		a.log.LogAttrs(r.Context(), slog.LevelDebug, "federate reply failed", slog.String("path", r.URL.Path),
			slog.String("request_id", httpapi.RequestID(r.Context())), slog.Any("err", err))
	}
}

// latest returns the newest sample at or before now, and after now minus
// the lookback delta, of every series that matches one of sets, sorted by
// metric name, then by labels. A series whose newest sample is a stale
// marker is left out. The samples' labels may point into the TSDB's
// memory: call done once they are no longer used.
func (s *Store) latest(ctx context.Context, sets [][]*labels.Matcher, now time.Time) (vec []promql.Sample, done func(), err error) {
	mint := now.Add(-s.opts.LookbackDelta).UnixMilli()
	maxt := now.UnixMilli()
	q, err := s.db.Querier(mint, maxt)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			q.Close()
		}
	}()
	hints := &storage.SelectHints{Start: mint, End: maxt}
	sss := make([]storage.SeriesSet, 0, len(sets))
	for _, ms := range sets {
		sss = append(sss, q.Select(ctx, true, hints, ms...))
	}
	set := storage.NewMergeSeriesSet(sss, 0, storage.ChainedSeriesMerge)
	it := storage.NewBuffer(s.opts.LookbackDelta.Milliseconds())
	var chk chunkenc.Iterator
	for i := 1; set.Next(); i++ {
		if i%checkContextEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		series := set.At()
		chk = series.Iterator(chk)
		it.Reset(chk)
		var (
			t  int64
			f  float64
			fh *histogram.FloatHistogram
		)
		switch it.Seek(maxt) {
		case chunkenc.ValFloat:
			t, f = it.At()
		case chunkenc.ValFloatHistogram, chunkenc.ValHistogram:
			t, fh = it.AtFloatHistogram(nil)
		default:
			prev, ok := it.PeekBack(1)
			if !ok {
				continue
			}
			t = prev.T()
			switch prev.Type() {
			case chunkenc.ValFloat:
				f = prev.F()
			case chunkenc.ValHistogram:
				fh = prev.H().ToFloat(nil)
			case chunkenc.ValFloatHistogram:
				fh = prev.FH().Copy() // the buffer is reused for the next series
			default:
				continue
			}
		}
		// The exposition formats have no stale markers; the scraper's own
		// staleness handling ends the series soon enough.
		if value.IsStaleNaN(f) || (fh != nil && value.IsStaleNaN(fh.Sum)) {
			continue
		}
		vec = append(vec, promql.Sample{Metric: series.Labels(), T: t, F: f, H: fh})
	}
	if err := set.Err(); err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(vec, func(a, b promql.Sample) int {
		return strings.Compare(a.Metric.Get(labels.MetricName), b.Metric.Get(labels.MetricName))
	})
	return vec, func() { q.Close() }, nil
}

// federation turns vec, sorted by name, into metric families for the
// format ft and gives each to emit, as Prometheus's federation does: a new
// family at each change of name or of kind of sample (float, histogram,
// gauge histogram), empty labels dropped, nameless series skipped, and an
// empty instance label on a series without one, so that a scraper with
// honor_labels does not give it the store's own instance. Native
// histograms go out in the protobuf formats only; histograms with custom
// buckets go out as classic histograms (in OpenMetrics 1.0, which has no
// fractional counts, only when their counts are whole).
func federation(vec []promql.Sample, meta map[string]Metadata, ft expfmt.FormatType, emit func(*dto.MetricFamily) error) error {
	proto := ft == expfmt.TypeProtoDelim || ft == expfmt.TypeProtoText || ft == expfmt.TypeProtoCompact
	var (
		fam                  *dto.MetricFamily
		lastName             string
		lastHist, lastGaugeH bool
	)
	for _, s := range vec {
		name := s.Metric.Get(labels.MetricName)
		if name == "" {
			continue
		}
		var hist *dto.Histogram
		switch {
		case s.H == nil:
		case s.H.UsesCustomBuckets():
			if hist = classicHistogram(s.H, ft == expfmt.TypeOpenMetrics); hist == nil {
				continue
			}
		case proto:
			hist = nativeHistogram(s.H)
		default:
			continue
		}
		isHist := hist != nil
		gaugeH := isHist && s.H.CounterResetHint == histogram.GaugeType
		if fam == nil || name != lastName || isHist != lastHist || gaugeH != lastGaugeH {
			if fam != nil {
				if err := emit(fam); err != nil {
					return err
				}
			}
			fam = newFamily(name, isHist, gaugeH, meta[name], ft)
			lastName, lastHist, lastGaugeH = name, isHist, gaugeH
		}
		m := &dto.Metric{TimestampMs: new(s.T), Histogram: hist}
		instance := false
		s.Metric.Range(func(l labels.Label) {
			if l.Value == "" || l.Name == labels.MetricName {
				return
			}
			instance = instance || l.Name == "instance"
			m.Label = append(m.Label, &dto.LabelPair{Name: new(l.Name), Value: new(l.Value)})
		})
		if !instance {
			m.Label = append(m.Label, &dto.LabelPair{Name: new("instance"), Value: new("")})
		}
		switch {
		case isHist:
		case fam.GetType() == dto.MetricType_COUNTER:
			m.Counter = &dto.Counter{Value: new(s.F)}
		case fam.GetType() == dto.MetricType_GAUGE:
			m.Gauge = &dto.Gauge{Value: new(s.F)}
		default:
			m.Untyped = &dto.Untyped{Value: new(s.F)}
		}
		fam.Metric = append(fam.Metric, m)
	}
	if fam != nil {
		return emit(fam)
	}
	return nil
}

// newFamily starts the family name: a histogram or gauge histogram, or a
// float family typed by its metadata (counter or gauge, with its help) or
// else untyped. OpenMetrics renames a counter without the _total suffix,
// so there such a counter stays untyped.
func newFamily(name string, hist, gaugeH bool, md Metadata, ft expfmt.FormatType) *dto.MetricFamily {
	fam := &dto.MetricFamily{Name: new(name), Type: dto.MetricType_UNTYPED.Enum()}
	switch {
	case gaugeH:
		fam.Type = dto.MetricType_GAUGE_HISTOGRAM.Enum()
	case hist:
		fam.Type = dto.MetricType_HISTOGRAM.Enum()
	case md.Type == "counter" && (ft != expfmt.TypeOpenMetrics || strings.HasSuffix(name, "_total")):
		fam.Type = dto.MetricType_COUNTER.Enum()
	case md.Type == "gauge":
		fam.Type = dto.MetricType_GAUGE.Enum()
	}
	if !hist && fam.GetType() != dto.MetricType_UNTYPED && md.Help != "" {
		fam.Help = new(md.Help)
	}
	return fam
}

// nativeHistogram is h, a histogram of a standard exponential schema, in
// the protobuf format.
func nativeHistogram(h *histogram.FloatHistogram) *dto.Histogram {
	out := &dto.Histogram{
		SampleCountFloat: new(h.Count),
		SampleSum:        new(h.Sum),
		Schema:           new(h.Schema),
		ZeroThreshold:    new(h.ZeroThreshold),
		ZeroCountFloat:   new(h.ZeroCount),
		NegativeCount:    h.NegativeBuckets,
		PositiveCount:    h.PositiveBuckets,
		PositiveSpan:     spans(h.PositiveSpans),
		NegativeSpan:     spans(h.NegativeSpans),
	}
	return out
}

func spans(ss []histogram.Span) []*dto.BucketSpan {
	if len(ss) == 0 {
		return nil
	}
	out := make([]*dto.BucketSpan, len(ss))
	for i, s := range ss {
		out[i] = &dto.BucketSpan{Offset: new(s.Offset), Length: new(s.Length)}
	}
	return out
}

// classicHistogram is h, a histogram with custom buckets, as a classic
// histogram with cumulative buckets; the encoders add the +Inf bucket.
// With integer, the counts go in the integer fields, as OpenMetrics 1.0
// needs, and a histogram with a fractional count is nil.
func classicHistogram(h *histogram.FloatHistogram, integer bool) *dto.Histogram {
	out := &dto.Histogram{
		SampleCountFloat: new(h.Count),
		SampleSum:        new(h.Sum),
		Bucket:           make([]*dto.Bucket, len(h.CustomValues)),
	}
	var (
		cum  float64
		it   = h.PositiveBucketIterator()
		more = it.Next()
	)
	for i, le := range h.CustomValues {
		for more && int(it.At().Index) < i {
			more = it.Next()
		}
		if more && int(it.At().Index) == i {
			cum += it.At().Count
		}
		out.Bucket[i] = &dto.Bucket{UpperBound: new(le), CumulativeCountFloat: new(cum)}
	}
	if !integer {
		return out
	}
	whole := func(f float64) bool { return f >= 0 && f < 1<<53 && f == math.Trunc(f) }
	if !whole(h.Count) {
		return nil
	}
	out.SampleCount, out.SampleCountFloat = new(uint64(h.Count)), nil
	for _, b := range out.Bucket {
		if !whole(*b.CumulativeCountFloat) {
			return nil
		}
		b.CumulativeCount, b.CumulativeCountFloat = new(uint64(*b.CumulativeCountFloat)), nil
	}
	return out
}
