package component

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// fake is a component that records its life in a shared log.
type fake struct {
	name     string
	startErr error
	log      *[]string
	mu       sync.Mutex // guards readyErr
	readyErr error
}

func (f *fake) Name() string { return f.name }
func (f *fake) Start(context.Context) error {
	*f.log = append(*f.log, "start "+f.name)
	return f.startErr
}
func (f *fake) Stop(context.Context) error {
	*f.log = append(*f.log, "stop "+f.name)
	return nil
}
func (f *fake) Mount(*httpapi.Mux) {}
func (f *fake) Ready() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readyErr
}

var _ Readier = (*fake)(nil)

func TestRunnerOrder(t *testing.T) {
	var log []string
	a, b, c := &fake{name: "a", log: &log}, &fake{name: "b", log: &log}, &fake{name: "c", log: &log}
	r := NewRunner(slog.New(slog.DiscardHandler), []Component{a, b, c})
	if err := r.Ready(); err == nil {
		t.Fatal("ready before start")
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Ready(); err != nil {
		t.Fatalf("not ready after start: %v", err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(log, ","); got != "start a,start b,start c,stop c,stop b,stop a" {
		t.Fatalf("order %s", got)
	}
}

// TestRunnerStartFailure: a failing part stops the start, is stopped itself
// (Stop is safe after a failed Start), and the parts already started stop
// in reverse; later parts never start.
func TestRunnerStartFailure(t *testing.T) {
	var log []string
	a := &fake{name: "a", log: &log}
	b := &fake{name: "b", log: &log, startErr: errors.New("bind 127.0.0.1:4222: address already in use")}
	c := &fake{name: "c", log: &log}
	r := NewRunner(slog.New(slog.DiscardHandler), []Component{a, b, c})
	err := r.Start(context.Background())
	if err == nil || err.Error() != "start b: bind 127.0.0.1:4222: address already in use" {
		t.Fatalf("err = %v", err)
	}
	if got := strings.Join(log, ","); got != "start a,start b,stop b,stop a" {
		t.Fatalf("order %s", got)
	}
	st := r.Statuses()
	if st[1].State != StateFailed || !strings.Contains(st[1].Error, "address already in use") {
		t.Fatalf("status of b: %+v", st[1])
	}
}

// TestRunnerLaterFailure: a part that stops working after start shows as
// not ready with its error, the others stay ready, and the error is kept as
// the last error once it recovers.
func TestRunnerLaterFailure(t *testing.T) {
	var log []string
	a, b := &fake{name: "a", log: &log}, &fake{name: "b", log: &log}
	r := NewRunner(slog.New(slog.DiscardHandler), []Component{a, b})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.readyErr = errors.New("upstream 10.0.0.1:6379 unreachable")
	b.mu.Unlock()
	err := r.Ready()
	if err == nil || err.Error() != "b: upstream 10.0.0.1:6379 unreachable" {
		t.Fatalf("Ready = %v", err)
	}
	st := r.Statuses()
	if !st[0].Ready || st[1].Ready || st[1].State != StateRunning {
		t.Fatalf("statuses %+v", st)
	}
	b.mu.Lock()
	b.readyErr = nil
	b.mu.Unlock()
	st = r.Statuses()
	if !st[1].Ready || st[1].LastError != "upstream 10.0.0.1:6379 unreachable" || st[1].LastErrAt.IsZero() {
		t.Fatalf("after recovery: %+v", st[1])
	}
}

// TestRunnerWatch: Watch logs a component that stops being ready and again
// when it recovers.
func TestRunnerWatch(t *testing.T) {
	var log []string
	var buf syncBuffer
	b := &fake{name: "b", log: &log}
	r := NewRunner(slog.New(slog.NewTextHandler(&buf, nil)), []Component{b})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Watch(ctx, time.Millisecond); close(done) }()
	b.mu.Lock()
	b.readyErr = errors.New("disk full")
	b.mu.Unlock()
	testkit.Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(buf.String(), `msg="component not ready" part=b err="disk full"`) {
			return errors.New("not logged yet")
		}
		return nil
	})
	b.mu.Lock()
	b.readyErr = nil
	b.mu.Unlock()
	testkit.Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(buf.String(), `msg="component ready again" part=b`) {
			return errors.New("recovery not logged yet")
		}
		return nil
	})
	cancel()
	<-done
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
