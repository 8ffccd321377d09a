package alerting

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestConfigure gives a running engine a new config: its rule files and
// interval take effect, the alerts of the rules that went resolve to the
// receivers that heard of them, a new webhook replaces the old one, an
// unchanged one goes on, external_url waits for a restart, and a rule
// file that does not load changes nothing.
func TestConfigure(t *testing.T) {
	e := newEnv(t)
	one, two := newReceiver(t), newReceiver(t)
	e.set(10, "__name__", "cfg_metric")
	rule := func(alert string) string {
		return "groups:\n  - name: cfg\n    rules:\n      - alert: " + alert + "\n        expr: cfg_metric > 5\n"
	}
	oldRules, newRules := e.write("old.yml", rule("Old")), e.write("new.yml", rule("New"))
	eng := e.engine(Config{RuleFiles: []string{oldRules}, Webhooks: []WebhookConfig{{Name: "one", URL: one.URL}}})
	ctx := context.Background()
	testkit.Eventually(t, 5*time.Second, func() error {
		if ms := one.messages(); len(ms) != 1 || ms[0].Status != "firing" {
			return fmt.Errorf("messages to one: %+v", ms)
		}
		return nil
	})

	next := Config{
		RuleFiles:   []string{newRules},
		Interval:    config.Duration(300 * time.Millisecond),
		Webhooks:    []WebhookConfig{{Name: "two", URL: two.URL}},
		ExternalURL: "https://dandan.example.com/",
	}
	restart, err := eng.Configure(ctx, next)
	if err != nil || !slices.Equal(restart, []string{"external_url"}) {
		t.Fatalf("Configure: restart %v, err %v; want [external_url], nil", restart, err)
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		ms := one.messages()
		if len(ms) != 2 || ms[1].Status != "resolved" || ms[1].GroupLabels["alertname"] != "Old" {
			return fmt.Errorf("messages to one: %+v", ms)
		}
		ms = two.messages()
		if len(ms) != 1 || ms[0].Status != "firing" || ms[0].GroupLabels["alertname"] != "New" {
			return fmt.Errorf("messages to two: %+v", ms)
		}
		if ms[0].ExternalURL != "" {
			return fmt.Errorf("external URL %q changed while running", ms[0].ExternalURL)
		}
		return nil
	})
	gs := eng.Rules()
	if len(gs) != 1 || gs[0].Interval != 0.3 || len(gs[0].Rules) != 1 || gs[0].Rules[0].Name != "New" {
		t.Fatalf("rules after Configure: %+v", gs)
	}

	// An unchanged receiver goes on as it was.
	recv := senders(eng.recv)
	next.Interval = config.Duration(400 * time.Millisecond)
	if _, err := eng.Configure(ctx, next); err != nil {
		t.Fatal(err)
	}
	if got := senders(eng.recv); !slices.Equal(got, recv) {
		t.Errorf("receivers replaced by a config that keeps them")
	}

	// A rule file that does not load changes nothing.
	if err := os.WriteFile(newRules, []byte("groups:\n  - name: cfg\n    rules:\n      - alert: Broken\n        expr: cfg_metric >\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = eng.Configure(ctx, Config{RuleFiles: []string{newRules}, Webhooks: []WebhookConfig{{Name: "one", URL: one.URL}}})
	if err == nil {
		t.Fatal("Configure with a broken rule file: no error")
	}
	if gs := eng.Rules(); len(gs) != 1 || gs[0].Interval != 0.4 || gs[0].Rules[0].Name != "New" {
		t.Errorf("rules after a broken rule file: %+v", gs)
	}
	if got := senders(eng.recv); !slices.Equal(got, recv) {
		t.Errorf("receivers replaced by a config that did not load")
	}
}
