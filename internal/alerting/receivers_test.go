package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestWebhookRetries: 5xx and 429 are tried again with backoff, other 4xx
// are not; a notification that fails every attempt is counted.
func TestWebhookRetries(t *testing.T) {
	cases := []struct {
		name     string
		statuses []int // answers in turn; the last repeats
		calls    int32
		failed   float64
	}{
		{"ok at once", []int{200}, 1, 0},
		{"ok on the third attempt", []int{503, 429, 200}, 3, 0},
		{"down", []int{500}, 4, 1},
		{"refused", []int{400}, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1)) - 1
				w.WriteHeader(tc.statuses[min(n, len(tc.statuses)-1)])
			}))
			defer srv.Close()
			m := newMetrics(nil, nil)
			wh := &webhook{
				cfg:    WebhookConfig{URL: srv.URL},
				post:   poster{client: srv.Client(), url: srv.URL, timeout: time.Second, backoff: []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}},
				repeat: time.Hour,
				m:      m,
				log:    slog.New(slog.DiscardHandler),
				groups: map[string]*webhookGroup{},
			}
			wh.handle(context.Background(), []delivery{{notice: testNotice("a"), change: fired}})
			if got := calls.Load(); got != tc.calls {
				t.Errorf("%d attempts, want %d", got, tc.calls)
			}
			if got := testutil.ToFloat64(m.failed.WithLabelValues("webhook")); got != tc.failed {
				t.Errorf("failures %v, want %v", got, tc.failed)
			}
		})
	}
}

func testNotice(instance string) notice {
	ls := map[string]string{"alertname": "Down", "instance": instance, "job": "web"}
	return notice{
		fingerprint: fingerprint(labels.FromMap(ls)),
		labels:      ls,
		annotations: map[string]string{"summary": instance + " is down"},
		startsAt:    time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		validUntil:  time.Date(2026, 11, 25, 10, 4, 0, 0, time.UTC),
	}
}

// TestWebhookGrouping: alerts of one name go in one message, with the
// labels they share; a group is told again when an alert joins or
// resolves, or after the repeat interval, and is capped by max_alerts.
func TestWebhookGrouping(t *testing.T) {
	var mu sync.Mutex
	var msgs []amMessage
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m amMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Error(err)
		}
		mu.Lock()
		msgs = append(msgs, m)
		mu.Unlock()
	}))
	defer srv.Close()
	wh := &webhook{
		cfg:    WebhookConfig{Name: "chat", URL: srv.URL, MaxAlerts: 2},
		post:   poster{client: srv.Client(), url: srv.URL, timeout: time.Second},
		repeat: time.Hour,
		m:      newMetrics(nil, nil),
		log:    slog.New(slog.DiscardHandler),
		groups: map[string]*webhookGroup{},
	}
	ctx := context.Background()
	a, b, c := testNotice("a"), testNotice("b"), testNotice("c")
	wh.handle(ctx, []delivery{{notice: a, change: fired}, {notice: b, change: fired}})
	wh.handle(ctx, []delivery{{notice: a}, {notice: b}}) // sent again: nothing new
	wh.handle(ctx, []delivery{{notice: c, change: fired}})
	b.endsAt = b.startsAt.Add(time.Minute)
	wh.handle(ctx, []delivery{{notice: b, change: resolvedNow}})
	wh.groups["Down"].lastFlush = time.Now().Add(-2 * time.Hour)
	wh.handle(ctx, []delivery{{notice: a}})

	mu.Lock()
	defer mu.Unlock()
	type row struct {
		status    string
		alerts    string
		truncated uint64
		common    string
	}
	var got []row
	for _, m := range msgs {
		s := ""
		for _, a := range m.Alerts {
			s += a.Labels["instance"] + ":" + a.Status + " "
		}
		got = append(got, row{m.Status, s, m.TruncatedAlerts, fmt.Sprint(m.CommonLabels)})
		if m.Receiver != "chat" || m.GroupKey != `{}:{alertname="Down"}` {
			t.Errorf("message %+v", m)
		}
	}
	want := []row{
		{"firing", "a:firing b:firing ", 0, "map[alertname:Down job:web]"},
		{"firing", "a:firing b:firing ", 1, "map[alertname:Down job:web]"},
		{"firing", "a:firing b:resolved ", 1, "map[alertname:Down job:web]"},
		{"firing", "a:firing c:firing ", 0, "map[alertname:Down job:web]"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
}

// TestAlertmanagerAPI: with alertmanager_url, every alert the rules send
// is posted to /api/v2/alerts as Prometheus's notifier posts it.
func TestAlertmanagerAPI(t *testing.T) {
	type postable struct {
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
	}
	var mu sync.Mutex
	var got [][]postable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		var as []postable
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&as); err != nil {
			t.Errorf("%v: %s", err, b)
		}
		mu.Lock()
		got = append(got, as)
		mu.Unlock()
	}))
	defer srv.Close()
	e := newEnv(t)
	e.set(10, "__name__", "am_metric", "instance", "x")
	e.engine(Config{
		RuleFiles:       []string{e.write("am.yml", "groups:\n  - name: am\n    rules:\n      - alert: AM\n        expr: am_metric > 5\n")},
		AlertmanagerURL: srv.URL + "/",
	})
	testkit.Eventually(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			return fmt.Errorf("nothing posted")
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	a := got[0]
	if len(a) != 1 || a[0].Labels["alertname"] != "AM" || a[0].Labels["instance"] != "x" || a[0].StartsAt.IsZero() ||
		!a[0].EndsAt.After(a[0].StartsAt.Add(3*time.Minute)) || a[0].GeneratorURL == "" {
		t.Errorf("posted %+v", a)
	}
}

// TestMetrics: the engine counts evaluations and active alerts.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.set(10, "__name__", "m_metric")
	reg := prometheus.NewRegistry()
	eng, err := New(Options{
		Config:     Config{RuleFiles: []string{e.write("m.yml", "groups:\n  - name: m\n    rules:\n      - alert: M\n        expr: m_metric > 5\n")}, Interval: config.Duration(100 * time.Millisecond)},
		Metrics:    e.store,
		Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stop(t, eng)
	testkit.Eventually(t, 5*time.Second, func() error {
		if n := testutil.ToFloat64(eng.m.evals.WithLabelValues("m")); n < 2 {
			return fmt.Errorf("%v evaluations", n)
		}
		mfs, err := reg.Gather()
		if err != nil {
			return err
		}
		for _, mf := range mfs {
			if mf.GetName() == "dandan_alerts_firing" && mf.GetMetric()[0].GetGauge().GetValue() == 1 {
				return nil
			}
		}
		return fmt.Errorf("dandan_alerts_firing is not 1")
	})
}
