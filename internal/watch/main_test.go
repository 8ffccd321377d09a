package watch

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/metricstore"
)

// testAgent is an agent on a real metric store in dir.
type testAgent struct {
	*Agent
	store *metricstore.Store
}

// startAgent starts an agent of cfg with its data in dir (so a second
// agent on the same dir takes over where the first stopped) and stops it
// when the test ends, unless the test stopped it.
func startAgent(t *testing.T, dir string, cfg *Config) *testAgent {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := metricstore.Open(context.Background(), filepath.Join(dir, "metrics"), metricstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := New(component.Deps{Logger: log, DataDir: filepath.Join(dir, "watch"), Registerer: prometheus.NewRegistry(), Metrics: st, Query: st}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		st.Close()
		t.Fatal(err)
	}
	ta := &testAgent{Agent: a, store: st}
	t.Cleanup(func() { ta.stop(t) })
	return ta
}

// stop stops the agent (its outputs catch up first) and closes the store.
func (a *testAgent) stop(t *testing.T) {
	if a.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
	a.store.Close()
	a.store = nil
}

// value returns the single value of an instant query now, or -1 when it
// has no answer.
func (a *testAgent) value(t *testing.T, q string) float64 {
	t.Helper()
	vals, err := a.store.QueryInstant(context.Background(), q, time.Now())
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	switch len(vals) {
	case 0:
		return -1
	case 1:
		return vals[0].V
	}
	t.Fatalf("%s: %d series", q, len(vals))
	return 0
}

// testConfig returns a config with the given jobs, a short interval, no
// host metrics and the store output.
func testConfig(jobs ...*JobConfig) *Config {
	c := DefaultConfig()
	c.Interval = 100 * 1e6
	c.Host.Enabled = false
	c.Jobs = jobs
	return c
}
