package alerting

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/testkit"
)

const testRules = `groups:
  - name: test
    rules:
      - record: job:test_metric:max
        expr: max by (job) (test_metric)
      - alert: TestMetricHigh
        expr: test_metric > 5
        for: 2s
        labels:
          severity: critical
        annotations:
          summary: test_metric is {{ $value }} on {{ $labels.instance }}
`

// TestFireAndResolve drives a known series across a rule's threshold and
// back: the rule goes pending, fires after its `for`, and resolves; the
// webhook gets Alertmanager's payload each time; the history, the event
// log and the ALERTS series have it; the recording rule writes its series.
func TestFireAndResolve(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	series := []string{"__name__", "test_metric", "job", "web", "instance", "a"}
	e.set(1, series...)
	eng := e.engine(Config{
		RuleFiles:   []string{e.write("test.yml", testRules)},
		Interval:    config.Duration(500 * time.Millisecond),
		Webhooks:    []WebhookConfig{{URL: rc.URL, BearerToken: "s3cret"}},
		ExternalURL: "https://dandan.example.com/",
	})
	ctx := context.Background()

	// The recording rule writes its series.
	testkit.Eventually(t, 5*time.Second, func() error {
		vs, err := e.store.QueryInstant(ctx, `job:test_metric:max{job="web"}`, time.Now())
		if err != nil || len(vs) != 1 || vs[0].V != 1 {
			return fmt.Errorf("recorded series: %v %v", vs, err)
		}
		return nil
	})

	crossed := time.Now()
	e.set(10, series...)
	testkit.Eventually(t, 5*time.Second, func() error {
		if a := eng.Active(); len(a) != 1 || a[0].State != "pending" {
			return fmt.Errorf("active: %+v", a)
		}
		return nil
	})
	if n := len(rc.messages()); n != 0 {
		t.Fatalf("pending alert notified: %d messages", n)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if len(rc.messages()) == 0 {
			return errors.New("no webhook message")
		}
		return nil
	})
	firedAfter := time.Since(crossed)
	if firedAfter < 2*time.Second {
		t.Errorf("fired %v after the series crossed the threshold, before its for: 2s", firedAfter)
	}
	act := eng.Active()
	if len(act) != 1 || act[0].State != "firing" || act[0].Value != 10 || act[0].Severity != "critical" || act[0].FiredAt.IsZero() {
		t.Fatalf("active: %+v", act)
	}

	want := map[string]string{"alertname": "TestMetricHigh", "severity": "critical", "job": "web", "instance": "a"}
	fp := model.LabelSet{"alertname": "TestMetricHigh", "severity": "critical", "job": "web", "instance": "a"}.Fingerprint().String()
	msg := rc.messages()[0]
	checkMessage(t, msg, "firing", want, fp)
	a := msg.Alerts[0]
	if !a.EndsAt.IsZero() {
		t.Errorf("firing alert endsAt %v, want Alertmanager's zero time", a.EndsAt)
	}
	if s := a.Annotations["summary"]; s != "test_metric is 10 on a" {
		t.Errorf("summary %q", s)
	}
	if !strings.HasPrefix(a.GeneratorURL, "https://dandan.example.com/graph?g0.expr=test_metric+%3E+5") {
		t.Errorf("generatorURL %q", a.GeneratorURL)
	}
	rc.mu.Lock()
	raw, auth := rc.raw[0], rc.auth[0]
	rc.mu.Unlock()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	})
	wantKeys := []string{"alerts", "commonAnnotations", "commonLabels", "externalURL", "groupKey", "groupLabels", "receiver", "status", "truncatedAlerts", "version"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("payload keys %v, want %v", keys, wantKeys)
	}
	if auth != "Bearer s3cret" {
		t.Errorf("Authorization %q", auth)
	}

	// ALERTS shows the firing alert, as in Prometheus.
	vs, err := e.store.QueryInstant(ctx, `ALERTS{alertname="TestMetricHigh", alertstate="firing"}`, time.Now())
	if err != nil || len(vs) != 1 || vs[0].Labels.Get("instance") != "a" {
		t.Errorf("ALERTS: %v %v", vs, err)
	}

	e.set(1, series...)
	testkit.Eventually(t, 5*time.Second, func() error {
		if ms := rc.messages(); len(ms) < 2 {
			return fmt.Errorf("%d webhook messages", len(ms))
		}
		return nil
	})
	msg = rc.messages()[1]
	checkMessage(t, msg, "resolved", want, fp)
	if r := msg.Alerts[0]; !r.EndsAt.After(r.StartsAt) || !r.StartsAt.Equal(a.StartsAt) {
		t.Errorf("resolved alert starts %v ends %v; fired at %v", r.StartsAt, r.EndsAt, a.StartsAt)
	}
	if act := eng.Active(); len(act) != 0 {
		t.Errorf("active after resolving: %+v", act)
	}

	// The history and the event log have it, from firing to resolved.
	testkit.Eventually(t, 5*time.Second, func() error {
		hs, err := eng.History(ctx, HistoryFilter{})
		if err != nil {
			return err
		}
		if len(hs) != 1 || hs[0].State != "resolved" || hs[0].Fingerprint != fp || hs[0].Name != "TestMetricHigh" ||
			!hs[0].StartedAt.Equal(a.StartsAt.UTC()) || hs[0].ResolvedAt.IsZero() || hs[0].Labels["instance"] != "a" ||
			hs[0].Annotations["summary"] != "test_metric is 10 on a" {
			return fmt.Errorf("history: %+v", hs)
		}
		return nil
	})
	evs, err := e.events.List(ctx, events.Filter{Part: "alerts"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("events: %+v", evs)
	}
	ev := evs[0]
	if ev.Kind != "alert" || ev.Severity != events.Critical || ev.Text != "TestMetricHigh: test_metric is 10 on a" ||
		!ev.Lasting || ev.End.IsZero() || ev.Labels["alertname"] != "TestMetricHigh" || ev.Labels["job"] != "web" {
		t.Errorf("event: %+v", ev)
	}

	// Resolved once.
	if n := len(rc.messages()); n != 2 {
		t.Errorf("%d webhook messages, want 2", n)
	}
}

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

func checkMessage(t *testing.T, msg amMessage, status string, labels map[string]string, fp string) {
	t.Helper()
	if msg.Version != "4" || msg.Status != status || msg.Receiver != "webhook" ||
		msg.GroupKey != `{}:{alertname="TestMetricHigh"}` || msg.TruncatedAlerts != 0 ||
		msg.ExternalURL != "https://dandan.example.com" {
		t.Errorf("message: %+v", msg)
	}
	if fmt.Sprint(msg.GroupLabels) != fmt.Sprint(map[string]string{"alertname": "TestMetricHigh"}) ||
		fmt.Sprint(msg.CommonLabels) != fmt.Sprint(labels) || msg.CommonAnnotations["summary"] == "" {
		t.Errorf("group labels %v, common labels %v, common annotations %v", msg.GroupLabels, msg.CommonLabels, msg.CommonAnnotations)
	}
	if len(msg.Alerts) != 1 {
		t.Fatalf("alerts: %+v", msg.Alerts)
	}
	a := msg.Alerts[0]
	if a.Status != status || fmt.Sprint(a.Labels) != fmt.Sprint(labels) || a.Fingerprint != fp ||
		!fingerprintRE.MatchString(a.Fingerprint) || a.StartsAt.IsZero() {
		t.Errorf("alert: %+v", a)
	}
}

// TestReloadResolvesRemovedRules: after a reload, the firing alerts of a
// rule that is gone resolve at once, while those of a rule kept in a
// changed group carry on firing, with their state.
func TestReloadResolvesRemovedRules(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	e.set(10, "__name__", "reload_metric")
	const two = `groups:
  - name: r
    rules:
      - alert: Gone
        expr: reload_metric > 5
      - alert: Kept
        expr: reload_metric > 5
`
	path := e.write("r.yml", two)
	eng := e.engine(Config{RuleFiles: []string{path}, Webhooks: []WebhookConfig{{URL: rc.URL}}})
	ctx := context.Background()
	firing := func() map[string]Alert {
		out := map[string]Alert{}
		for _, a := range eng.Active() {
			if a.State == "firing" {
				out[a.Name] = a
			}
		}
		return out
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		if f := firing(); len(f) != 2 || len(rc.messages()) != 2 {
			return fmt.Errorf("firing %v, %d messages", f, len(rc.messages()))
		}
		return nil
	})
	kept := firing()["Kept"]

	// The group changes: Gone goes, a recording rule comes.
	changed := strings.Replace(two, "      - alert: Gone\n        expr: reload_metric > 5\n", "      - record: reload:x\n        expr: vector(1)\n", 1)
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := eng.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		hs, err := eng.History(ctx, HistoryFilter{Name: "Gone"})
		if err != nil || len(hs) != 1 || hs[0].State != "resolved" {
			return fmt.Errorf("history of Gone: %+v %v", hs, err)
		}
		ms := rc.messages()
		if len(ms) != 3 || ms[2].Status != "resolved" || ms[2].GroupLabels["alertname"] != "Gone" {
			return fmt.Errorf("messages: %+v", ms)
		}
		return nil
	})
	// Kept fires on, from when it first did, and no one hears of it again.
	time.Sleep(500 * time.Millisecond)
	f := firing()
	if a, ok := f["Kept"]; len(f) != 1 || !ok || !a.ActiveAt.Equal(kept.ActiveAt) || !a.FiredAt.Equal(kept.FiredAt) {
		t.Errorf("firing after reload: %+v; before: %+v", f, kept)
	}
	if n := len(rc.messages()); n != 3 {
		t.Errorf("%d messages, want 3", n)
	}
	if hs, err := eng.History(ctx, HistoryFilter{Name: "Kept"}); err != nil || len(hs) != 1 || hs[0].State != "firing" {
		t.Errorf("history of Kept: %+v %v", hs, err)
	}
}
