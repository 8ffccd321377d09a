package metricstore

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/promql"
)

// Value is one series of an instant query's answer: its labels and value.
type Value struct {
	Labels Labels
	V      float64
}

// Querier answers PromQL instant queries in-process: what parts need to
// show figures from the store (component.Deps.Query).
type Querier interface {
	// QueryInstant evaluates expr at t. A scalar answer comes back as one
	// Value with no labels.
	QueryInstant(ctx context.Context, expr string, t time.Time) ([]Value, error)
}

// QueryInstant evaluates expr at t.
func (s *Store) QueryInstant(ctx context.Context, expr string, t time.Time) ([]Value, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	q, err := s.engine.NewInstantQuery(ctx, s.db, nil, expr, t)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		out := make([]Value, 0, len(v))
		for _, smp := range v {
			if smp.H != nil {
				continue
			}
			out = append(out, Value{Labels: smp.Metric, V: smp.F})
		}
		return out, nil
	case promql.Scalar:
		return []Value{{V: v.V}}, nil
	}
	return nil, fmt.Errorf("query %q: a %s answer, want a vector or a scalar", expr, res.Value.Type())
}

// QueryInstant evaluates expr at t on the open store.
func (s *Service) QueryInstant(ctx context.Context, expr string, t time.Time) ([]Value, error) {
	st := s.store.Load()
	if st == nil {
		return nil, ErrClosed
	}
	return st.QueryInstant(ctx, expr, t)
}

// SetMetadata records a metric family's type, help and unit on the open
// store; it does nothing before Start.
func (s *Service) SetMetadata(name string, m Metadata) {
	if st := s.store.Load(); st != nil {
		st.SetMetadata(name, m)
	}
}

var (
	_ Querier = (*Store)(nil)
	_ Querier = (*Service)(nil)
)
