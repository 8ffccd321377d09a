package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/journal"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestRemoteWriteOutage points remote_write at a real Prometheus while a
// writer appends to the tailed log: Prometheus stops for a while, the agent
// is stopped and started again during the outage (the journal keeps what
// was not sent, the in-flight batch included), Prometheus comes back. Then
// Prometheus holds exactly the samples of the agent's own store: every
// series, every timestamp, every value, none missing and none twice.
func TestRemoteWriteOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Prometheus for about 10s")
	}
	prom := testkit.StartPrometheus(t)
	dir := t.TempDir()
	logf := filepath.Join(dir, "access.log")
	cfg := func() *Config {
		c := testConfig(&JobConfig{Name: "rw", Files: []string{logf}, Format: "media-nginx", FromStart: true})
		c.Outputs.RemoteWrite = []*RemoteWriteConfig{{Name: "prom", URL: prom.URL("/api/v1/write"), Timeout: 2e9}}
		return c
	}
	w := &rwWriter{path: logf, byStatus: map[string]int{}}
	ctx, stopWriter := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.run(ctx) })
	defer func() {
		stopWriter()
		wg.Wait()
	}()
	phase := func(d time.Duration) {
		tm := time.NewTimer(d)
		<-tm.C
	}

	a := startAgent(t, dir, cfg())
	phase(2 * time.Second)
	prom.Stop(t)
	phase(3 * time.Second)
	// Stopped during the outage, with little time to send: what was not
	// sent, the batch in flight included, stays in the journal.
	stopCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	if err := a.Stop(stopCtx); err != nil {
		t.Fatalf("stop during the outage: %v", err)
	}
	cancel()
	a.store.Close()
	a.store = nil
	// The journal holds the unsent records, and the batch that was in
	// flight is marked, for the next agent to send it first.
	j, err := journal.Open(filepath.Join(dir, "watch", "journal"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := j.Stats().Consumers["remote_write-prom"]
	j.Close()
	if st.PendingRecords < 20 || st.Inflight.IsZero() || !st.Acked.Less(st.Inflight) {
		t.Fatalf("after a stop during the outage: %d records pending, acked %s, in flight up to %s; want at least 20 pending and a batch in flight",
			st.PendingRecords, st.Acked, st.Inflight)
	}
	t.Logf("stopped during the outage with %d records (%d samples) unsent, a batch in flight", st.PendingRecords, st.PendingSamples)

	b := startAgent(t, dir, cfg())
	phase(2 * time.Second)
	prom.Restart(t)
	phase(2 * time.Second)
	stopWriter()
	wg.Wait()
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
	total := `sum(http_requests_total{job="rw"}) + sum(dandan_log_lines_invalid_total{job="rw"})`
	testkit.Eventually(t, 15*time.Second, func() error {
		if got := b.value(t, total); got != float64(w.n) {
			return fmt.Errorf("%s = %v, want %d", total, got, w.n)
		}
		for _, o := range b.outputViews() {
			if o.PendingRecords != 0 || o.DroppedSamples != 0 {
				return fmt.Errorf("output %+v", o)
			}
		}
		return nil
	})
	// The last stop commits once more and lets both outputs catch up.
	stopCtx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Stop(stopCtx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	b.store.Close()
	b.store = nil
	for name, ag := range map[string]*testAgent{"first": a, "second": b} {
		if n := testutil.ToFloat64(ag.m.dropped.WithLabelValues("remote_write-prom", "rejected")); n != 0 {
			t.Errorf("the %s agent's receiver refused %v samples", name, n)
		}
	}

	// The agent's store, served by dandan's Prometheus API, and
	// Prometheus answer the same.
	local := serveStore(t, filepath.Join(dir, "metrics"))
	want := map[string]float64{total: float64(w.n), `sum(dandan_log_lines_invalid_total{job="rw"})`: float64(w.invalid)}
	for st, n := range w.byStatus {
		want[`sum(http_requests_total{job="rw",status="`+st+`"})`] = float64(n)
	}
	for q, v := range want {
		for _, base := range []string{local, prom.URL("")} {
			got, err := queryValue(base, q)
			if err != nil {
				t.Fatal(err)
			}
			if got != v {
				t.Errorf("%s at %s = %v, want %v", q, base, got, v)
			}
		}
	}
	at := time.Now()
	for _, q := range []string{
		`{job="rw"}[1h]`, // the raw samples
		`count_over_time(http_requests_total{job="rw"}[1h])`,
		`sum_over_time(http_requests_total{job="rw"}[1h])`,
		`max_over_time(http_requests_total{job="rw"}[1h])`,
		`timestamp(http_requests_total{job="rw"})`,
	} {
		mine, err := queryAPIAt(local, q, at)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := queryAPIAt(prom.URL(""), q, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(mine) == 0 {
			t.Errorf("%s: no series in the agent's store", q)
		}
		if d := diffSeries(mine, theirs); d != "" {
			t.Errorf("%s: the agent's store (-) and Prometheus (+) differ:\n%s", q, d)
		}
	}
	// And neither lost a commit: the samples of a series follow each
	// other at the interval, through the outage and the restart.
	raw, err := queryAPIAt(local, `http_requests_total{job="rw",status="200"}[1h]`, at)
	if err != nil || len(raw) != 1 {
		t.Fatalf("raw samples: %v, %d series", err, len(raw))
	}
	var prev float64
	for i, p := range raw[0].Values {
		ts, _ := p[0].Float64()
		if i > 0 && ts-prev > 2 {
			t.Errorf("no sample between %.3f and %.3f: commits are missing", prev, ts)
		}
		prev = ts
	}
	t.Logf("%d lines written; Prometheus holds the same %d samples per series as the agent's store", w.n, len(raw[0].Values))
}

// rwWriter appends the soak test's lines to path at about 500 a second.
type rwWriter struct {
	path     string
	n        int
	invalid  int
	byStatus map[string]int
	err      error
}

func (w *rwWriter) run(ctx context.Context) {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.err = err
		return
	}
	defer f.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		buf = buf[:0]
		for range 5 {
			var st string
			buf, st, _ = soakLine(buf, w.n)
			if st == "" {
				w.invalid++
			} else {
				w.byStatus[st]++
			}
			w.n++
		}
		if _, err := f.Write(buf); err != nil {
			w.err = err
			return
		}
	}
}

// serveStore opens the metric store in dir and serves dandan's Prometheus
// API of it to any caller, until the test ends; it returns its URL.
func serveStore(t *testing.T, dir string) string {
	t.Helper()
	svc := metricstore.NewService(dir, metricstore.Options{})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop(context.Background()) })
	mux := httpapi.NewMux(httpapi.Options{})
	svc.Mount(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(httpapi.WithIdentity(r.Context(), &httpapi.Identity{Name: "test", Role: httpapi.Viewer})))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// diffSeries returns the differences of two query answers, series by
// series: the samples (value@timestamp) of a only with "-", of b only
// with "+"; "" when they are the same.
func diffSeries(a, b []apiSeries) string {
	flat := func(ss []apiSeries) map[string][]string {
		m := map[string][]string{}
		for _, s := range ss {
			var id strings.Builder
			for _, k := range slices.Sorted(maps.Keys(s.Metric)) {
				fmt.Fprintf(&id, "%s=%q,", k, s.Metric[k])
			}
			points := s.Values
			if len(points) == 0 {
				points = [][2]json.Number{s.Value}
			}
			for _, p := range points {
				m["{"+id.String()+"}"] = append(m["{"+id.String()+"}"], p[1].String()+"@"+p[0].String())
			}
		}
		return m
	}
	ma, mb := flat(a), flat(b)
	var out []string
	ids := map[string]bool{}
	for id := range ma {
		ids[id] = true
	}
	for id := range mb {
		ids[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		only := func(x, y []string) []string {
			return slices.DeleteFunc(slices.Clone(x), func(p string) bool { return slices.Contains(y, p) })
		}
		for sign, ps := range map[string][]string{"-": only(ma[id], mb[id]), "+": only(mb[id], ma[id])} {
			if len(ps) > 8 {
				ps = append(ps[:8], fmt.Sprintf("… %d samples in all", len(ps)))
			}
			if len(ps) > 0 {
				out = append(out, sign+" "+id+" "+strings.Join(ps, " "))
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
