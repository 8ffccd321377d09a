package alerting

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/testkit"
)

func TestAPI(t *testing.T) {
	e := newEnv(t)
	e.set(10, "__name__", "test_metric", "job", "web", "instance", "a")
	eng := e.engine(Config{RuleFiles: []string{e.write("api.yml", testRules)}})
	mux := httpapi.NewMux(httpapi.Options{})
	eng.Mount(mux)
	as := func(role httpapi.Role) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mux.ServeHTTP(w, r.WithContext(httpapi.WithIdentity(r.Context(), &httpapi.Identity{Name: "t", Role: role})))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	viewer, operator := as(httpapi.Viewer), as(httpapi.Operator)
	call := func(srv *httptest.Server, method, path string, v any) int {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		return resp.StatusCode
	}

	testkit.Eventually(t, 10*time.Second, func() error {
		var body struct{ Alerts []Alert }
		if code := call(viewer, "GET", "/api/alerts", &body); code != 200 {
			return fmt.Errorf("status %d", code)
		}
		if len(body.Alerts) != 1 || body.Alerts[0].State != "firing" || body.Alerts[0].Labels["instance"] != "a" || body.Alerts[0].Value != 10 {
			return fmt.Errorf("alerts %+v", body.Alerts)
		}
		return nil
	})

	var rules struct{ Groups []GroupStatus }
	if code := call(viewer, "GET", "/api/alerts/rules", &rules); code != 200 || len(rules.Groups) != 1 {
		t.Fatalf("%d %+v", code, rules)
	}
	g := rules.Groups[0]
	if g.Name != "test" || len(g.Rules) != 2 || g.LastEvaluation.IsZero() {
		t.Errorf("group %+v", g)
	}
	if r := g.Rules[0]; r.Type != "recording" || r.Health != "ok" || r.Name != "job:test_metric:max" {
		t.Errorf("recording rule %+v", r)
	}
	if r := g.Rules[1]; r.Type != "alerting" || r.State != "firing" || r.For != 2 || len(r.Alerts) != 1 || r.Annotations["summary"] == "" {
		t.Errorf("alerting rule %+v", r)
	}

	testkit.Eventually(t, 5*time.Second, func() error {
		var hist struct{ Alerts []HistoryEntry }
		from := time.Now().Add(-time.Hour).Format(time.RFC3339)
		if code := call(viewer, "GET", "/api/alerts/history?from="+from+"&name=TestMetricHigh", &hist); code != 200 {
			return fmt.Errorf("status %d", code)
		}
		if len(hist.Alerts) != 1 || hist.Alerts[0].State != "firing" {
			return fmt.Errorf("history %+v", hist.Alerts)
		}
		return nil
	})
	var bad httpapi.ErrorBody
	if code := call(viewer, "GET", "/api/alerts/history?from=yesterday", &bad); code != 400 || bad.Code != "bad_request" {
		t.Errorf("bad from: %d %+v", code, bad)
	}
	if code := call(viewer, "POST", "/api/alerts/reload", nil); code != 403 {
		t.Errorf("reload as viewer: %d", code)
	}
	var reloaded struct{ Groups, Rules int }
	if code := call(operator, "POST", "/api/alerts/reload", &reloaded); code != 200 || reloaded.Groups != 1 || reloaded.Rules != 2 {
		t.Errorf("reload: %d %+v", code, reloaded)
	}
}
