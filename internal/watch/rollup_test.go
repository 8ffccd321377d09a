package watch

import (
	"math"

	"testing"

	"github.com/dandan-sre/dandan/internal/logs"
)

func TestRollups(t *testing.T) {
	h := func(count uint64, sum float64, b ...uint64) *logs.Histogram {
		bounds := []float64{0.1, 1, math.Inf(1)}
		hh := &logs.Histogram{Count: count, Sum: sum}
		for i, c := range b {
			hh.Buckets = append(hh.Buckets, logs.Bucket{UpperBound: bounds[i], Count: c})
		}
		return hh
	}
	l := func(kv ...string) []logs.Label {
		var ls []logs.Label
		for i := 0; i < len(kv); i += 2 {
			ls = append(ls, logs.Label{Name: kv[i], Value: kv[i+1]})
		}
		return ls
	}
	fams := []logs.Family{
		{Name: logs.MetricRequests, Type: "counter", Series: []logs.Series{
			{Labels: l("job", "j", "path", "/a", "method", "GET", "status", "200"), Value: 5},
			{Labels: l("job", "j", "path", "/b", "method", "POST", "status", "200"), Value: 2},
			{Labels: l("job", "j", "path", "/b", "method", "GET", "status", "500"), Value: 1},
		}},
		{Name: logs.MetricBytes, Type: "counter", Series: []logs.Series{
			{Labels: l("job", "j", "path", "/a", "method", "GET", "status", "200"), Value: 100},
			{Labels: l("job", "j", "path", "/b", "method", "GET", "status", "500"), Value: 7},
		}},
		{Name: logs.MetricInvalid, Type: "counter", Series: []logs.Series{{Labels: l("job", "j"), Value: 3}}},
		{Name: logs.MetricDuration, Type: "histogram", Series: []logs.Series{
			{Labels: l("job", "j", "path", "/a", "method", "GET"), Histogram: h(5, 0.5, 4, 5, 5)},
			{Labels: l("job", "j", "path", "/b", "method", "GET"), Histogram: h(3, 2.5, 0, 2, 3)},
		}},
	}
	got := map[string]float64{}
	for _, s := range appendRollups(nil, fams, 1000, nil) {
		if s.T != 1000 {
			t.Errorf("%s at %d", s.Labels, s.T)
		}
		got[s.Labels.String()] = s.V
	}
	want := map[string]float64{
		`{__name__="job_status:http_requests_total", job="j", status="200"}`:        7,
		`{__name__="job_status:http_requests_total", job="j", status="500"}`:        1,
		`{__name__="job:http_response_bytes_total", job="j"}`:                       107,
		`{__name__="job:http_request_duration_seconds_bucket", job="j", le="0.1"}`:  4,
		`{__name__="job:http_request_duration_seconds_bucket", job="j", le="1"}`:    7,
		`{__name__="job:http_request_duration_seconds_bucket", job="j", le="+Inf"}`: 8,
		`{__name__="job:http_request_duration_seconds_sum", job="j"}`:               3,
		`{__name__="job:http_request_duration_seconds_count", job="j"}`:             8,
	}
	if len(got) != len(want) {
		t.Errorf("%d rollup series, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
