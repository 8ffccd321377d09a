package metricstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// remoteWrite posts the test data, from base, as one remote_write 1.0
// request to url, and returns the reply's status.
func remoteWrite(t testing.TB, url string, base time.Time) int {
	t.Helper()
	var req prompb.WriteRequest
	for _, s := range testSeries {
		var ts prompb.TimeSeries
		FromStrings(s.labels...).Range(func(l Label) {
			ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
		})
		for i := range testPoints {
			ts.Samples = append(ts.Samples, prompb.Sample{Value: s.value(i), Timestamp: base.Add(time.Duration(i) * 15 * time.Second).UnixMilli()})
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	pb, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hr, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(snappy.Encode(nil, pb)))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Encoding", "snappy")
	hr.Header.Set("Content-Type", "application/x-protobuf")
	hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestParity: a real Prometheus (Debian's) and dandan, fed the same samples
// by remote_write, answer the same queries with the same bytes, and the
// same errors. Times avoid sample boundaries, where Prometheus 3's
// left-open range selectors differ from the 2.x that Debian ships.
func TestParity(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Prometheus")
	}
	prom := testkit.StartPrometheus(t)
	ours := server(t, startService(t, Options{}), httpapi.Operator)
	base := time.Now().Add(-20 * time.Minute).Truncate(15 * time.Second)
	for _, u := range []string{prom.URL("/api/v1/write"), ours.URL + "/api/v1/write"} {
		if status := remoteWrite(t, u, base); status != http.StatusNoContent {
			t.Fatalf("remote_write to %s: %d", u, status)
		}
	}

	at := func(d time.Duration) string {
		ms := base.Add(d).UnixMilli()
		return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
	}
	for _, tc := range []apiCase{
		{"vector", "GET", "/api/v1/query", q("query", "up", "time", at(5*time.Minute+7*time.Second))},
		{"vector, POST", "POST", "/api/v1/query", q("query", "up", "time", base.Add(time.Minute).Format(time.RFC3339))},
		{"rate by status", "GET", "/api/v1/query", q("query", `sum by (status) (rate(http_requests_total[5m]))`, "time", at(9*time.Minute+53*time.Second))},
		{"exponents and escapes", "GET", "/api/v1/query", q("query", `{__name__=~"tiny|huge|odd"}`, "time", at(7*time.Second))},
		{"scalar", "GET", "/api/v1/query", q("query", "1 + 2", "time", at(500*time.Millisecond))},
		{"string", "GET", "/api/v1/query", q("query", `"hello"`, "time", at(0))},
		{"count_over_time", "GET", "/api/v1/query", q("query", `count_over_time(up[1m])`, "time", at(2*time.Minute+7*time.Second))},
		{"matrix", "GET", "/api/v1/query", q("query", `up{job="web"}[1m]`, "time", at(time.Minute+7*time.Second))},
		{"empty", "GET", "/api/v1/query", q("query", "http_requests_total", "time", at(time.Hour))},
		{"range", "GET", "/api/v1/query_range", q("query", "up", "start", at(0), "end", at(2*time.Minute), "step", "30s")},
		{"range of rate", "POST", "/api/v1/query_range", q("query", `rate(http_requests_total[1m])`, "start", at(2*time.Minute+7*time.Second), "end", at(5*time.Minute+7*time.Second), "step", "60")},
		{"range, fractional step", "GET", "/api/v1/query_range", q("query", `sum(up)`, "start", at(7*time.Second), "end", at(67*time.Second), "step", "15.5")},
		{"series", "GET", "/api/v1/series", q("match[]", "up")},
		{"series, two match[]", "POST", "/api/v1/series", q("match[]", "up", "match[]", `http_requests_total{status="500"}`)},
		{"labels", "GET", "/api/v1/labels", q()},
		{"labels, match[]", "GET", "/api/v1/labels", q("match[]", "up")},
		{"label values", "GET", "/api/v1/label/job/values", q()},
		{"metric names", "GET", "/api/v1/label/__name__/values", q()},
		{"escaped label values", "GET", "/api/v1/label/note/values", q()},
		{"bad query", "GET", "/api/v1/query", q("query", "sum(")},
		{"zero step", "GET", "/api/v1/query_range", q("query", "up", "start", at(0), "end", at(time.Minute), "step", "0")},
		{"series without match[]", "GET", "/api/v1/series", q()},
		{"bad time", "GET", "/api/v1/query", q("query", "up", "time", "yesterday")},
		{"execution error", "GET", "/api/v1/query", q("query", `label_replace(up, "job", "x", "job", ".*")`, "time", at(0))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus, _, want := do(t, "http://"+prom.Addr, tc.method, tc.path, tc.query)
			gotStatus, _, got := do(t, ours.URL, tc.method, tc.path, tc.query)
			if gotStatus != wantStatus {
				t.Fatalf("status %d, Prometheus %d\n dandan: %s\n   prom: %s", gotStatus, wantStatus, got, want)
			}
			if wantStatus == http.StatusOK {
				if sortVector(t, got) != sortVector(t, want) {
					t.Fatalf("replies differ\n dandan: %s\n   prom: %s", got, want)
				}
				return
			}
			// Errors: the same envelope and errorType, plus our code;
			// messages may be worded differently across versions.
			var g, w map[string]any
			if err := json.Unmarshal([]byte(got), &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(want), &w); err != nil {
				t.Fatal(err)
			}
			if g["code"] != w["errorType"] {
				t.Errorf("code %v, want the errorType %v", g["code"], w["errorType"])
			}
			delete(g, "code")
			for _, m := range []map[string]any{g, w} {
				if _, ok := m["error"].(string); !ok {
					t.Fatalf("no error message in %v", m)
				}
				m["error"] = "…"
			}
			if fmt.Sprint(g) != fmt.Sprint(w) {
				t.Errorf("error replies differ\n dandan: %s\n   prom: %s", got, want)
			}
		})
	}

	// promtool, Prometheus's own client, reads both alike.
	if prom.Promtool == "" {
		t.Log("promtool not found: skipping its comparison")
		return
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"instant", []string{"query", "instant", "--time=" + base.Add(5*time.Minute+7*time.Second).Format(time.RFC3339), "{{url}}", `sum by (job) (up)`}},
		{"range", []string{"query", "range", "--start=" + base.Format(time.RFC3339), "--end=" + base.Add(2*time.Minute).Format(time.RFC3339), "--step=30s", "{{url}}", `up`}},
		{"series", []string{"query", "series", "--match=up", "{{url}}"}},
		{"labels", []string{"query", "labels", "{{url}}", "job"}},
	} {
		t.Run("promtool "+tc.name, func(t *testing.T) {
			want := promtool(t, prom.Promtool, tc.args, "http://"+prom.Addr)
			got := promtool(t, prom.Promtool, tc.args, ours.URL)
			if got != want {
				t.Fatalf("promtool answers differ\n dandan: %s\n   prom: %s", got, want)
			}
			if strings.TrimSpace(got) == "" {
				t.Fatal("promtool printed nothing")
			}
		})
	}
}

// promtool runs promtool with args, {{url}} replaced by url, and returns
// its output.
func promtool(t *testing.T, bin string, args []string, u string) string {
	t.Helper()
	if _, err := url.Parse(u); err != nil {
		t.Fatal(err)
	}
	a := make([]string, len(args))
	for i, s := range args {
		a[i] = strings.ReplaceAll(s, "{{url}}", u)
	}
	out, err := exec.Command(bin, a...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(a, " "), err, out)
	}
	return string(out)
}

// sortVector returns the reply with the samples of a vector result in the
// order of their labels, and any other reply as it is. The order of a
// vector is unspecified (Prometheus 3 keeps the storage's order where 2.x
// sorted), so only it is made canonical; each sample stays byte for byte.
func sortVector(t *testing.T, reply string) string {
	t.Helper()
	var r struct {
		Status string
		Data   struct {
			ResultType string
			Result     []json.RawMessage
		}
	}
	if json.Unmarshal([]byte(reply), &r) != nil || r.Data.ResultType != "vector" {
		return strings.TrimSpace(reply)
	}
	samples := make([]string, len(r.Data.Result))
	for i, s := range r.Data.Result {
		samples[i] = string(s)
	}
	slices.Sort(samples)
	return r.Status + " vector " + strings.Join(samples, ",")
}

// TestRemoteWrite: remote_write lands in the store; samples that can never
// be written are refused with 400 so that senders do not retry them, as
// Prometheus does; a repeated request (a retry of a batch that was
// written) is such a case, and changes nothing.
func TestRemoteWrite(t *testing.T) {
	svc := startService(t, Options{})
	srv := server(t, svc, httpapi.Operator)
	base := time.Now().Add(-20 * time.Minute).Truncate(time.Second)
	if status := remoteWrite(t, srv.URL+"/api/v1/write", base); status != http.StatusNoContent {
		t.Fatalf("remote_write: %d", status)
	}
	if status := remoteWrite(t, srv.URL+"/api/v1/write", base); status != http.StatusBadRequest {
		t.Fatalf("remote_write again: %d, want 400", status)
	}
	if n := count(t, svc.Store(), "up"); n != 2*testPoints {
		t.Fatalf("%d samples of up, want %d", n, 2*testPoints)
	}
	for _, tc := range []struct {
		name string
		ts   time.Time
		want int
	}{
		{"out of order", base.Add(time.Second), http.StatusBadRequest},
		{"an hour ahead", time.Now().Add(time.Hour), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
				Labels:  []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "api"}},
				Samples: []prompb.Sample{{Value: 7, Timestamp: tc.ts.UnixMilli()}},
			}}}
			pb, err := req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			hr, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, pb)))
			hr.Header.Set("Content-Encoding", "snappy")
			hr.Header.Set("Content-Type", "application/x-protobuf")
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
