package metricstore

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
)

// TestAppendHistogram appends native histogram samples and reads them back
// through PromQL: count, sum and a quantile.
func TestAppendHistogram(t *testing.T) {
	st := openT(t, Options{})
	ls := FromStrings("__name__", "http_request_duration_seconds", "job", "web")
	base := time.Now().Truncate(time.Second)
	h := &Histogram{
		Schema: 0, Count: 4, Sum: 3.5, ZeroThreshold: math.Ldexp(1, -128),
		// Buckets 0 (0.5, 1] and 1 (1, 2]: two observations each.
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}},
		PositiveBuckets: []int64{2, 0},
	}
	app := st.Appender(context.Background())
	ref, err := app.AppendHistogram(0, ls, base.Add(-time.Minute).UnixMilli(), &Histogram{Schema: 0, ZeroThreshold: h.ZeroThreshold, CounterResetHint: histogram.CounterReset})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.AppendHistogram(ref, ls, base.UnixMilli(), h); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]float64{
		`histogram_count(http_request_duration_seconds)`:                  4,
		`histogram_sum(http_request_duration_seconds)`:                    3.5,
		`histogram_quantile(0.5, http_request_duration_seconds)`:          1,
		`histogram_count(increase(http_request_duration_seconds[2m]))`:    4,
		`count_over_time(http_request_duration_seconds[2m])`:              2,
		`histogram_quantile(1, http_request_duration_seconds{job="web"})`: 2,
	} {
		got, err := st.QueryInstant(context.Background(), expr, base)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if len(got) != 1 || math.Abs(got[0].V-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", expr, got, want)
		}
	}
	if _, err := (errAppender{ErrClosed}).AppendHistogram(0, ls, 0, h); err != ErrClosed {
		t.Errorf("closed AppendHistogram: %v, want ErrClosed", err)
	}
}
