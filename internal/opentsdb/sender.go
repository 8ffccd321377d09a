package opentsdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// DefaultTimeout bounds a dial and the write of one batch when
// Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Backoff bounds between reconnections.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Waits for the server's error lines: after a batch is written, and before
// the next batch goes on a connection that was idle.
const (
	replyWait = 20 * time.Millisecond
	idleWait  = time.Millisecond
)

// warnEvery is how often a lasting failure is logged at Warn again.
const warnEvery = 5 * time.Minute

// maxReply bounds the bytes of an error line kept.
const maxReply = 1024

// Config says where a Sender writes.
type Config struct {
	// Name labels the metrics (output="<Name>"); Addr when empty.
	Name string
	// Addr is the host:port of the server's telnet-style listener
	// (OpenTSDB's tsd.network.port, 4242 by default).
	Addr string
	// Timeout bounds a dial and the write of one batch; DefaultTimeout
	// when zero.
	Timeout time.Duration
}

// Sender writes samples as put lines on one persistent connection. It is
// safe for concurrent use; batches are written one at a time.
type Sender struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	mu sync.Mutex // guards the fields below
	// conn is the connection, or nil until the next Send dials.
	conn  net.Conn
	buf   []byte // the lines of the batch
	reply []byte // the start of an error line not yet ended
	// failingSince is when the current run of failures began; zero while
	// batches go through.
	failingSince time.Time
	warned       time.Time // when the failure was last logged at Warn
}

// New returns a Sender for cfg with its metrics registered on reg (when
// not nil), labelled output=<cfg.Name>; a second Sender of the same name on
// reg shares them. It does no I/O: the first Send dials.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Addr
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{
		cfg:     cfg,
		log:     log,
		metrics: newMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"output": cfg.Name}, reg)),
	}
}

// Send writes the put lines of samples and returns nil once they are all
// written and the server sent no error back within a short wait. A sample
// Line skips is counted in dandan_opentsdb_samples_skipped_total. On a
// failed dial or write, or a connection the server closed, Send closes the
// connection and writes the whole batch again on a new one, waiting a
// backoff between tries, until ctx is done; it then returns an error that
// matches ctx's. A resent batch may repeat lines the server had read.
//
// The protocol answers only errors: an error line (such as "put: illegal
// argument: …") is logged and counted in dandan_opentsdb_errors_total, and
// its line is not sent again, as it would fail again.
func (s *Sender) Send(ctx context.Context, samples []metricstore.Sample) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf, lines := s.buf[:0], 0
	for _, smp := range samples {
		var skip string
		if buf, skip = appendLine(buf, smp); skip != "" {
			s.metrics.skipped.WithLabelValues(skip).Inc()
			s.log.Debug("opentsdb output skipped a sample", "err", skip)
			continue
		}
		lines++
	}
	s.buf = buf
	if lines == 0 {
		return nil
	}
	var last error
	for attempt := 0; ; attempt++ {
		err := s.write(ctx, buf)
		if err == nil {
			s.succeeded(lines)
			return nil
		}
		s.closeConn()
		if ctx.Err() != nil {
			if last == nil {
				last = err
			}
			return fmt.Errorf("opentsdb output to %s: %w (last error: %s)", s.cfg.Addr, context.Cause(ctx), last.Error())
		}
		last = err
		s.failed(err)
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("opentsdb output to %s: %w (last error: %s)", s.cfg.Addr, context.Cause(ctx), last.Error())
		case <-t.C:
		}
	}
}

// Close closes the connection; a later Send dials again.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeConn()
	return nil
}

// write writes buf on the connection, dialing when there is none.
func (s *Sender) write(ctx context.Context, buf []byte) error {
	if s.conn == nil {
		d := net.Dialer{Timeout: s.cfg.Timeout}
		c, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
		if err != nil {
			return err
		}
		s.conn = c
		s.reply = s.reply[:0]
	} else if err := s.readReplies(idleWait); err != nil {
		// The server closed the idle connection or sent errors since.
		return err
	}
	deadline := time.Now().Add(s.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := s.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	// A cancelled ctx ends a write blocked on a server that does not read.
	conn := s.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	_, err := conn.Write(buf)
	if !stop() {
		return context.Cause(ctx)
	}
	if err != nil {
		return err
	}
	return s.readReplies(replyWait)
}

// readReplies reads what the server sent within wait: each error line is
// logged and counted. It returns an error when the connection is closed or
// broken.
func (s *Sender) readReplies(wait time.Duration) error {
	if err := s.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return err
	}
	var chunk [512]byte
	for {
		n, err := s.conn.Read(chunk[:])
		s.reply = append(s.reply, chunk[:n]...)
		for {
			i := bytes.IndexByte(s.reply, '\n')
			if i < 0 {
				break
			}
			s.refused(string(bytes.TrimSpace(s.reply[:i])))
			s.reply = s.reply[:copy(s.reply, s.reply[i+1:])]
		}
		if len(s.reply) > maxReply {
			s.refused(string(s.reply[:maxReply]))
			s.reply = s.reply[:0]
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil
		case errors.Is(err, io.EOF):
			return errors.New("connection closed by the server")
		case err != nil:
			return err
		}
	}
}

// refused accounts an error line of the server.
func (s *Sender) refused(line string) {
	if line == "" {
		return
	}
	s.metrics.errors.Inc()
	s.log.Warn("opentsdb server refused a line", "addr", s.cfg.Addr, "err", line)
}

// closeConn closes the connection, if any.
func (s *Sender) closeConn() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

// backoff returns the wait before try attempt+2: minBackoff doubled
// attempt times, at most maxBackoff, then between half of that and all.
func backoff(attempt int) time.Duration {
	d := maxBackoff
	if attempt < 16 {
		d = min(minBackoff<<attempt, maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// succeeded accounts a batch written.
func (s *Sender) succeeded(lines int) {
	s.metrics.sent.Add(float64(lines))
	if !s.failingSince.IsZero() {
		s.log.Info("opentsdb output recovered", "addr", s.cfg.Addr, "duration_s", time.Since(s.failingSince).Seconds())
		s.failingSince = time.Time{}
	}
}

// failed accounts a try that failed, logging at Warn when failures begin
// and every warnEvery while they last.
func (s *Sender) failed(err error) {
	s.metrics.errors.Inc()
	now := time.Now()
	if s.failingSince.IsZero() {
		s.failingSince = now
	}
	level := slog.LevelDebug
	if now.Sub(s.warned) >= warnEvery || s.warned.Before(s.failingSince) {
		level = slog.LevelWarn
		s.warned = now
	}
	s.log.Log(context.Background(), level, "opentsdb output failing, retrying",
		"addr", s.cfg.Addr, "err", err, "duration_s", now.Sub(s.failingSince).Seconds())
}

// metrics are a Sender's, labelled output=<Name> by their registerer.
type metrics struct {
	sent    prometheus.Counter
	errors  prometheus.Counter
	skipped *prometheus.CounterVec
}

// newMetrics registers a Sender's metrics on reg. A conflicting
// registration is a programmer's mistake and panics.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sent: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dandan_opentsdb_samples_sent_total",
			Help: "Samples written to the OpenTSDB server as put lines.",
		})),
		errors: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dandan_opentsdb_errors_total",
			Help: "Failed dials and writes to the OpenTSDB server, and error lines it sent back.",
		})),
		skipped: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dandan_opentsdb_samples_skipped_total",
			Help: "Samples not sent because OpenTSDB cannot take them, by reason (non_finite, no_name, no_tags, bad_time).",
		}, []string{"reason"})),
	}
	for _, r := range []string{skipNonFinite, skipNoName, skipNoTags, skipBadTime} {
		m.skipped.WithLabelValues(r)
	}
	return m
}

// register registers c on reg and returns it, or the collector registered
// before it under the same name and labels.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if old, ok := are.ExistingCollector.(C); ok {
			return old
		}
	}
	panic(fmt.Sprintf("opentsdb: register metrics: %v", err))
}
