package metricstore

import (
	"context"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"
)

func TestQueryRange(t *testing.T) {
	st := openT(t, Options{})
	ctx := context.Background()
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	// Two counters at 15 s steps for 10 minutes: web adds 3 per step, api
	// 1 per step until it restarts (a counter reset) at minute 5.
	app := st.Appender(ctx)
	web, api := FromStrings("__name__", "req_total", "job", "web"), FromStrings("__name__", "req_total", "job", "api")
	apiV := 0.0
	for i := 0; i <= 40; i++ {
		ts := base.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		if _, err := app.Append(0, web, ts, float64(3*i)); err != nil {
			t.Fatal(err)
		}
		if i == 20 {
			apiV = 0
		} else if i > 0 {
			apiV++
		}
		if _, err := app.Append(0, api, ts, apiV); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		expr       string
		start, end time.Duration // after base
		step       time.Duration
		want       map[string][]Point // by job ("" for none)
		err        bool
	}{
		{
			name: "raw samples", expr: `req_total{job="web"}`, start: 0, end: time.Minute, step: 30 * time.Second,
			want: map[string][]Point{"web": {{at(base, 0), 0}, {at(base, 30*time.Second), 6}, {at(base, time.Minute), 12}}},
		},
		{
			// anchored: the sample at or before the window's start is the
			// anchor and nothing is extrapolated, so an increase is exact,
			// across a counter reset too.
			name: "anchored increase", expr: `sum by (job) (increase(req_total[5m] anchored))`, start: 5 * time.Minute, end: 10 * time.Minute, step: 5 * time.Minute,
			want: map[string][]Point{
				"web": {{at(base, 5*time.Minute), 60}, {at(base, 10*time.Minute), 60}},
				"api": {{at(base, 5*time.Minute), 19}, {at(base, 10*time.Minute), 20}},
			},
		},
		{
			name: "scalar", expr: `vector(1)`, start: 0, end: 30 * time.Second, step: 15 * time.Second,
			want: map[string][]Point{"": {{at(base, 0), 1}, {at(base, 15*time.Second), 1}, {at(base, 30*time.Second), 1}}},
		},
		{name: "no data", expr: `nothing_here`, start: 0, end: time.Minute, step: time.Minute, want: map[string][]Point{}},
		{name: "bad query", expr: `sum(`, start: 0, end: time.Minute, step: time.Minute, err: true},
		{name: "bad step", expr: `req_total`, start: 0, end: time.Minute, step: 0, err: true},
		{name: "end before start", expr: `req_total`, start: time.Minute, end: 0, step: time.Minute, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.QueryRange(ctx, tc.expr, base.Add(tc.start), base.Add(tc.end), tc.step)
			if tc.err {
				if err == nil {
					t.Fatalf("no error, got %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d series, want %d: %v", len(got), len(tc.want), got)
			}
			for _, s := range got {
				want, ok := tc.want[s.Labels.Get("job")]
				if !ok {
					t.Fatalf("unexpected series %s", s.Labels)
				}
				if len(s.Points) != len(want) {
					t.Fatalf("%s: points %v, want %v", s.Labels, s.Points, want)
				}
				for i := range want {
					if s.Points[i] != want[i] {
						t.Errorf("%s: points %v, want %v", s.Labels, s.Points, want)
						break
					}
				}
			}
		})
	}
}

// TestBucketQuantile: the same answers as histogram_quantile in PromQL.
func TestBucketQuantile(t *testing.T) {
	st := openT(t, Options{})
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	counts := map[string]float64{"0.1": 3, "0.5": 9, "1": 9, "+Inf": 10}
	var bs []Bucket
	app := st.Appender(ctx)
	for le, c := range counts {
		if _, err := app.Append(0, FromStrings("__name__", "d_bucket", "le", le), at.UnixMilli(), c); err != nil {
			t.Fatal(err)
		}
		ub, _ := strconv.ParseFloat(le, 64)
		bs = append(bs, Bucket{ub, c}) // in no order: BucketQuantile sorts
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{0, 0.2, 0.5, 0.9, 0.95, 1} {
		want, err := st.QueryInstant(ctx, "histogram_quantile("+strconv.FormatFloat(q, 'g', -1, 64)+", d_bucket)", at)
		if err != nil || len(want) != 1 {
			t.Fatalf("q %v: %v %v", q, want, err)
		}
		if got := BucketQuantile(q, bs); got != want[0].V {
			t.Errorf("BucketQuantile(%v) = %v, PromQL says %v", q, got, want[0].V)
		}
	}
	if got := BucketQuantile(0.5, []Bucket{{1, 3}}); !math.IsNaN(got) {
		t.Errorf("without +Inf: %v, want NaN", got)
	}
}

func TestServiceQueryRangeClosed(t *testing.T) {
	svc := NewService(t.TempDir(), Options{})
	now := time.Now()
	if _, err := svc.QueryRange(context.Background(), "up", now, now, time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("before Start: %v, want ErrClosed", err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(context.Background())
	if _, err := svc.QueryRange(context.Background(), "up", now, now, time.Second); err != nil {
		t.Fatalf("after Start: %v", err)
	}
}

func at(base time.Time, d time.Duration) int64 { return base.Add(d).UnixMilli() }
