package boards

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/sqlstore"
	"github.com/dandan-sre/dandan/internal/ui"
)

// harness is the boards part on a real metric store and SQL store,
// behind a server that gives every request the role in X-Test-Role
// (viewer by default).
type harness struct {
	srv    *httptest.Server
	b      *Boards
	store  *metricstore.Service
	events *events.Store
}

func newHarness(t *testing.T, cfg *Config) *harness {
	t.Helper()
	dir := t.TempDir()
	svc := metricstore.NewService(filepath.Join(dir, "metrics"), metricstore.Options{})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop(context.Background()) })
	db, err := sqlstore.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	evs := events.New(db, nil)
	if err := evs.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	assets, err := ui.NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	u, err := ui.New(assets, ui.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := New(component.Deps{Logger: slog.New(slog.DiscardHandler), DataDir: filepath.Join(dir, "boards"), SQL: db, Metrics: svc, Query: svc, Events: evs, UI: u}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := httpapi.NewMux(httpapi.Options{Pages: u})
	mux.Handle("GET /static/", httpapi.Public, assets)
	svc.Mount(mux)
	evs.Mount(mux)
	b.Mount(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role := httpapi.Viewer
		if s := r.Header.Get("X-Test-Role"); s != "" {
			role, _ = httpapi.ParseRole(s)
		}
		mux.ServeHTTP(w, r.WithContext(httpapi.WithIdentity(r.Context(), &httpapi.Identity{Name: "tester", Role: role})))
	}))
	t.Cleanup(srv.Close)
	return &harness{srv: srv, b: b, store: svc, events: evs}
}

// feed appends an hour of a web job's traffic up to now at 15 s steps:
// every step 100 requests to /a (10 of them 500s) and 20 to /b, with
// durations in known buckets; and host metrics. It returns the total
// requests counted.
func (h *harness) feed(t *testing.T, job string) float64 {
	t.Helper()
	app := h.store.Appender(context.Background())
	now := time.Now()
	start := now.Add(-time.Hour)
	var total float64
	step := 0
	for ts := start; !ts.After(now); ts = ts.Add(15 * time.Second) {
		step++
		ms := ts.UnixMilli()
		add := func(v float64, kv ...string) {
			if _, err := app.Append(0, metricstore.FromStrings(kv...), ms, v); err != nil {
				t.Fatal(err)
			}
		}
		n := float64(step)
		add(90*n, "__name__", "http_requests_total", "job", job, "path", "/a", "method", "GET", "status", "200")
		add(10*n, "__name__", "http_requests_total", "job", job, "path", "/a", "method", "GET", "status", "500")
		add(20*n, "__name__", "http_requests_total", "job", job, "path", "/b", "method", "GET", "status", "404")
		add(1000*n, "__name__", "http_response_bytes_total", "job", job, "path", "/a", "method", "GET", "status", "200")
		for _, b := range []struct {
			le string
			c  float64
		}{{"0.05", 60}, {"0.1", 90}, {"0.5", 110}, {"1", 118}, {"+Inf", 120}} {
			add(b.c*n, "__name__", "http_request_duration_seconds_bucket", "job", job, "path", "/a", "method", "GET", "le", b.le)
		}
		add(120*n, "__name__", "http_request_duration_seconds_count", "job", job, "path", "/a", "method", "GET")
		add(12*n, "__name__", "http_request_duration_seconds_sum", "job", job, "path", "/a", "method", "GET")
		// The job-level rollups, as the watchdog writes them.
		add(90*n, "__name__", "job_status:http_requests_total", "job", job, "status", "200")
		add(10*n, "__name__", "job_status:http_requests_total", "job", job, "status", "500")
		add(20*n, "__name__", "job_status:http_requests_total", "job", job, "status", "404")
		add(1000*n, "__name__", "job:http_response_bytes_total", "job", job)
		for _, b := range []struct {
			le string
			c  float64
		}{{"0.05", 60}, {"0.1", 90}, {"0.5", 110}, {"1", 118}, {"+Inf", 120}} {
			add(b.c*n, "__name__", "job:http_request_duration_seconds_bucket", "job", job, "le", b.le)
		}
		add(120*n, "__name__", "job:http_request_duration_seconds_count", "job", job)
		add(12*n, "__name__", "job:http_request_duration_seconds_sum", "job", job)
		// 15 s per step: 10.5 s idle, 4.5 s busy (30%).
		add(10.5*n, "__name__", "node_cpu_seconds_total", "job", "node", "instance", "host1", "cpu", "0", "mode", "idle")
		add(4.5*n, "__name__", "node_cpu_seconds_total", "job", "node", "instance", "host1", "cpu", "0", "mode", "user")
		add(8e9, "__name__", "node_memory_MemTotal_bytes", "job", "node", "instance", "host1")
		add(3e9+1e8*math.Sin(n/10), "__name__", "node_memory_MemAvailable_bytes", "job", "node", "instance", "host1")
		add(1e6*n, "__name__", "node_network_receive_bytes_total", "job", "node", "instance", "host1", "device", "eth0")
		add(3e6*n, "__name__", "node_network_transmit_bytes_total", "job", "node", "instance", "host1", "device", "eth0")
		total = 120 * n
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return total
}

func (h *harness) get(t *testing.T, path, role string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	if role != "" {
		req.Header.Set("X-Test-Role", role)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return resp.StatusCode, string(b)
}
