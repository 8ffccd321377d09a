package report

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// benchPaths is the number of paths of BenchmarkWeekly200Paths.
var benchPaths = 200

// BenchmarkWeekly200Paths builds the overall weekly report over two weeks
// of one job with 200 paths: a request counter per path and status at
// 15 s, a duration histogram per path at 60 s, host metrics at 60 s.
//
//	go test -run '^$' -bench Weekly200Paths -benchtime 3x ./internal/report/
func BenchmarkWeekly200Paths(b *testing.B) {
	ctx := context.Background()
	st, err := metricstore.Open(ctx, b.TempDir(), metricstore.Options{Retention: 100 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	nPaths := benchPaths
	bounds := []string{"0.05", "0.25", "1", "+Inf"}
	begin, end := prevFrom.Add(-5*time.Minute), weekTo
	type ser struct {
		ls  metricstore.Labels
		ref metricstore.SeriesRef
		v   float64
	}
	var reqs, hist []*ser
	for p := range nPaths {
		path := "/p/" + strconv.Itoa(p)
		for _, status := range []string{"200", "500"} {
			reqs = append(reqs, &ser{ls: metricstore.FromStrings("__name__", "http_requests_total", "job", "web", "path", path, "method", "GET", "status", status)})
		}
		for _, le := range bounds {
			hist = append(hist, &ser{ls: metricstore.FromStrings("__name__", "http_request_duration_seconds_bucket", "job", "web", "path", path, "method", "GET", "le", le)})
		}
		for _, n := range []string{"http_request_duration_seconds_sum", "http_request_duration_seconds_count"} {
			hist = append(hist, &ser{ls: metricstore.FromStrings("__name__", n, "job", "web", "path", path, "method", "GET")})
		}
	}
	samples := 0
	app := st.Appender(ctx)
	for t := begin; t.Before(end); t = t.Add(step) {
		h := shape[t.In(kst).Hour()]
		for i, s := range reqs {
			s.v += float64(h * (1 + 9*(1-i%2))) // 10 of 11 requests succeed
			if s.ref, err = app.Append(s.ref, s.ls, t.UnixMilli(), s.v); err != nil {
				b.Fatal(err)
			}
		}
		samples += len(reqs)
		if t.Sub(begin)%time.Minute == 0 {
			for i, s := range hist {
				s.v += float64(h * (i%6 + 1))
				if s.ref, err = app.Append(s.ref, s.ls, t.UnixMilli(), s.v); err != nil {
					b.Fatal(err)
				}
			}
			samples += len(hist)
		}
		if t.Sub(begin)%time.Hour == 0 {
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			app = st.Appender(ctx)
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d series, %d samples", len(reqs)+len(hist), samples)
	b.ResetTimer()
	for b.Loop() {
		w, err := Build(ctx, st, nil, Options{From: weekFrom, To: weekTo, Location: kst})
		if err != nil {
			b.Fatal(err)
		}
		if len(w.SlowPaths) != topPaths {
			b.Fatal(fmt.Sprintf("%d slow paths", len(w.SlowPaths)))
		}
	}
}
