package boards

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/testkit"
)

func TestServiceBoard(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	total := h.feed(t, "web")
	code, body := h.get(t, "/api/boards", "")
	if code != 200 || !strings.Contains(body, `"name":"service-web"`) || !strings.Contains(body, `"source":"built-in"`) {
		t.Fatalf("%d %s", code, body)
	}
	code, page := h.get(t, "/boards/service-web", "")
	if code != 200 || !strings.Contains(page, "Requests counted") {
		t.Fatalf("%d %.300s", code, page)
	}
	// The "Requests counted" big number is the exact total.
	bd, _ := h.b.board(context.Background(), "service-web")
	idx := -1
	for i, p := range bd.Panels {
		if p.Title == "Requests counted" {
			idx = i
		}
	}
	code, frag := h.get(t, "/boards/service-web/panel/"+itoa(idx), "")
	want := FormatValue(total, "")
	if code != 200 || !strings.Contains(frag, ">"+want+"<") {
		t.Fatalf("total %s not in %d %s", want, code, frag)
	}
	// 5xx share: 10 of 120.
	for i, p := range bd.Panels {
		if p.Title == "5xx errors" {
			_, frag = h.get(t, "/boards/service-web/panel/"+itoa(i), "")
			if !strings.Contains(frag, "8.33%") || !strings.Contains(frag, "level-bad") {
				t.Errorf("5xx panel: %s", frag)
			}
		}
	}
	// Tables list paths, most first.
	for i, p := range bd.Panels {
		if p.Title == "Top paths by traffic" {
			_, frag = h.get(t, "/boards/service-web/panel/"+itoa(i), "")
			if a, b := strings.Index(frag, "/a"), strings.Index(frag, "/b"); a < 0 || b < 0 || a > b {
				t.Errorf("top paths: %s", frag)
			}
		}
	}
}

func TestBoardYAMLRoundTrip(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.feed(t, "web")
	yaml := `name: edge
title: Edge
labels: {job: $job}
variables:
  - {name: job, label: job, metric: http_requests_total}
panels:
  - title: RPS
    kind: stat
    unit: req/s
    queries: [{expr: 'sum(rate(http_requests_total{job="$job"}[1m]))'}]
  - title: By class
    kind: timeseries
    queries: [{expr: 'sum by (class) (label_replace(rate(http_requests_total{job="$job"}[1m]), "class", "${1}xx", "status", "(.).."))', legend: "{{class}}"}]
`
	// Viewers may not save; operators may, and bad YAML says where.
	form := url.Values{"yaml": {yaml}}
	if code := h.post(t, "/boards/edge/edit", form, "viewer"); code != http.StatusForbidden {
		t.Fatalf("viewer saved: %d", code)
	}
	bad := url.Values{"yaml": {"name: edge\npanels:\n  - title: x\n    kind: pie\n    queries: [{expr: up}]\n"}}
	code, body := h.postBody(t, "/boards/edge/edit", bad, "operator")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "board edge:4:11: panels[0].kind: one of") {
		t.Fatalf("bad board: %d %s", code, body)
	}
	if code := h.post(t, "/boards/edge/edit", form, "operator"); code != http.StatusSeeOther {
		t.Fatalf("save: %d", code)
	}
	code, out := h.get(t, "/api/boards/edge/yaml", "")
	if code != 200 || !strings.Contains(out, `"${1}xx"`) || !strings.Contains(out, "name: edge") {
		t.Fatalf("export: %d\n%s", code, out)
	}
	// The export saves again unchanged.
	req, _ := http.NewRequest("PUT", h.srv.URL+"/api/boards/edge", strings.NewReader(out))
	req.Header.Set("X-Test-Role", "operator")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("put: %v %v", err, resp.Status)
	}
	code, page := h.get(t, "/boards/edge?var-job=web", "")
	if code != 200 || !strings.Contains(page, `job=\&#34;web\&#34;`) && !strings.Contains(page, `job=\u0022web\u0022`) && !strings.Contains(page, "web") {
		t.Fatalf("board page: %d", code)
	}
	req, _ = http.NewRequest("DELETE", h.srv.URL+"/api/boards/edge", nil)
	req.Header.Set("X-Test-Role", "operator")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("delete: %v %v", err, resp.Status)
	}
	if code, _ := h.get(t, "/boards/edge", ""); code != 404 {
		t.Fatalf("deleted board: %d", code)
	}
}

func TestEventsOnBoard(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.feed(t, "web")
	if _, err := h.events.Record(context.Background(), events.Event{Time: time.Now().Add(-10 * time.Minute), Part: "alerts", Kind: "alert", Severity: events.Critical,
		Text: "HighErrorRate web", Labels: map[string]string{"job": "web"}, Lasting: true}); err != nil {
		t.Fatal(err)
	}
	_, page := h.get(t, "/boards/service-web", "")
	if !strings.Contains(page, `data-events="/api/events?label=job%3Aweb"`) {
		t.Fatalf("board does not ask for its events:\n%.2000s", page)
	}
}

func (h *harness) post(t *testing.T, path string, form url.Values, role string) int {
	code, _ := h.postBody(t, path, form, role)
	return code
}

func (h *harness) postBody(t *testing.T, path string, form url.Values, role string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Test-Role", role)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// TestTVRole: a TV token reaches the TV pages and their panels, and
// nothing else of the boards.
func TestTVRole(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.feed(t, "web")
	for path, want := range map[string]int{
		"/tv/service-web?tv=1":        200,
		"/boards/service-web/panel/0": 200,
		"/boards/service-web":         403,
		"/boards":                     403,
		"/api/boards":                 403,
	} {
		if code, _ := h.get(t, path, "tv"); code != want {
			t.Errorf("tv role %s: %d, want %d", path, code, want)
		}
	}
	// The playlist starts at the first service board.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", h.srv.URL+"/tv", nil)
	req.Header.Set("X-Test-Role", "tv")
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 303 || resp.Header.Get("Location") != "/tv/service-web?tv=1&playlist=1" {
		t.Fatalf("/tv: %v %v %q", err, resp.Status, resp.Header.Get("Location"))
	}
}

// TestAlertsAndThresholdRules: panel thresholds become a rule file that
// promtool accepts, and an alert that fires shows on the board and TV.
func TestAlertsAndThresholdRules(t *testing.T) {
	dir := t.TempDir()
	rules := dir + "/rules.yml"
	if err := os.WriteFile(rules, []byte(`groups:
  - name: test
    interval: 1s
    rules:
      - alert: WebDown
        expr: vector(1) > 0
        labels: {severity: critical, job: web}
        annotations: {summary: "web is down"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Alerting.RuleFiles = []string{rules}
	h := newHarness(t, cfg)
	h.feed(t, "web")
	code, body := h.get(t, "/api/boards/service-web/rules", "")
	if code != 200 || !strings.Contains(body, "alert: ServiceWeb5xxErrorsCritical") || !strings.Contains(body, "severity: critical") {
		t.Fatalf("%d\n%s", code, body)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		f := dir + "/board.rules.yml"
		os.WriteFile(f, []byte(body), 0o644)
		if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
			t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, body)
		}
	} else {
		t.Log("promtool not found (Debian package prometheus): rule file not checked")
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		_, frag := h.get(t, "/boards/alerts?label=job:web", "tv")
		if !strings.Contains(frag, "WebDown") || !strings.Contains(frag, "web is down") || !strings.Contains(frag, "bd-alert-critical") {
			return fmt.Errorf("alert strip: %s", frag)
		}
		return nil
	})
	if _, frag := h.get(t, "/boards/alerts?label=job:other", "tv"); strings.Contains(frag, "WebDown") {
		t.Errorf("alert of job web on another board: %s", frag)
	}
}
