package metricstore

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// t0 is when the test data starts: 2026-01-01T00:00:00Z.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// server serves svc's API to callers with role, as dandan's server would
// after authentication.
func server(t testing.TB, svc *Service, role httpapi.Role) *httptest.Server {
	t.Helper()
	m := httpapi.NewMux(httpapi.Options{})
	svc.Mount(m)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := httpapi.WithIdentity(r.Context(), &httpapi.Identity{Name: "test", Role: role})
		m.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(ts.Close)
	return ts
}

// startService starts a Service in a temporary directory, stopped when the
// test ends.
func startService(t testing.TB, opts Options) *Service {
	t.Helper()
	svc := NewService(t.TempDir(), opts)
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop(context.Background()) })
	return svc
}

// series of the test data: a counter of two paths, a gauge of two jobs,
// values that need exponent notation, and label values JSON must escape.
var testSeries = []struct {
	labels []string
	value  func(i int) float64
}{
	{[]string{"__name__", "http_requests_total", "job", "api", "path", "/a", "status", "200"}, func(i int) float64 { return float64(10 * i) }},
	{[]string{"__name__", "http_requests_total", "job", "api", "path", "/b", "status", "500"}, func(i int) float64 { return float64(i) }},
	{[]string{"__name__", "up", "job", "api"}, func(int) float64 { return 1 }},
	{[]string{"__name__", "up", "job", "web"}, func(i int) float64 { return float64(i % 2) }},
	{[]string{"__name__", "tiny", "job", "api"}, func(i int) float64 { return 1e-7 * float64(i+1) }},
	{[]string{"__name__", "huge", "job", "api"}, func(i int) float64 { return 1e22 }},
	{[]string{"__name__", "odd", "note", "<a & \"b\">\n\u2028é"}, func(i int) float64 { return 0.1 + 0.2 }},
}

// testPoints is how many samples each series gets, 15 s apart from t0.
const testPoints = 41

// fill appends the test data through app, one sample per series every 15 s
// for 10 minutes, in one transaction per time.
func fill(t testing.TB, a Appendable) {
	t.Helper()
	refs := make([]SeriesRef, len(testSeries))
	for i := range testPoints {
		app := a.Appender(context.Background())
		ts := t0.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		for j, s := range testSeries {
			ref, err := app.Append(refs[j], FromStrings(s.labels...), ts, s.value(i))
			if err != nil {
				t.Fatal(err)
			}
			refs[j] = ref
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// apiCase is one request of the API table.
type apiCase struct {
	name   string
	method string // GET, or POST with the query as a form body
	path   string
	query  url.Values
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// unix is a time of the test data as Prometheus's unix-seconds form.
func unix(d time.Duration) string { return fmt.Sprint(t0.Add(d).Unix()) }

// rfc is a time of the test data in RFC 3339.
func rfc(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }

var apiCases = []apiCase{
	// query
	{"instant vector", "GET", "/api/v1/query", q("query", "up", "time", unix(5*time.Minute))},
	{"instant vector, form POST, RFC 3339 time", "POST", "/api/v1/query", q("query", "up", "time", rfc(5*time.Minute))},
	{"aggregation", "GET", "/api/v1/query", q("query", `sum by (status) (rate(http_requests_total[5m]))`, "time", unix(10*time.Minute))},
	{"scalar", "GET", "/api/v1/query", q("query", "1 + 2", "time", "1767225600.5")},
	{"string", "GET", "/api/v1/query", q("query", `"hello"`, "time", unix(0))},
	{"range vector", "GET", "/api/v1/query", q("query", `up{job="web"}[1m]`, "time", unix(time.Minute))},
	{"exponent values and escaped labels", "GET", "/api/v1/query", q("query", `{__name__=~"tiny|huge|odd"}`, "time", unix(0))},
	{"limit truncates with a warning", "GET", "/api/v1/query", q("query", "up", "time", unix(0), "limit", "1")},
	{"empty result", "GET", "/api/v1/query", q("query", "nothing_here", "time", unix(0))},
	{"stats", "GET", "/api/v1/query", q("query", "up", "time", unix(0), "stats", "all")},
	{"info annotation", "GET", "/api/v1/query", q("query", `rate(up[5m])`, "time", unix(5*time.Minute))},
	{"bad query", "GET", "/api/v1/query", q("query", "sum(", "time", unix(0))},
	{"no query", "GET", "/api/v1/query", q()},
	{"bad time", "GET", "/api/v1/query", q("query", "up", "time", "yesterday")},
	{"bad limit", "GET", "/api/v1/query", q("query", "up", "limit", "-1")},
	{"bad timeout", "GET", "/api/v1/query", q("query", "up", "timeout", "soon")},
	{"timed out", "GET", "/api/v1/query", q("query", "up", "timeout", "0.000000001")},
	{"execution error", "GET", "/api/v1/query", q("query", `label_replace(up, "job", "x", "job", ".*")`, "time", unix(0))},
	{"too many samples", "GET", "/api/v1/query", q("query", `http_requests_total[10m]`, "time", unix(10*time.Minute))},
	// query_range
	{"range", "GET", "/api/v1/query_range", q("query", "up", "start", unix(0), "end", unix(time.Minute), "step", "30s")},
	{"range, form POST, float step", "POST", "/api/v1/query_range", q("query", `up{job="web"}`, "start", rfc(0), "end", rfc(time.Minute), "step", "15.5")},
	{"range of a scalar", "GET", "/api/v1/query_range", q("query", "time()", "start", unix(0), "end", unix(30*time.Second), "step", "15s")},
	{"range, no step", "GET", "/api/v1/query_range", q("query", "up", "start", unix(0), "end", unix(time.Minute))},
	{"range, zero step", "GET", "/api/v1/query_range", q("query", "up", "start", unix(0), "end", unix(time.Minute), "step", "0")},
	{"range, end before start", "GET", "/api/v1/query_range", q("query", "up", "start", unix(time.Minute), "end", unix(0), "step", "15s")},
	{"range, too many points", "GET", "/api/v1/query_range", q("query", "up", "start", unix(0), "end", unix(24*time.Hour), "step", "1s")},
	{"range, bad start", "GET", "/api/v1/query_range", q("query", "up", "start", "x", "end", unix(0), "step", "1s")},
	// series
	{"series", "GET", "/api/v1/series", q("match[]", "up")},
	{"series, two matchers, form POST, time range", "POST", "/api/v1/series", q("match[]", "up", "match[]", `http_requests_total{status="500"}`, "start", unix(0), "end", unix(time.Hour))},
	{"series, limit", "GET", "/api/v1/series", q("match[]", `{job="api"}`, "limit", "2")},
	{"series, no match[]", "GET", "/api/v1/series", q()},
	{"series, empty matcher", "GET", "/api/v1/series", q("match[]", `{job=~".*"}`)},
	{"series, bad matcher", "GET", "/api/v1/series", q("match[]", `up{`)},
	// labels
	{"labels", "GET", "/api/v1/labels", q()},
	{"labels, match[]", "GET", "/api/v1/labels", q("match[]", "up")},
	{"labels, form POST, two match[]", "POST", "/api/v1/labels", q("match[]", "up", "match[]", "odd")},
	{"labels, limit", "GET", "/api/v1/labels", q("limit", "2")},
	{"labels, after the data", "GET", "/api/v1/labels", q("start", unix(2*time.Hour), "end", unix(3*time.Hour))},
	{"labels, bad end", "GET", "/api/v1/labels", q("end", "later")},
	// label values
	{"label values", "GET", "/api/v1/label/job/values", q()},
	{"metric names", "GET", "/api/v1/label/__name__/values", q("match[]", `{job="api"}`)},
	{"label values, none", "GET", "/api/v1/label/nope/values", q()},
	{"label values, limit", "GET", "/api/v1/label/__name__/values", q("limit", "1")},
	{"label values, escaped UTF-8 name", "GET", "/api/v1/label/U__n_6f_te/values", q()},
	// the rest Grafana calls
	{"buildinfo", "GET", "/api/v1/status/buildinfo", q()},
	{"metadata", "GET", "/api/v1/metadata", q()},
	{"metadata of one metric", "GET", "/api/v1/metadata", q("metric", "up")},
	{"metadata, bad limit", "GET", "/api/v1/metadata", q("limit", "x")},
	{"exemplars", "GET", "/api/v1/query_exemplars", q("query", "up", "start", unix(0), "end", unix(time.Hour))},
	{"exemplars, form POST", "POST", "/api/v1/query_exemplars", q("query", "up")},
	{"exemplars, bad query", "GET", "/api/v1/query_exemplars", q("query", "up{")},
}

// volatile hides what changes from run to run in the golden file.
var volatile = regexp.MustCompile(`"(revision|branch|buildDate|goVersion|timings|queryPreparationTime|innerEval|resultSort|execQueueTime|execTotalTime|evalTotalTime)":("[^"]*"|[0-9.e-]+|\{[^}]*\})`)

// TestAPI: every endpoint's reply, and its errors, against
// testdata/api.golden (request and reply together; go test -update rewrites it).
func TestAPI(t *testing.T) {
	svc := startService(t, Options{MaxSamples: 50})
	fill(t, svc)
	svc.Store().SetMetadata("up", Metadata{Type: "gauge", Help: "Whether the target answered."})
	svc.Store().SetMetadata("http_requests_total", Metadata{Type: "counter", Help: "Requests served."})
	srv := server(t, svc, httpapi.Viewer)
	var golden strings.Builder
	for _, tc := range apiCases {
		t.Run(tc.name, func(t *testing.T) {
			status, ctype, body := do(t, srv.URL, tc.method, tc.path, tc.query)
			if ctype != "application/json" {
				t.Errorf("Content-Type %q", ctype)
			}
			body = volatile.ReplaceAllString(body, `"$1":"…"`)
			fmt.Fprintf(&golden, "### %s\n%s %s?%s\n%d\n%s\n\n", tc.name, tc.method, tc.path, tc.query.Encode(), status, body)
		})
	}
	testkit.Golden(t, "testdata/api.golden", []byte(golden.String()))
}

// do sends one request and returns the status, Content-Type and body.
func do(t testing.TB, base, method, path string, query url.Values) (int, string, string) {
	t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequest(method, base+path, strings.NewReader(query.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(method, base+path+"?"+query.Encode(), nil)
	}
	if err != nil {
		t.Fatal(err)
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

// TestAPIRoles: reads need viewer, remote_write operator; and before the
// store is open every route answers 503 in the envelope.
func TestAPIRoles(t *testing.T) {
	started := startService(t, Options{})
	for _, tc := range []struct {
		name       string
		svc        *Service
		role       httpapi.Role
		method     string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"viewer reads", started, httpapi.Viewer, "GET", "/api/v1/labels", 200, `{"status":"success","data":[]}`},
		{"viewer may not write", started, httpapi.Viewer, "POST", "/api/v1/write", 403, `"code":"forbidden"`},
		{"anonymous may not read", started, httpapi.Public, "GET", "/api/v1/labels", 403, `"code":"forbidden"`},
		{"not started: read", NewService(t.TempDir(), Options{}), httpapi.Viewer, "GET", "/api/v1/labels", 503,
			`{"status":"error","errorType":"unavailable","error":"metric store is not open","code":"unavailable"}`},
		{"not started: write", NewService(t.TempDir(), Options{}), httpapi.Operator, "POST", "/api/v1/write", 503, `"errorType":"unavailable"`},
		{"operator writes garbage", started, httpapi.Operator, "POST", "/api/v1/write", 400, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := server(t, tc.svc, tc.role)
			status, _, body := do(t, srv.URL, tc.method, tc.path, url.Values{"x": {"y"}})
			if status != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("%s %s = %d %s, want %d with %s", tc.method, tc.path, status, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

// TestREADMERoutes: every route Mount registers has its row in the
// README's route table, with its role.
func TestREADMERoutes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := httpapi.NewMux(httpapi.Options{})
	NewService(t.TempDir(), Options{}).Mount(m)
	for _, rt := range m.Routes() {
		row := "| `" + rt.Method() + " " + rt.Path() + "` | " + rt.Role.String() + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the route row %s", row)
		}
	}
}

// TestPrometheusVersion: buildinfo's version is the one go.mod pins.
func TestPrometheusVersion(t *testing.T) {
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/prometheus/prometheus v0\.(\d+)(\d\d)\.(\d+)`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("go.mod does not require github.com/prometheus/prometheus")
	}
	minor := strings.TrimPrefix(m[2], "0")
	if want := m[1] + "." + minor + "." + m[3]; PrometheusVersion != want {
		t.Fatalf("PrometheusVersion = %s, but go.mod pins %s", PrometheusVersion, want)
	}
}
