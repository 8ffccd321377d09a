package metricstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/promql"
)

// Point is one float value of a range query's series.
type Point struct {
	T int64   // Unix milliseconds
	V float64 // the value
}

// Series is one series of a range query's answer: its labels and its
// points, oldest first. Steps where the series has no value are absent.
type Series struct {
	Labels Labels
	Points []Point
}

// RangeQuerier answers PromQL range queries in-process: what parts that
// draw charts or sum up a period need (the weekly report, boards).
type RangeQuerier interface {
	// QueryRange evaluates expr at start, start+step, … up to end. A
	// scalar answer comes back as one Series with no labels.
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error)
}

// QueryRange evaluates expr at every step from start to end, both
// included. Histogram samples (native histograms) are left out, as in
// QueryInstant.
func (s *Store) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if step <= 0 {
		return nil, fmt.Errorf("query %q: step %s: must be positive", expr, step)
	}
	if end.Before(start) {
		return nil, errors.New("query range: end is before start")
	}
	q, err := s.engine.NewRangeQuery(ctx, s.db, nil, expr, start, end, step)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	m, ok := res.Value.(promql.Matrix)
	if !ok {
		return nil, fmt.Errorf("query %q: a %s answer, want a matrix", expr, res.Value.Type())
	}
	out := make([]Series, 0, len(m))
	for _, ser := range m {
		if len(ser.Floats) == 0 {
			continue
		}
		pts := make([]Point, len(ser.Floats))
		for i, f := range ser.Floats {
			pts[i] = Point{T: f.T, V: f.F}
		}
		// The engine reuses the label memory of a closed query: copy.
		out = append(out, Series{Labels: ser.Metric.Copy(), Points: pts})
	}
	return out, nil
}

// QueryRange evaluates expr from start to end on the open store.
func (s *Service) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	st := s.store.Load()
	if st == nil {
		return nil, ErrClosed
	}
	return st.QueryRange(ctx, expr, start, end, step)
}

// Bucket is one bucket of a classic histogram: how many observations were
// at most UpperBound (cumulative, +Inf for the last).
type Bucket struct {
	UpperBound float64
	Count      float64
}

// BucketQuantile returns the q-quantile of buckets as PromQL's
// histogram_quantile does for classic histograms: buckets sorted, made
// monotonic, linear inside the bucket holding the rank, the highest finite
// bound when the rank falls in +Inf; NaN without a +Inf bucket or without
// observations. It lets callers fetch the buckets of a histogram once (a
// `sum by (le)` query) and compute several quantiles from them.
func BucketQuantile(q float64, buckets []Bucket) float64 {
	bs := make(promql.Buckets, len(buckets))
	for i, b := range buckets {
		bs[i] = promql.Bucket{UpperBound: b.UpperBound, Count: b.Count}
	}
	v, _, _, _, _, _ := promql.BucketQuantile(q, bs)
	return v
}

var (
	_ RangeQuerier = (*Store)(nil)
	_ RangeQuerier = (*Service)(nil)
)
