package remotewrite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestPrometheus writes to a real Prometheus (Debian's 2.42, with
// --web.enable-remote-write-receiver).
func TestPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus")
	}
	p := testkit.StartPrometheus(t)
	// Samples are recent: Prometheus takes nothing older than an hour
	// before the newest sample of its head block.
	base := time.Now().Add(-30 * time.Minute).Truncate(time.Second).UnixMilli()
	t.Run("outage", func(t *testing.T) { testOutage(t, p, base) })
	t.Run("resend", func(t *testing.T) { testResend(t, p, base) })
}

// testOutage sends through a Prometheus outage during which the agent
// restarts, and finds every sample exactly once afterwards.
func testOutage(t *testing.T, p *testkit.Prometheus, base int64) {
	cfg := Config{Name: "test", URL: p.URL("/api/v1/write"), MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Timeout: 5 * time.Second}
	series := []metricstore.Labels{
		metricstore.FromStrings("__name__", "rw_requests_total", "job", "web", "code", "200"),
		metricstore.FromStrings("__name__", "rw_requests_total", "job", "web", "code", "500"),
		metricstore.FromStrings("__name__", "rw_temperature", "job", "host", "sensor", "ünïcode/☃"),
	}
	// Batch i holds samples 10i…10i+9 of each series; values are exact in
	// decimal and binary alike, and some times are not whole seconds.
	var batches [3][]metricstore.Sample
	var want []metricstore.Sample
	for b := range batches {
		for i := 10 * b; i < 10*b+10; i++ {
			for j, ls := range series {
				v := []float64{float64(i), float64(i) * 1e9, -0.1 * float64(i) * math.Pi}[j]
				s := metricstore.Sample{Labels: ls, T: base + int64(i)*1000 + int64(j)*7, V: v}
				batches[b] = append(batches[b], s)
				want = append(want, s)
			}
		}
	}
	var e Encoder
	payloads := make([][]byte, len(batches))
	for i, b := range batches {
		payloads[i] = e.Encode(nil, b, nil)
	}

	s1, reg1 := newSenderReg(t, cfg)
	if err := s1.Send(t.Context(), payloads[0], len(batches[0])); err != nil {
		t.Fatalf("batch 0: %v", err)
	}

	p.Stop(t)
	// Batch 1 meets the outage; the agent stops while Send retries.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s1.Send(ctx, payloads[1], len(batches[1])) }()
	testkit.Eventually(t, 10*time.Second, atLeast(reg1, "dandan_remote_write_retries_total", 3))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("batch 1, cancelled: %v", err)
	}
	if got := metricValue(t, reg1, "dandan_remote_write_up"); got != 0 {
		t.Errorf("up during the outage: %v", got)
	}

	// The restarted agent sends batch 1 again, still during the outage.
	s2, reg2 := newSenderReg(t, cfg)
	go func() { done <- s2.Send(t.Context(), payloads[1], len(batches[1])) }()
	testkit.Eventually(t, 10*time.Second, atLeast(reg2, "dandan_remote_write_retries_total", 3))
	p.Restart(t)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("batch 1 after the restart: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("batch 1 not sent 30s after Prometheus came back")
	}
	if err := s2.Send(t.Context(), payloads[2], len(batches[2])); err != nil {
		t.Fatalf("batch 2: %v", err)
	}
	if got := metricValue(t, reg2, "dandan_remote_write_samples_sent_total"); got != float64(len(batches[1])+len(batches[2])) {
		t.Errorf("sent %v", got)
	}
	if got := metricValue(t, reg2, "dandan_remote_write_up"); got != 1 {
		t.Errorf("up after the outage: %v", got)
	}
	if got := metricValue(t, reg1, "dandan_remote_write_samples_dropped_total", "reason", "4xx") + metricValue(t, reg2, "dandan_remote_write_samples_dropped_total", "reason", "4xx"); got != 0 {
		t.Errorf("dropped %v", got)
	}

	got := queryRaw(t, p, `{__name__=~"rw_.*"}`, base+60_000)
	sortSamples(want)
	if !equalSamples(got, want) {
		t.Errorf("Prometheus holds %d samples, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
}

// testResend records what Prometheus 2.42 answers to a request sent again,
// as the output loop does with a request in flight when the agent crashed,
// and to out-of-order samples.
//
// Observed (Prometheus 2.42.0, out_of_order_time_window 0, the default):
//
//   - The exact same request again: 204 when each series has one sample
//     (a sample equal to the series' newest is taken as a no-op), but
//     400 "out of order sample" as soon as a series has more than one: its
//     earlier samples are older than the newest now stored.
//   - A sample older than its series' newest: 400 "out of order sample";
//     a sample at the newest's time with another value: 400 "duplicate
//     sample for timestamp"; older than the head block allows (about an
//     hour before the newest sample of any series): 400 "out of bounds".
//   - A 400 rolls back the whole request: its other, valid samples are not
//     stored either.
//
// So a re-sent in-flight request answered 400 out of order or duplicate was
// taken the first time (when nothing newer of those series was sent since),
// and the output loop should count it as sent, not dropped; a fresh
// request answered so loses all its samples, valid ones included.
func testResend(t *testing.T, p *testkit.Prometheus, base int64) {
	s, _ := newSenderReg(t, Config{Name: "test", URL: p.URL("/api/v1/write")})
	var e Encoder
	a := metricstore.FromStrings("__name__", "resend_multi", "job", "x")
	b := metricstore.FromStrings("__name__", "resend_single", "job", "x")
	c := metricstore.FromStrings("__name__", "resend_other", "job", "x")
	multi := e.Encode(nil, []metricstore.Sample{{Labels: a, T: base, V: 1}, {Labels: a, T: base + 1000, V: 2}}, nil)
	single := e.Encode(nil, []metricstore.Sample{{Labels: b, T: base, V: 1}}, nil)
	for _, step := range []struct {
		name    string
		samples []metricstore.Sample
		payload []byte
		want    string // "" for success, else the status and body start
	}{
		{name: "multi", payload: multi},
		{name: "multi again", payload: multi, want: "400 out of order sample"},
		{name: "single", payload: single},
		{name: "single again", payload: single},
		{name: "older", samples: []metricstore.Sample{{Labels: a, T: base + 500, V: 1.5}}, want: "400 out of order sample"},
		{name: "same time, other value", samples: []metricstore.Sample{{Labels: b, T: base, V: 9}}, want: "400 duplicate sample for timestamp"},
		{name: "older than the head", samples: []metricstore.Sample{{Labels: c, T: base - 3*3600_000, V: 1}}, want: "400 out of bounds"},
		{name: "valid and older", samples: []metricstore.Sample{{Labels: c, T: base, V: 5}, {Labels: a, T: base + 500, V: 1.5}}, want: "400 out of order sample"},
	} {
		payload := step.payload
		if payload == nil {
			payload = e.Encode(nil, step.samples, nil)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := s.Send(ctx, payload, 1)
		cancel()
		got := ""
		if d, ok := errors.AsType[*DroppedError](err); ok {
			got = fmt.Sprintf("%d %s", d.Status, d.Body)
		} else if err != nil {
			got = err.Error()
		}
		if !strings.HasPrefix(got, step.want) || (step.want == "") != (got == "") {
			t.Errorf("%s: got %q, want %q", step.name, got, step.want)
		}
	}
	got := queryRaw(t, p, `{__name__=~"resend_.*"}`, base+60_000)
	want := []metricstore.Sample{
		{Labels: a, T: base, V: 1}, {Labels: a, T: base + 1000, V: 2},
		{Labels: b, T: base, V: 1},
	}
	sortSamples(want)
	if !equalSamples(got, want) {
		t.Errorf("Prometheus holds\n %v\nwant %v", got, want)
	}
}

func newSenderReg(t *testing.T, cfg Config) (*Sender, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(cfg, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.client.CloseIdleConnections)
	return s, reg
}

// atLeast returns a condition for testkit.Eventually: the metric name of
// remote="test" reaches n.
func atLeast(reg *prometheus.Registry, name string, n float64) func() error {
	return func() error {
		mfs, err := reg.Gather()
		if err != nil {
			return err
		}
		for _, mf := range mfs {
			if mf.GetName() == name && len(mf.GetMetric()) == 1 {
				if v := value(mf.GetMetric()[0]); v >= n {
					return nil
				} else {
					return fmt.Errorf("%s = %v, want at least %v", name, v, n)
				}
			}
		}
		return fmt.Errorf("no %s", name)
	}
}

// queryRaw returns every raw sample of the series matching selector in the
// two hours up to at (Unix ms), from an instant query of a range selector,
// sorted by series and time.
func queryRaw(t *testing.T, p *testkit.Prometheus, selector string, at int64) []metricstore.Sample {
	t.Helper()
	q := url.Values{"query": {selector + "[2h]"}, "time": {strconv.FormatFloat(float64(at)/1000, 'f', 3, 64)}}
	resp, err := http.Get(p.URL("/api/v1/query?" + q.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Values [][2]json.RawMessage
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("query %s: %v", selector, err)
	}
	if body.Status != "success" || body.Data.ResultType != "matrix" {
		t.Fatalf("query %s: %s %s %s", selector, resp.Status, body.Error, body.Data.ResultType)
	}
	var out []metricstore.Sample
	for _, r := range body.Data.Result {
		ls := metricstore.FromMap(r.Metric)
		for _, pair := range r.Values {
			// The time is seconds with three decimals; the value a string.
			ts, err := strconv.ParseFloat(string(pair[0]), 64)
			if err != nil {
				t.Fatal(err)
			}
			var vs string
			if err := json.Unmarshal(pair[1], &vs); err != nil {
				t.Fatal(err)
			}
			v, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, metricstore.Sample{Labels: ls, T: int64(math.Round(ts * 1000)), V: v})
		}
	}
	sortSamples(out)
	return out
}

// sortSamples sorts by series, then time.
func sortSamples(s []metricstore.Sample) {
	slices.SortStableFunc(s, func(a, b metricstore.Sample) int {
		if c := strings.Compare(a.Labels.String(), b.Labels.String()); c != 0 {
			return c
		}
		return int(a.T - b.T)
	})
}
