package metricstore

import (
	"context"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// This file gives Prometheus's rule manager (github.com/prometheus/
// prometheus/rules) what it reads and writes, in Prometheus's own types:
//
//	q, app, query := store.RuleOptions()
//	rules.NewManager(&rules.ManagerOptions{Queryable: q, AppendableV2: app, QueryFunc: query, …})
//
// The rest of the package keeps Prometheus's types out of its API; only
// the rule engine (internal/alerting) needs these.

// RuleOptions returns what a rules.Manager evaluates rules with: the
// store's series to restore the alerts' `for` state from (Queryable), to
// write recorded series and ALERTS to (AppendableV2), and the store's
// PromQL engine to evaluate expressions (QueryFunc, which
// rules.EngineQueryFunc makes). Once the store is closed, all three fail
// with ErrClosed.
func (s *Store) RuleOptions() (storage.Queryable, storage.AppendableV2, rules.QueryFunc) {
	q := storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		if s.closed.Load() {
			return nil, ErrClosed
		}
		return s.db.Querier(mint, maxt)
	})
	app := appendableV2Func(func(ctx context.Context) storage.AppenderV2 {
		if s.closed.Load() {
			return errAppenderV2{ErrClosed}
		}
		return s.db.AppenderV2(ctx)
	})
	engineQuery := rules.EngineQueryFunc(s.engine, q)
	query := func(ctx context.Context, expr string, t time.Time) (promql.Vector, error) {
		if s.closed.Load() {
			return nil, ErrClosed
		}
		return engineQuery(ctx, expr, t)
	}
	return q, app, query
}

// RuleOptions returns what a rules.Manager evaluates rules with, as
// Store.RuleOptions does. They may be taken before Start: they use the
// store opened by Start, and fail with ErrClosed while there is none.
func (s *Service) RuleOptions() (storage.Queryable, storage.AppendableV2, rules.QueryFunc) {
	q := storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		st := s.store.Load()
		if st == nil {
			return nil, ErrClosed
		}
		q, _, _ := st.RuleOptions()
		return q.Querier(mint, maxt)
	})
	app := appendableV2Func(func(ctx context.Context) storage.AppenderV2 {
		st := s.store.Load()
		if st == nil {
			return errAppenderV2{ErrClosed}
		}
		_, a, _ := st.RuleOptions()
		return a.AppenderV2(ctx)
	})
	query := func(ctx context.Context, expr string, t time.Time) (promql.Vector, error) {
		st := s.store.Load()
		if st == nil {
			return nil, ErrClosed
		}
		_, _, f := st.RuleOptions()
		return f(ctx, expr, t)
	}
	return q, app, query
}

// appendableV2Func is a storage.AppendableV2 of a function.
type appendableV2Func func(ctx context.Context) storage.AppenderV2

func (f appendableV2Func) AppenderV2(ctx context.Context) storage.AppenderV2 { return f(ctx) }

// errAppenderV2 fails every call with err.
type errAppenderV2 struct{ err error }

func (a errAppenderV2) Append(storage.SeriesRef, labels.Labels, int64, int64, float64, *histogram.Histogram, *histogram.FloatHistogram, storage.AOptions) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a errAppenderV2) Commit() error   { return a.err }
func (a errAppenderV2) Rollback() error { return nil }

var _ storage.AppenderV2 = errAppenderV2{}
