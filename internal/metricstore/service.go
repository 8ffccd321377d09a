package metricstore

import (
	"context"
	"sync/atomic"

	"github.com/dandan-sre/dandan/internal/httpapi"
)

// Service runs a Store as one of `dandan up`'s shared components, named
// "metrics". NewService does no I/O; Start opens the store; Stop closes it.
// Its Appender and its routes work from Start on: before, appends fail with
// ErrClosed and the API answers 503.
type Service struct {
	dir   string
	opts  Options
	store atomic.Pointer[Store]
}

// NewService returns the component of the store in dir.
func NewService(dir string, opts Options) *Service {
	return &Service{dir: dir, opts: opts}
}

// Name returns "metrics".
func (s *Service) Name() string { return "metrics" }

// Start opens the store, replaying its WAL.
func (s *Service) Start(ctx context.Context) error {
	st, err := Open(ctx, s.dir, s.opts)
	if err != nil {
		return err
	}
	s.store.Store(st)
	return nil
}

// Stop closes the store; it is safe after a failed Start.
func (s *Service) Stop(context.Context) error {
	if st := s.store.Load(); st != nil {
		return st.Close()
	}
	return nil
}

// Ready returns nil while the store is open.
func (s *Service) Ready() error {
	st := s.store.Load()
	if st == nil {
		return ErrClosed
	}
	return st.Ready()
}

// Appender returns a transaction on the store, or one that fails with
// ErrClosed when the store is not open.
func (s *Service) Appender(ctx context.Context) Appender {
	if st := s.store.Load(); st != nil {
		return st.Appender(ctx)
	}
	return errAppender{ErrClosed}
}

// Store returns the open store, or nil before Start.
func (s *Service) Store() *Store { return s.store.Load() }

// Mount registers the Prometheus-compatible API (see Routes).
func (s *Service) Mount(m *httpapi.Mux) {
	newAPI(s.opts.Logger, func() (*Store, error) {
		st := s.store.Load()
		if st == nil {
			return nil, ErrClosed
		}
		return st, st.Ready()
	}).mount(m)
}

var _ Appendable = (*Service)(nil)
