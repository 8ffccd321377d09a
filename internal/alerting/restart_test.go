package alerting

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/testkit"
)

const restartRules = `groups:
  - name: restart
    rules:
      - alert: Fast
        expr: restart_metric > 5
        for: 1s
      - alert: Slow
        expr: restart_metric > 5
        for: 1h
`

// TestRestart: an alert firing when dandan stops continues its history
// row and event after the restart, without a second webhook message, and
// a pending alert keeps the time it has spent pending (ALERTS_FOR_STATE).
func TestRestart(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	e.set(10, "__name__", "restart_metric")
	cfg := Config{
		RuleFiles: []string{e.write("restart.yml", restartRules)},
		Interval:  config.Duration(200 * time.Millisecond),
		Webhooks:  []WebhookConfig{{URL: rc.URL}},
	}
	first := e.engine(cfg)
	testkit.Eventually(t, 5*time.Second, func() error {
		if len(rc.messages()) != 1 {
			return fmt.Errorf("%d messages", len(rc.messages()))
		}
		return nil
	})
	var slowSince time.Time
	for _, a := range first.Active() {
		if a.Name == "Slow" {
			slowSince = a.ActiveAt
		}
	}
	if slowSince.IsZero() {
		t.Fatalf("Slow not pending: %+v", first.Active())
	}
	stop(t, first)

	restarted := time.Now()
	second := e.engine(cfg)
	// Fast fires again once its state is restored, Slow stays pending
	// since it was before the restart.
	testkit.Eventually(t, 5*time.Second, func() error {
		var fast, slow *Alert
		for _, a := range second.Active() {
			switch a.Name {
			case "Fast":
				fast = &a
			case "Slow":
				slow = &a
			}
		}
		if fast == nil || fast.State != "firing" || slow == nil || !slow.ActiveAt.Before(restarted) {
			return fmt.Errorf("fast %+v, slow %+v (restarted %v)", fast, slow, restarted)
		}
		return nil
	})
	e.set(1, "__name__", "restart_metric")
	testkit.Eventually(t, 5*time.Second, func() error {
		if len(rc.messages()) != 2 {
			return fmt.Errorf("%d messages", len(rc.messages()))
		}
		return nil
	})
	// The resolution is of the alert that fired before the restart.
	if ms := rc.messages(); ms[1].Status != "resolved" || !ms[1].Alerts[0].StartsAt.Equal(ms[0].Alerts[0].StartsAt) {
		t.Errorf("messages: %+v", ms)
	}
	ctx := context.Background()
	testkit.Eventually(t, 5*time.Second, func() error {
		hs, err := second.History(ctx, HistoryFilter{Name: "Fast"})
		if err != nil || len(hs) != 1 || hs[0].State != "resolved" {
			return fmt.Errorf("history %+v %v", hs, err)
		}
		return nil
	})
	evs, err := e.events.List(ctx, events.Filter{Part: "alerts"})
	if err != nil || len(evs) != 1 || evs[0].End.IsZero() {
		t.Errorf("events %+v %v", evs, err)
	}
}

// TestSweep: an alert left firing by a run whose rule is gone by the next
// run resolves once its validUntil passes, and receivers hear of it.
func TestSweep(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	e.set(10, "__name__", "restart_metric")
	ctx := context.Background()
	first := e.engine(Config{RuleFiles: []string{e.write("restart.yml", restartRules)}})
	testkit.Eventually(t, 5*time.Second, func() error {
		if hs, _ := first.History(ctx, HistoryFilter{}); len(hs) != 1 {
			return fmt.Errorf("history %+v", hs)
		}
		return nil
	})
	stop(t, first)
	// Make the row look as if its last resend was long ago.
	if _, err := e.db.ExecContext(ctx, `UPDATE alerts SET valid_until = $1`, time.Now().Add(-time.Minute).UTC()); err != nil {
		t.Fatal(err)
	}
	second, err := New(Options{Config: Config{Interval: config.Duration(200 * time.Millisecond), Webhooks: []WebhookConfig{{URL: rc.URL}}}, Metrics: e.store, SQL: e.db, Events: e.events})
	if err != nil {
		t.Fatal(err)
	}
	second.notifier.sweepEvery = 50 * time.Millisecond
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stop(t, second)
	testkit.Eventually(t, 30*time.Second, func() error {
		hs, err := second.History(ctx, HistoryFilter{})
		if err != nil || len(hs) != 1 || hs[0].State != "resolved" {
			return fmt.Errorf("history %+v %v", hs, err)
		}
		return nil
	})
	if ms := rc.messages(); len(ms) != 1 || ms[0].Status != "resolved" {
		t.Errorf("messages %+v", ms)
	}
}
