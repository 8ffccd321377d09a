package metricstore

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// writeSeries posts series as one remote_write 1.0 request to url and
// fails the test unless it is accepted.
func writeSeries(t testing.TB, url string, series []prompb.TimeSeries) {
	t.Helper()
	pb, err := (&prompb.WriteRequest{Timeseries: series}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(snappy.Encode(nil, pb)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("remote_write to %s: %s %s", url, resp.Status, b)
	}
}

// ts is a series of remote_write: labels as name/value pairs, and samples
// at the given offsets from base.
func ts(base time.Time, lbls []string, points ...any) prompb.TimeSeries {
	var s prompb.TimeSeries
	FromStrings(lbls...).Range(func(l Label) {
		s.Labels = append(s.Labels, prompb.Label{Name: l.Name, Value: l.Value})
	})
	for i := 0; i < len(points); i += 2 {
		s.Samples = append(s.Samples, prompb.Sample{
			Timestamp: base.Add(points[i].(time.Duration)).UnixMilli(),
			Value:     points[i+1].(float64),
		})
	}
	return s
}

// federationSeries are the series of the federation tests, written
// relative to base (the time of the request, give or take seconds): a
// counter with and without an instance label, gauges, values that need
// exponents and the special floats, a label that sorts before __name__, a
// metric name in upper case, a series older than the lookback delta and
// one that ended with a stale marker. The fed_ series that /federate
// returns are twelve at most: Prometheus sorts them with an unstable sort,
// which keeps the storage's order only up to twelve samples.
func federationSeries(base time.Time) []prompb.TimeSeries {
	m := time.Minute
	return []prompb.TimeSeries{
		ts(base, []string{"__name__", "fed_requests_total", "job", "api", "path", "/a"}, -4*m, 10.0, -3*m, 20.0, -2*m, 30.0, -m, 40.0),
		ts(base, []string{"__name__", "fed_requests_total", "job", "api", "path", "/b", "instance", "h1:9100"}, -4*m, 1.0, -m, 4.0),
		ts(base, []string{"__name__", "fed_up", "job", "api"}, -3*m, 1.0, -90*time.Second, 1.0),
		ts(base, []string{"__name__", "fed_up", "job", "web"}, -2*m, 0.0),
		ts(base, []string{"__name__", "fed_values", "kind", "huge"}, -m, 1e22),
		ts(base, []string{"__name__", "fed_values", "kind", "tiny"}, -m, 1e-7),
		ts(base, []string{"__name__", "fed_values", "kind", "inf"}, -m, math.Inf(1)),
		ts(base, []string{"__name__", "fed_values", "kind", "ninf"}, -m, math.Inf(-1)),
		ts(base, []string{"__name__", "fed_values", "kind", "nan"}, -m, math.NaN()),
		ts(base, []string{"__name__", "fed_values", "kind", "neg"}, -m, -0.5),
		ts(base, []string{"__name__", "fed_odd", "A", "upper", "note", "<a & \"b\">\n\\ é"}, -2*m, 0.1+0.2),
		ts(base, []string{"__name__", "fed_B", "job", "api"}, -2*m, 7.0),
		ts(base, []string{"__name__", "fed_old", "job", "api"}, -9*m, 1.0, -8*m, 2.0),
		ts(base, []string{"__name__", "fed_stale", "job", "api"}, -3*m, 1.0, -2*m, math.Float64frombits(value.StaleNaN)),
	}
}

// federateCase is one request to /federate.
type federateCase struct {
	name   string
	query  url.Values
	accept string
}

// getFederate sends GET /federate and returns the status, Content-Type and
// body.
func getFederate(t testing.TB, base string, query url.Values, accept string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/federate?"+query.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

const acceptProto = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"

// asText decodes a protobuf reply and prints it in the text format, so
// that replies compare and read as text.
func asText(t testing.TB, ctype, body string) string {
	t.Helper()
	if !strings.HasPrefix(ctype, "application/vnd.google.protobuf") {
		return body
	}
	dec := expfmt.NewDecoder(strings.NewReader(body), expfmt.Format(ctype))
	var out strings.Builder
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode %s: %v", ctype, err)
		}
		if _, err := expfmt.MetricFamilyToText(&out, &mf); err != nil {
			t.Fatal(err)
		}
		// The text format shows no native buckets: print them.
		for _, m := range mf.Metric {
			if h := m.Histogram; h != nil && h.Schema != nil {
				fmt.Fprintf(&out, "# native histogram: schema %d, zero threshold %g, zero count %g, positive %v %v, negative %v %v\n",
					h.GetSchema(), h.GetZeroThreshold(), h.GetZeroCountFloat(),
					spanList(h.PositiveSpan), h.PositiveCount, spanList(h.NegativeSpan), h.NegativeCount)
			}
		}
	}
	return out.String()
}

// spanList prints bucket spans as offset:length pairs.
func spanList(ss []*dto.BucketSpan) []string {
	var out []string
	for _, s := range ss {
		out = append(out, fmt.Sprintf("%d:%d", s.GetOffset(), s.GetLength()))
	}
	return out
}

// mediaType is a Content-Type without the escaping parameter, which
// Prometheus 2 does not send.
func mediaType(ctype string) string {
	var keep []string
	for p := range strings.SplitSeq(ctype, ";") {
		if p = strings.TrimSpace(p); !strings.HasPrefix(p, model.EscapingKey+"=") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "; ")
}

// TestFederateParity: a real Prometheus and dandan, fed the same samples
// by remote_write, answer /federate with the same bytes, in the text format
// and in protobuf; both refuse bad selectors with 400. The one difference,
// a request without match[], is checked as documented.
func TestFederateParity(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Prometheus")
	}
	prom := testkit.StartPrometheus(t)
	ours := server(t, startService(t, Options{}), httpapi.Operator) // operator: to write, and read as a viewer
	base := time.Now().Truncate(time.Second)
	writeSeries(t, prom.URL("/api/v1/write"), federationSeries(base))
	writeSeries(t, ours.URL+"/api/v1/write", federationSeries(base))

	for _, tc := range []federateCase{
		{"every fed_ series", q("match[]", `{__name__=~"fed_.*"}`), ""},
		{"one series", q("match[]", `fed_requests_total{path="/a"}`), ""},
		{"overlapping match[]", q("match[]", "fed_up", "match[]", `{job="api"}`), ""},
		{"label sorting before __name__", q("match[]", `{A="upper"}`), ""},
		{"older than the lookback delta", q("match[]", "fed_old"), ""},
		{"ended by a stale marker", q("match[]", "fed_stale"), ""},
		{"nothing", q("match[]", "nothing_here"), ""},
		{"protobuf", q("match[]", `{__name__=~"fed_(up|values)"}`), acceptProto},
		{"text asked for", q("match[]", "fed_up"), "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"},
		{"bad selector", q("match[]", "sum("), ""},
		{"selector that matches everything", q("match[]", `{job=~".*"}`), ""},
		{"one bad selector of two", q("match[]", "fed_up", "match[]", `fed_up{`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus, wantType, want := getFederate(t, "http://"+prom.Addr, tc.query, tc.accept)
			gotStatus, gotType, got := getFederate(t, ours.URL, tc.query, tc.accept)
			if gotStatus != wantStatus {
				t.Fatalf("status %d, Prometheus %d\n dandan: %s\n   prom: %s", gotStatus, wantStatus, got, want)
			}
			if mediaType(gotType) != mediaType(wantType) {
				t.Errorf("Content-Type %q, Prometheus %q", gotType, wantType)
			}
			if wantStatus != http.StatusOK {
				// Parse errors are worded by each version's parser.
				t.Logf("dandan: %s   prom: %s", got, want)
				return
			}
			got, want = asText(t, gotType, got), asText(t, wantType, want)
			if got != want {
				t.Fatalf("replies differ\n dandan:\n%s\n   prom:\n%s", got, want)
			}
			if strings.Contains(tc.name, "fed_") && !strings.Contains(got, "# TYPE") {
				t.Fatalf("empty reply")
			}
		})
	}

	// Without match[], Prometheus answers 200 and nothing; dandan says
	// what is missing.
	if status, _, body := getFederate(t, "http://"+prom.Addr, q(), ""); status != http.StatusOK || body != "" {
		t.Errorf("Prometheus without match[]: %d %q", status, body)
	}
	if status, _, body := getFederate(t, ours.URL, q(), ""); status != http.StatusBadRequest || body != "no match[] parameter provided\n" {
		t.Errorf("dandan without match[]: %d %q", status, body)
	}
}

// federateServer serves the API of st at the fixed time now to callers
// with role.
func federateServer(t testing.TB, st func() (*Store, error), now time.Time, role httpapi.Role) *httptest.Server {
	t.Helper()
	a := newAPI(nil, st)
	a.now = func() time.Time { return now }
	m := httpapi.NewMux(httpapi.Options{})
	a.mount(m)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := httpapi.WithIdentity(r.Context(), &httpapi.Identity{Name: "test", Role: role})
		m.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestFederate: replies of /federate over the test data, at fixed times:
// the lookback delta, metadata types, content negotiation, histograms,
// escapes, and errors.
func TestFederate(t *testing.T) {
	svc := startService(t, Options{})
	fill(t, svc)
	st := svc.Store()
	st.SetMetadata("up", Metadata{Type: "gauge", Help: "Whether the target answered."})
	st.SetMetadata("http_requests_total", Metadata{Type: "counter", Help: "Requests served."})
	st.SetMetadata("tiny", Metadata{Type: "summary", Help: "Not a float family."})
	// Histograms come in by remote_write only: one native (exponential
	// buckets), one with custom buckets (a classic histogram converted).
	srv := server(t, svc, httpapi.Operator)
	native := &histogram.Histogram{
		Schema: 0, Count: 6, Sum: 12.5, ZeroThreshold: 0.001, ZeroCount: 1,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{2, 1},
		NegativeSpans: []histogram.Span{{Offset: 1, Length: 1}}, NegativeBuckets: []int64{0},
	}
	custom := &histogram.Histogram{
		Schema: histogram.CustomBucketsSchema, Count: 5, Sum: 3.25,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 3}}, PositiveBuckets: []int64{1, 1, 0},
		CustomValues: []float64{0.1, 0.5, 1},
	}
	at := t0.Add(10 * time.Minute).UnixMilli()
	writeSeries(t, srv.URL+"/api/v1/write", []prompb.TimeSeries{
		{Labels: []prompb.Label{{Name: "__name__", Value: "latency_seconds"}, {Name: "job", Value: "api"}},
			Histograms: []prompb.Histogram{prompb.FromIntHistogram(at, native)}},
		{Labels: []prompb.Label{{Name: "__name__", Value: "size_bytes"}, {Name: "job", Value: "api"}},
			Histograms: []prompb.Histogram{prompb.FromIntHistogram(at, custom)}},
	})

	open := func() (*Store, error) { return st, nil }
	closed := func() (*Store, error) { return nil, ErrClosed }
	late := t0.Add(12 * time.Minute)
	for _, tc := range []struct {
		federateCase
		now   time.Time
		store func() (*Store, error)
		role  httpapi.Role
		want  string // status, Content-Type, then the body (protobuf as text)
	}{
		{federateCase{"newest sample, metadata types", q("match[]", `{job="api"}`), ""}, late, open, httpapi.Viewer, `200 text/plain; version=0.0.4; charset=utf-8; escaping=underscores
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{job="api",path="/a",status="200",instance=""} 400 1767226200000
http_requests_total{job="api",path="/b",status="500",instance=""} 40 1767226200000
# TYPE huge untyped
huge{job="api",instance=""} 1e+22 1767226200000
# TYPE size_bytes histogram
size_bytes_bucket{job="api",instance="",le="0.1"} 1 1767226200000
size_bytes_bucket{job="api",instance="",le="0.5"} 3 1767226200000
size_bytes_bucket{job="api",instance="",le="1"} 5 1767226200000
size_bytes_bucket{job="api",instance="",le="+Inf"} 5 1767226200000
size_bytes_sum{job="api",instance=""} 3.25 1767226200000
size_bytes_count{job="api",instance=""} 5 1767226200000
# TYPE tiny untyped
tiny{job="api",instance=""} 4.1e-06 1767226200000
# HELP up Whether the target answered.
# TYPE up gauge
up{job="api",instance=""} 1 1767226200000
`},
		{federateCase{"between samples", q("match[]", "up"), ""}, t0.Add(5*time.Minute + 7*time.Second), open, httpapi.Viewer, `200 text/plain; version=0.0.4; charset=utf-8; escaping=underscores
# HELP up Whether the target answered.
# TYPE up gauge
up{job="api",instance=""} 1 1767225900000
up{job="web",instance=""} 0 1767225900000
`},
		{federateCase{"before the data", q("match[]", "up"), ""}, t0.Add(-time.Minute), open, httpapi.Viewer, `200 text/plain; version=0.0.4; charset=utf-8; escaping=underscores
`},
		{federateCase{"lookback delta passed", q("match[]", "up"), ""}, t0.Add(15*time.Minute + time.Second), open, httpapi.Viewer, `200 text/plain; version=0.0.4; charset=utf-8; escaping=underscores
`},
		{federateCase{"escapes", q("match[]", "odd"), ""}, late, open, httpapi.Viewer, `200 text/plain; version=0.0.4; charset=utf-8; escaping=underscores
# TYPE odd untyped
odd{note="<a & \"b\">\n é",instance=""} 0.3 1767226200000
`},
		{federateCase{"OpenMetrics", q("match[]", `{__name__=~"up|http_requests_total|size_bytes|latency_seconds"}`), "application/openmetrics-text;version=1.0.0"}, late, open, httpapi.Viewer, `200 application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores
# HELP http_requests Requests served.
# TYPE http_requests counter
http_requests_total{job="api",path="/a",status="200",instance=""} 400.0 1.7672262e+09
http_requests_total{job="api",path="/b",status="500",instance=""} 40.0 1.7672262e+09
# TYPE size_bytes histogram
size_bytes_bucket{job="api",instance="",le="0.1"} 1 1.7672262e+09
size_bytes_bucket{job="api",instance="",le="0.5"} 3 1.7672262e+09
size_bytes_bucket{job="api",instance="",le="1.0"} 5 1.7672262e+09
size_bytes_bucket{job="api",instance="",le="+Inf"} 5 1.7672262e+09
size_bytes_sum{job="api",instance=""} 3.25 1.7672262e+09
size_bytes_count{job="api",instance=""} 5 1.7672262e+09
# HELP up Whether the target answered.
# TYPE up gauge
up{job="api",instance=""} 1.0 1.7672262e+09
up{job="web",instance=""} 0.0 1.7672262e+09
# EOF
`},
		{federateCase{"protobuf, with the native histogram", q("match[]", `{__name__=~"up|size_bytes|latency_seconds"}`), acceptProto}, late, open, httpapi.Viewer, `200 application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores
# TYPE latency_seconds histogram
latency_seconds_bucket{job="api",instance="",le="+Inf"} 6 1767226200000
latency_seconds_sum{job="api",instance=""} 12.5 1767226200000
latency_seconds_count{job="api",instance=""} 6 1767226200000
# native histogram: schema 0, zero threshold 0.001, zero count 1, positive [0:2] [2 3], negative [1:1] [0]
# TYPE size_bytes histogram
size_bytes_bucket{job="api",instance="",le="0.1"} 1 1767226200000
size_bytes_bucket{job="api",instance="",le="0.5"} 3 1767226200000
size_bytes_bucket{job="api",instance="",le="1"} 5 1767226200000
size_bytes_bucket{job="api",instance="",le="+Inf"} 5 1767226200000
size_bytes_sum{job="api",instance=""} 3.25 1767226200000
size_bytes_count{job="api",instance=""} 5 1767226200000
# HELP up Whether the target answered.
# TYPE up gauge
up{job="api",instance=""} 1 1767226200000
up{job="web",instance=""} 0 1767226200000
`},
		{federateCase{"no match[]", q(), ""}, late, open, httpapi.Viewer, `400 text/plain; charset=utf-8
no match[] parameter provided
`},
		{federateCase{"bad selector", q("match[]", "up{"), ""}, late, open, httpapi.Viewer, `400 text/plain; charset=utf-8
1:4: parse error: unexpected end of input inside braces
`},
		{federateCase{"matchers of the empty label only", q("match[]", `{job=~"we.*|"}`), ""}, late, open, httpapi.Viewer, `200 text/plain; version=0.0.4; charset=utf-8; escaping=underscores
# TYPE odd untyped
odd{note="<a & \"b\">\n é",instance=""} 0.3 1767226200000
# HELP up Whether the target answered.
# TYPE up gauge
up{job="web",instance=""} 0 1767226200000
`},
		{federateCase{"store not open", q("match[]", "up"), ""}, late, closed, httpapi.Viewer, `503 text/plain; charset=utf-8
metric store is not open
`},
		{federateCase{"anonymous", q("match[]", "up"), ""}, late, open, httpapi.Public, `403 application/json; charset=utf-8
{"error":"the public role may not do this: it needs viewer","code":"forbidden"}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := federateServer(t, tc.store, tc.now, tc.role)
			status, ctype, body := getFederate(t, srv.URL, tc.query, tc.accept)
			if got := fmt.Sprintf("%d %s\n%s", status, ctype, asText(t, ctype, body)); got != tc.want {
				t.Errorf("GET /federate?%s\n got: %s\nwant: %s", tc.query.Encode(), got, tc.want)
			}
		})
	}
}

// BenchmarkFederate: /federate of 1,000 series of 4 samples each.
func BenchmarkFederate(b *testing.B) {
	svc := startService(b, Options{})
	now := time.Now()
	for i := range 4 {
		app := svc.Appender(b.Context())
		for j := range 1000 {
			ls := FromStrings("__name__", fmt.Sprintf("m%d", j%10), "job", "bench", "i", fmt.Sprint(j))
			if _, err := app.Append(0, ls, now.Add(time.Duration(i-4)*15*time.Second).UnixMilli(), float64(i*j)); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	srv := federateServer(b, func() (*Store, error) { return svc.Store(), nil }, now, httpapi.Viewer)
	b.ReportAllocs()
	for b.Loop() {
		status, _, body := getFederate(b, srv.URL, q("match[]", `{job="bench"}`), "")
		if status != http.StatusOK || strings.Count(body, "\n") != 1010 {
			b.Fatalf("%d, %d lines", status, strings.Count(body, "\n"))
		}
	}
}
