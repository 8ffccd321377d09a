package watch

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"

	"github.com/dandan-sre/dandan/internal/logs"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestNativeHistograms: a job with native_histograms counts known
// durations; histogram_count, histogram_sum and histogram_quantile of
// http_request_duration_seconds answer from the store, across a restart
// (the journal's last record restores the native histogram exactly), and
// from a real Prometheus fed by remote_write.
func TestNativeHistograms(t *testing.T) {
	prom := testkit.StartPrometheus(t, "--enable-feature=native-histograms")
	dir := t.TempDir()
	logf := filepath.Join(dir, "access.log")
	cfg := func() *Config {
		c := testConfig(&JobConfig{Name: "nh", Files: []string{logf}, Format: "media-nginx", FromStart: true, NativeHistograms: true})
		c.Outputs.RemoteWrite = []*RemoteWriteConfig{{Name: "prom", URL: prom.URL("/api/v1/write"), Timeout: 2e9}}
		return c
	}
	var durations []int64 // ms, as nginx logs $request_time
	var all []byte
	write := func(n int) {
		f, err := os.OpenFile(logf, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var b []byte
		for range n {
			i := int64(len(durations))
			ms := (i * i * 37) % 3000 // 0 to 3 s, zeros among them
			durations = append(durations, ms)
			b = fmt.Appendf(b, "\"10.0.0.1\" \"-\" [25/Nov/2026:10:00:00 +0000] \"GET /v/%d HTTP/1.1\" 200 10 %d.%03d \"-\" \"t\"\n", i, ms/1000, ms%1000)
		}
		all = append(all, b...)
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	sel := `http_request_duration_seconds{job="nh"}`
	check := func(value func(q string) (float64, error)) error {
		sorted := slices.Sorted(slices.Values(durations))
		var sum int64
		for _, d := range durations {
			sum += d
		}
		var bad []string
		for q, want := range map[string]float64{
			`histogram_count(` + sel + `)`: float64(len(durations)),
			`histogram_sum(` + sel + `)`:   float64(sum) / 1000,
		} {
			if got, err := value(q); err != nil || math.Abs(got-want) > 1e-9*want {
				bad = append(bad, fmt.Sprintf("%s = %v (%v), want %v", q, got, err, want))
			}
		}
		// The median falls in the bucket of the true one (or at its edge):
		// schema 3 buckets are 2^(1/8) wide.
		q := `histogram_quantile(0.5, ` + sel + `)`
		want := float64(sorted[len(sorted)/2]) / 1000
		if got, err := value(q); err != nil || math.Abs(math.Log2(got/want)) > 1.0/8 {
			bad = append(bad, fmt.Sprintf("%s = %v (%v), want %v within a factor of 2^(1/8)", q, got, err, want))
		}
		if len(bad) > 0 {
			return fmt.Errorf("%s", strings.Join(bad, "\n"))
		}
		return nil
	}
	inStore := func(a *testAgent) func(q string) (float64, error) {
		return func(q string) (float64, error) { return a.value(t, q), nil }
	}

	write(2000)
	a := startAgent(t, dir, cfg())
	testkit.Eventually(t, 15*time.Second, func() error { return check(inStore(a)) })
	a.stop(t)

	write(1500)
	b := startAgent(t, dir, cfg())
	testkit.Eventually(t, 15*time.Second, func() error { return check(inStore(b)) })
	// The restored native histogram went on counting exactly: it is that
	// of one engine that read the whole log.
	want := wholeLog(t, all)
	b.jobs[0].mu.Lock()
	got := b.jobs[0].agg.Families()
	b.jobs[0].mu.Unlock()
	if g, w := nativeSeries(got), nativeSeries(want); g != w {
		t.Errorf("after the restart\n%s\nwant\n%s", g, w)
	}
	b.stop(t)

	// Through dandan's /api/v1/query, and Prometheus's.
	local := serveStore(t, filepath.Join(dir, "metrics"))
	for _, base := range []string{local, prom.URL("")} {
		testkit.Eventually(t, 15*time.Second, func() error {
			if err := check(func(q string) (float64, error) { return queryValue(base, q) }); err != nil {
				return fmt.Errorf("%s: %w", base, err)
			}
			return nil
		})
	}
	// A new series started at an empty histogram at the commit before its
	// first: increase() sees its first counts.
	n, err := queryValue(local, `count_over_time(`+sel+`[1h]) >= 2`)
	if err != nil || n < 2 {
		t.Errorf("samples of the native series: %v, %v", n, err)
	}
}

// wholeLog counts log with a fresh engine, native histograms on.
func wholeLog(t *testing.T, log []byte) []logs.Family {
	jc := &JobConfig{Name: "nh", Files: []string{"x"}, Format: "media-nginx", NativeHistograms: true}
	if err := testConfig(jc).Validate(); err != nil {
		t.Fatal(err)
	}
	agg, err := logs.New(jc.engineConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(log), "\n"), "\n") {
		agg.Line([]byte(l))
	}
	return agg.Families()
}

// nativeSeries prints the native histograms of fams.
func nativeSeries(fams []logs.Family) string {
	var out []string
	for _, f := range fams {
		for _, s := range f.Series {
			if s.Histogram != nil && s.Histogram.Native != nil {
				out = append(out, fmt.Sprintf("%v %+v", s.Labels, *s.Histogram.Native))
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestNativeSamples: a native histogram becomes one histogram sample of
// the family's name, its zero at the commit before is an empty histogram
// marked as a counter reset, and familiesOf reads it back exactly.
func TestNativeSamples(t *testing.T) {
	n := &logs.NativeHistogram{Schema: 3, ZeroThreshold: logs.NativeZeroThreshold, ZeroCount: 2, Count: 10, Sum: 4.25,
		Buckets: []logs.NativeBucket{{Index: -40, Count: 1}, {Index: -38, Count: 3}, {Index: -35, Count: 1}, {Index: 2, Count: 3}}}
	fams := []logs.Family{{Name: logs.MetricDuration, Type: "histogram", Series: []logs.Series{{
		Labels:    []logs.Label{{Name: "job", Value: "j"}, {Name: "method", Value: "GET"}, {Name: "path", Value: "/"}},
		Histogram: &logs.Histogram{Count: 10, Sum: 4.25, Buckets: []logs.Bucket{{UpperBound: math.Inf(1), Count: 10}}, Native: n},
	}}}}
	j := &logJob{cfg: &JobConfig{Name: "j"}}
	out := j.startAtZero(appendFamilies(nil, fams, 2000, nil), 0, 1000)
	var hs []metricstore.Sample
	for _, s := range out {
		if s.H != nil {
			hs = append(hs, s)
		}
	}
	if len(hs) != 2 || hs[0].T != 1000 || hs[1].T != 2000 || hs[0].Labels.Get("__name__") != logs.MetricDuration {
		t.Fatalf("histogram samples: %v", hs)
	}
	zero := &metricstore.Histogram{CounterResetHint: histogram.CounterReset, Schema: 3, ZeroThreshold: logs.NativeZeroThreshold}
	if !hs[0].H.Equals(zero) || hs[0].H.CounterResetHint != histogram.CounterReset {
		t.Errorf("zero: %v, want %v", hs[0].H, zero)
	}
	// Gaps of up to two buckets stay in a span, as client_golang writes.
	want := &metricstore.Histogram{Schema: 3, ZeroThreshold: logs.NativeZeroThreshold, ZeroCount: 2, Count: 10, Sum: 4.25,
		PositiveSpans:   []histogram.Span{{Offset: -40, Length: 6}, {Offset: 36, Length: 1}},
		PositiveBuckets: []int64{1, -1, 3, -3, 0, 1, 2}}
	if !hs[1].H.Equals(want) {
		t.Errorf("sample: %v, want %v", hs[1].H, want)
	}
	if err := hs[1].H.Validate(); err != nil {
		t.Error(err)
	}
	back := familiesOf(out, "j", 2000)
	if got, w := nativeSeries(back), nativeSeries(fams); got != w {
		t.Errorf("familiesOf:\n%s\nwant\n%s", got, w)
	}
}

func TestNativeConfig(t *testing.T) {
	c := testConfig(&JobConfig{Name: "a", Files: []string{"x"}, NativeHistograms: true})
	c.Outputs.Store = false
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "jobs[0].native_histograms: no output takes native histograms") {
		t.Errorf("native histograms with no output for them: %v", err)
	}
	c.Outputs.RemoteWrite = []*RemoteWriteConfig{{URL: "http://127.0.0.1:9/api/v1/write"}}
	if err := c.Validate(); err != nil {
		t.Errorf("with remote_write: %v", err)
	}
	// The resolution and the bucket cap reach the engine; bad ones are
	// refused by key.
	jc := &JobConfig{Name: "a", Files: []string{"x"}, NativeHistograms: true, NativeBucketFactor: 2, NativeMaxBuckets: 20}
	if err := testConfig(jc).Validate(); err != nil {
		t.Fatal(err)
	}
	if ec := jc.engineConfig(); ec.NativeBucketFactor != 2 || ec.NativeMaxBuckets != 20 {
		t.Errorf("engine config: factor %v, max %d", ec.NativeBucketFactor, ec.NativeMaxBuckets)
	}
	bad := testConfig(&JobConfig{Name: "a", Files: []string{"x"}, NativeHistograms: true, NativeBucketFactor: 0.5, NativeMaxBuckets: 2})
	err = bad.Validate()
	for _, k := range []string{"jobs[0].native_bucket_factor", "jobs[0].native_max_buckets"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("want an error at %s: %v", k, err)
		}
	}
}
