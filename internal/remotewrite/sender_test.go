package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/prompb"

	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// receiver is an httptest remote_write receiver: answer says what to reply
// to request n (from 1); every request's WriteRequest and headers are kept.
type receiver struct {
	*httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request)

	mu      sync.Mutex // guards the fields below
	reqs    []*prompb.WriteRequest
	headers []http.Header
	times   []time.Time
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
			return
		}
		req := receive(t, body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, req)
		rc.headers = append(rc.headers, r.Header.Clone())
		rc.times = append(rc.times, time.Now())
		n := len(rc.reqs)
		rc.mu.Unlock()
		rc.answer(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// requests returns how many requests came.
func (rc *receiver) requests() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// newSender returns a Sender to rc with fast backoff and its registry.
func newSender(t *testing.T, cfg Config, log *slog.Logger) (*Sender, *prometheus.Registry) {
	t.Helper()
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = time.Millisecond, 5*time.Millisecond
	}
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	reg := prometheus.NewRegistry()
	s, err := New(cfg, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.client.CloseIdleConnections)
	return s, reg
}

// metricValue returns the value of the metric name with the labels
// remote="test" and labelPairs, or -1 when there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labelPairs ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"remote": "test"}
	for i := 0; i < len(labelPairs); i += 2 {
		want[labelPairs[i]] = labelPairs[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return value(m)
		}
	}
	return -1
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

// testBatch is the batch the sender tests post.
var testBatch = []metricstore.Sample{
	sample(1000, 1, "__name__", "a_total", "job", "web"),
	sample(2000, 2.5, "__name__", "a_total", "job", "web"),
	sample(1000, -3e-9, "__name__", "b", "job", "web", "path", "/x"),
}

// wantBatch is testBatch as a receiver decodes it.
var wantBatch = (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
	{Labels: pl("__name__", "a_total", "job", "web"), Samples: []prompb.Sample{{Timestamp: 1000, Value: 1}, {Timestamp: 2000, Value: 2.5}}},
	{Labels: pl("__name__", "b", "job", "web", "path", "/x"), Samples: []prompb.Sample{{Timestamp: 1000, Value: -3e-9}}},
}}).String()

func encodeBatch() []byte {
	var e Encoder
	return e.Encode(nil, testBatch, nil)
}

func TestSendRetries5xx(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			http.Error(w, "storage on fire", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s, reg := newSender(t, Config{URL: rc.URL + "/api/v1/write", Headers: map[string]string{"X-Scope-OrgID": "tenant-1"}}, nil)
	if err := s.Send(t.Context(), encodeBatch(), len(testBatch)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rc.requests() != 3 {
		t.Fatalf("%d requests, want 3", rc.requests())
	}
	for i, req := range rc.reqs {
		if req.String() != wantBatch {
			t.Errorf("request %d: got %s, want %s", i+1, req, wantBatch)
		}
		h := rc.headers[i]
		for k, v := range map[string]string{
			"Content-Encoding":                  "snappy",
			"Content-Type":                      "application/x-protobuf",
			"X-Prometheus-Remote-Write-Version": "0.1.0",
			"X-Scope-Orgid":                     "tenant-1",
		} {
			if h.Get(k) != v {
				t.Errorf("request %d: %s: %q, want %q", i+1, k, h.Get(k), v)
			}
		}
		if ua := h.Get("User-Agent"); !strings.HasPrefix(ua, "dandan/") || len(ua) == len("dandan/") {
			t.Errorf("User-Agent %q", ua)
		}
		if h.Get("Authorization") != "" {
			t.Errorf("Authorization without auth: %q", h.Get("Authorization"))
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"dandan_remote_write_samples_sent_total", nil, 3},
		{"dandan_remote_write_samples_dropped_total", []string{"reason", "4xx"}, 0},
		{"dandan_remote_write_requests_total", []string{"code", "500"}, 2},
		{"dandan_remote_write_requests_total", []string{"code", "204"}, 1},
		{"dandan_remote_write_retries_total", nil, 2},
		{"dandan_remote_write_request_duration_seconds", nil, 3},
		{"dandan_remote_write_up", nil, 1},
	} {
		if got := metricValue(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if last := metricValue(t, reg, "dandan_remote_write_last_success_timestamp_seconds"); time.Since(time.Unix(int64(last), 0)) > time.Minute {
		t.Errorf("last success %v", last)
	}
}

func TestSend429RetryAfter(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	s, reg := newSender(t, Config{URL: rc.URL}, nil)
	if err := s.Send(t.Context(), encodeBatch(), len(testBatch)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rc.requests() != 2 {
		t.Fatalf("%d requests, want 2", rc.requests())
	}
	// The backoff is at most 5ms; Retry-After asked for a second.
	if wait := rc.times[1].Sub(rc.times[0]); wait < 900*time.Millisecond {
		t.Errorf("retried after %v, before Retry-After's 1s", wait)
	}
	if got := metricValue(t, reg, "dandan_remote_write_requests_total", "code", "429"); got != 1 {
		t.Errorf("429s: %v", got)
	}
	if got := metricValue(t, reg, "dandan_remote_write_samples_sent_total"); got != 3 {
		t.Errorf("sent %v, want 3", got)
	}
}

func TestSendDropped4xx(t *testing.T) {
	long := strings.Repeat("x", 300)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "out of order sample "+long, http.StatusBadRequest)
	})
	s, reg := newSender(t, Config{URL: rc.URL}, nil)
	var e Encoder
	payload := e.Encode(nil, testBatch, nil)
	err := s.Send(t.Context(), payload, len(testBatch))
	dropped, ok := errors.AsType[*DroppedError](err)
	if !ok {
		t.Fatalf("Send: %v, want a *DroppedError", err)
	}
	if dropped.Status != 400 || dropped.Samples != 3 || dropped.Body != ("out of order sample " + long)[:256] {
		t.Errorf("got %+v", dropped)
	}
	if !strings.HasPrefix(err.Error(), "remote write refused, 3 samples dropped: 400 Bad Request: out of order sample xxx") {
		t.Errorf("message %q", err)
	}
	// Another batch of 2, dropped too: the count is exact.
	if err := s.Send(t.Context(), e.Encode(nil, testBatch[:2], nil), 2); err == nil {
		t.Fatal("no error")
	}
	if rc.requests() != 2 {
		t.Errorf("%d requests, want 2 (no retry)", rc.requests())
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"dandan_remote_write_samples_dropped_total", []string{"reason", "4xx"}, 5},
		{"dandan_remote_write_samples_sent_total", nil, 0},
		{"dandan_remote_write_retries_total", nil, 0},
		{"dandan_remote_write_requests_total", []string{"code", "400"}, 2},
		{"dandan_remote_write_up", nil, 0},
	} {
		if got := metricValue(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func TestSendTimeout(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			// Slower than the Timeout: the client gives up and closes.
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
				t.Error("the request was not abandoned after the Timeout")
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s, reg := newSender(t, Config{URL: rc.URL, Timeout: 200 * time.Millisecond}, nil)
	start := time.Now()
	if err := s.Send(t.Context(), encodeBatch(), len(testBatch)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("Send took %v", d)
	}
	if got := metricValue(t, reg, "dandan_remote_write_requests_total", "code", "error"); got != 1 {
		t.Errorf("timed out requests: %v", got)
	}
	if got := metricValue(t, reg, "dandan_remote_write_retries_total"); got != 1 {
		t.Errorf("retries: %v", got)
	}
	if got := metricValue(t, reg, "dandan_remote_write_samples_sent_total"); got != 3 {
		t.Errorf("sent %v, want 3", got)
	}
}

func TestSendContextStopsRetrying(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 3 {
			cancel()
		}
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	})
	s, reg := newSender(t, Config{URL: rc.URL}, nil)
	err := s.Send(ctx, encodeBatch(), len(testBatch))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send: %v, want context.Canceled", err)
	}
	if _, ok := errors.AsType[*DroppedError](err); ok {
		t.Error("a cancelled Send is not a drop")
	}
	if rc.requests() != 3 {
		t.Errorf("%d requests after the cancel, want 3", rc.requests())
	}
	if got := metricValue(t, reg, "dandan_remote_write_samples_dropped_total", "reason", "4xx"); got != 0 {
		t.Errorf("dropped %v", got)
	}
	if got := metricValue(t, reg, "dandan_remote_write_up"); got != 0 {
		t.Errorf("up %v", got)
	}

	// A context done before the first try makes no request.
	if err := s.Send(ctx, encodeBatch(), 3); !errors.Is(err, context.Canceled) {
		t.Errorf("Send: %v", err)
	}
	if rc.requests() != 3 {
		t.Errorf("%d requests", rc.requests())
	}
}

// TestSendNetworkError: nothing listens; Send retries until its deadline.
func TestSendNetworkError(t *testing.T) {
	s, reg := newSender(t, Config{URL: "http://" + testkit.FreeAddr(t) + "/api/v1/write"}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := s.Send(ctx, encodeBatch(), 3)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Send: %v", err)
	}
	if got := metricValue(t, reg, "dandan_remote_write_retries_total"); got < 2 {
		t.Errorf("retries %v", got)
	}
}

func TestSendAuthSecretsNotLogged(t *testing.T) {
	const password, token = "pa55-w0rd-s3cr3t", "t0k3n-s3cr3t"
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"basic", Config{BasicAuth: &BasicAuth{Username: "agent", Password: password}}, "Basic YWdlbnQ6cGE1NS13MHJkLXMzY3IzdA=="},
		{"bearer", Config{BearerToken: token}, "Bearer " + token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != tc.want {
					t.Errorf("Authorization %q, want %q", r.Header.Get("Authorization"), tc.want)
				}
				if n == 1 {
					http.Error(w, "try again", http.StatusBadGateway)
					return
				}
				http.Error(w, "no such tenant", http.StatusUnauthorized)
			})
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg := tc.cfg
			cfg.URL = rc.URL
			s, _ := newSender(t, cfg, log)
			err := s.Send(t.Context(), encodeBatch(), 3)
			if _, ok := errors.AsType[*DroppedError](err); !ok {
				t.Fatalf("Send: %v", err)
			}
			log.Info("config", "cfg", cfg, "basic", cfg.BasicAuth)
			all := logs.String() + err.Error()
			if !strings.Contains(all, "remote write failing, retrying") {
				t.Errorf("the retry was not logged: %s", all)
			}
			if strings.Contains(all, password) || strings.Contains(all, token) || strings.Contains(all, "YWdlbnQ6") {
				t.Errorf("a secret leaked: %s", all)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{URL: "https://mimir:8080/api/v1/push"}, ""},
		{"no URL", Config{}, "url: not an http or https URL"},
		{"not http", Config{URL: "ftp://x/"}, "url: not an http or https URL"},
		{"credentials", Config{URL: "http://u:p@x/"}, "url: holds credentials; use basic_auth"},
		{"reserved header", Config{URL: "http://x/", Headers: map[string]string{"content-type": "text/plain"}}, "headers: Content-Type cannot be set"},
		{"two auths", Config{URL: "http://x/", BearerToken: "t", BasicAuth: &BasicAuth{Username: "u"}}, "bearer_token: not together with basic_auth"},
		{"cert without key", Config{URL: "http://x/", TLS: TLSConfig{CertFile: "c.pem"}}, "tls: cert_file and key_file go together"},
		{"all at once", Config{URL: "x", Timeout: -1}, "url: not an http or https URL\ntimeout: durations cannot be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if got := errString(err); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if _, err := New(tc.cfg, nil, nil); errString(err) != tc.want {
				t.Errorf("New: %v", err)
			}
		})
	}
	if _, err := New(Config{URL: "https://x/", TLS: TLSConfig{CAFile: "/nonexistent/ca.pem"}}, nil, nil); err == nil || !strings.HasPrefix(err.Error(), "tls.ca_file: open /nonexistent/ca.pem") {
		t.Errorf("missing CA file: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"7", 7 * time.Second},
		{"86400", maxRetryAfter},
		{"Thu, 02 Jan 2025 03:04:35 GMT", 30 * time.Second},
		{"Thu, 02 Jan 2025 03:00:00 GMT", 0},
		{"soon", 0},
	} {
		if got := parseRetryAfter(tc.header, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	s := &Sender{cfg: Config{MinBackoff: 30 * time.Millisecond, MaxBackoff: 5 * time.Second}}
	for attempt, full := range []time.Duration{30, 60, 120, 240, 480, 960, 1920, 3840, 5000, 5000} {
		full *= time.Millisecond
		for range 20 {
			if d := s.backoff(attempt); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
	if d := s.backoff(1000); d < 2500*time.Millisecond || d > 5*time.Second {
		t.Errorf("backoff(1000) = %v", d)
	}
}

// TestSharedMetrics: two Senders of one name share their metrics.
func TestSharedMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := New(Config{URL: "http://x/", Name: "test"}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{URL: "http://y/", Name: "test"}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.succeeded(2)
	b.succeeded(3)
	if got := metricValue(t, reg, "dandan_remote_write_samples_sent_total"); got != 5 {
		t.Errorf("sent %v, want 5", got)
	}
}
