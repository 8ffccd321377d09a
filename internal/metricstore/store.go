package metricstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// Labels is a series' label set, sorted by name.
//
// It is Prometheus's labels.Labels, re-exported rather than wrapped: the
// TSDB keys series by it, and converting a type of ours on every sample
// would cost an allocation per append (the issue asks for ingest within 10%
// of the raw head appender). Callers build it with FromStrings or FromMap
// and need not import Prometheus; if its Go API changes, this file absorbs it.
type Labels = labels.Labels

// Label is one name and value of Labels.
type Label = labels.Label

// Histogram is a native histogram sample with integer counts: Prometheus's
// histogram.Histogram, re-exported as Labels is.
type Histogram = histogram.Histogram

// FromStrings returns the labels of name/value pairs, sorted; it panics on
// an odd count, a programmer's mistake.
func FromStrings(nameValues ...string) Labels { return labels.FromStrings(nameValues...) }

// FromMap returns the labels of m, sorted by name.
func FromMap(m map[string]string) Labels { return labels.FromMap(m) }

// SeriesRef names a series to an Appender so that later appends of the
// same series skip the label lookup. 0 means unknown. A ref is a hint: it
// may stop being valid (after a restart, or when the series is dropped from
// memory), and Append then finds the series by its labels.
type SeriesRef uint64

// Appender adds samples in one transaction: nothing appended is visible or
// durable until Commit returns nil; Rollback drops it. An Appender is used
// by one goroutine and is done after Commit or Rollback.
type Appender interface {
	// Append adds the float sample v at t (Unix milliseconds) to the
	// series ls, and returns the series' ref for the next Append.
	Append(ref SeriesRef, ls Labels, t int64, v float64) (SeriesRef, error)
	// AppendHistogram adds the native histogram sample h at t to the
	// series ls, as Append does a float sample. h is the store's
	// afterwards: the TSDB may rewrite it in place (to an equal
	// histogram with more empty buckets), so pass a copy of one that
	// others read.
	AppendHistogram(ref SeriesRef, ls Labels, t int64, h *Histogram) (SeriesRef, error)
	// Commit makes the appended samples durable (written to the WAL) and
	// queryable.
	Commit() error
	// Rollback drops the appended samples.
	Rollback() error
}

// Appendable gives Appenders: what parts that write samples need from the
// store (component.Deps.Metrics).
type Appendable interface {
	Appender(ctx context.Context) Appender
}

// Errors of Append, to test with errors.Is. The Prometheus errors they
// stand for match them too.
var (
	// ErrOutOfOrder: the sample is older than the series' newest sample.
	ErrOutOfOrder = storage.ErrOutOfOrderSample
	// ErrOutOfBounds: the sample is too old for the in-memory head block.
	ErrOutOfBounds = storage.ErrOutOfBounds
	// ErrDuplicate: the series already has another value at this time.
	ErrDuplicate = storage.ErrDuplicateSampleForTimestamp
	// ErrClosed: the store is not open (yet, or any more).
	ErrClosed = errors.New("metric store is not open")
)

// Options configure a Store. The zero value is usable: every zero field
// takes the default named on it.
type Options struct {
	// Retention is how long samples are kept; 0 means 15 days.
	Retention time.Duration
	// RetentionSize caps the bytes of the persisted blocks (the WAL is
	// not counted); the oldest blocks go first. 0 means no cap.
	RetentionSize int64
	// QueryTimeout bounds one PromQL query; 0 means 2 minutes.
	QueryTimeout time.Duration
	// MaxSamples bounds the samples one query may hold in memory at once;
	// 0 means 50 million (as Prometheus).
	MaxSamples int
	// LookbackDelta is how far back an instant selector looks for a
	// sample; 0 means 5 minutes.
	LookbackDelta time.Duration
	// Logger gets the TSDB's and the engine's messages; nil discards them.
	Logger *slog.Logger
	// Registerer gets the TSDB's and the engine's own metrics
	// (prometheus_tsdb_*, prometheus_engine_*); nil registers none.
	Registerer prometheus.Registerer
}

// Defaults of Options.
const (
	DefaultRetention     = 15 * 24 * time.Hour
	DefaultQueryTimeout  = 2 * time.Minute
	DefaultMaxSamples    = 50_000_000
	DefaultLookbackDelta = 5 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = DefaultLookbackDelta
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Store is an open metric store: a TSDB in one directory and a PromQL
// engine over it. Its methods are safe for concurrent use.
type Store struct {
	dir    string
	opts   Options
	db     *tsdb.DB
	engine *promql.Engine
	parser parser.Parser
	closed atomic.Bool

	mu   sync.Mutex // guards meta
	meta map[string]Metadata
}

// Metadata describes a metric family for /api/v1/metadata.
type Metadata struct {
	Type string `json:"type"` // counter, gauge, histogram, summary, unknown
	Help string `json:"help"`
	Unit string `json:"unit"`
}

// Open opens (or creates) the store in dir, replaying its write-ahead log:
// every sample committed before a crash is there again. It fails when
// another process has dir open.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open metric store %s: %w", dir, err)
	}
	to := tsdb.DefaultOptions()
	to.RetentionDuration = opts.Retention.Milliseconds()
	to.MaxBytes = opts.RetentionSize
	to.WALCompression = "snappy"
	db, err := tsdb.Open(dir, opts.Logger, opts.Registerer, to, nil)
	if err != nil {
		return nil, fmt.Errorf("open metric store %s: %w", dir, err)
	}
	return &Store{
		dir:  dir,
		opts: opts,
		db:   db,
		engine: promql.NewEngine(promql.EngineOpts{
			Logger:                   opts.Logger,
			Reg:                      opts.Registerer,
			MaxSamples:               opts.MaxSamples,
			Timeout:                  opts.QueryTimeout,
			LookbackDelta:            opts.LookbackDelta,
			EnableAtModifier:         true,
			EnableNegativeOffset:     true,
			EnableDelayedNameRemoval: true,
			NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
		}),
		parser: parser.NewParser(parser.Options{}),
		meta:   map[string]Metadata{},
	}, nil
}

// Dir returns the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

// Appender returns a new transaction.
func (s *Store) Appender(ctx context.Context) Appender {
	if s.closed.Load() {
		return errAppender{ErrClosed}
	}
	return appender{s.db.AppenderV2(ctx)}
}

// Ready returns nil while the store is open.
func (s *Store) Ready() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Close flushes nothing more (committed samples are in the WAL already)
// and releases the directory. It is safe to call twice.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close metric store %s: %w", s.dir, err)
	}
	return nil
}

// SetMetadata records the type, help and unit of the metric family name,
// as /api/v1/metadata shows them. It is kept in memory only: writers set it
// when they start.
func (s *Store) SetMetadata(name string, m Metadata) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meta[name] = m
}

func (s *Store) metadata() map[string]Metadata {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Metadata, len(s.meta))
	for k, v := range s.meta {
		out[k] = v
	}
	return out
}

// appender is an Appender over the TSDB's.
type appender struct{ app storage.AppenderV2 }

func (a appender) Append(ref SeriesRef, ls Labels, t int64, v float64) (SeriesRef, error) {
	r, err := a.app.Append(storage.SeriesRef(ref), ls, 0, t, v, nil, nil, storage.AOptions{})
	return SeriesRef(r), err
}

func (a appender) AppendHistogram(ref SeriesRef, ls Labels, t int64, h *Histogram) (SeriesRef, error) {
	r, err := a.app.Append(storage.SeriesRef(ref), ls, 0, t, 0, h, nil, storage.AOptions{})
	return SeriesRef(r), err
}

func (a appender) Commit() error   { return a.app.Commit() }
func (a appender) Rollback() error { return a.app.Rollback() }

// errAppender fails every call with err.
type errAppender struct{ err error }

func (a errAppender) Append(SeriesRef, Labels, int64, float64) (SeriesRef, error) { return 0, a.err }
func (a errAppender) AppendHistogram(SeriesRef, Labels, int64, *Histogram) (SeriesRef, error) {
	return 0, a.err
}
func (a errAppender) Commit() error   { return a.err }
func (a errAppender) Rollback() error { return nil }

var (
	_ Appendable = (*Store)(nil)
	_ Appender   = appender{}
	_ Appender   = errAppender{}
)

// Sample is one sample of a series, a float or a native histogram: what
// sources (the watchdog's log jobs, status pages, host metrics) produce
// and outputs (this store, remote_write, OpenTSDB) consume.
type Sample struct {
	Labels Labels  // with __name__
	T      int64   // Unix milliseconds
	V      float64 // the value of a float sample
	// H, when not nil, makes this a native histogram sample (V is then
	// 0 and unused). Outputs that carry only floats (OpenTSDB) skip it.
	H *Histogram
}

// Compare orders label sets as Prometheus does.
func Compare(a, b Labels) int { return labels.Compare(a, b) }
