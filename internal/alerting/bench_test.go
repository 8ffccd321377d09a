package alerting

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/rules"
	"go.yaml.in/yaml/v3"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// BenchmarkEval100Rules evaluates a group of 100 alerting rules, half of
// them firing, each a rate over 5 minutes of one of 100 counters with an
// hour of 15-second samples, writing ALERTS and ALERTS_FOR_STATE.
func BenchmarkEval100Rules(b *testing.B) {
	ctx := context.Background()
	st, err := metricstore.Open(ctx, b.TempDir(), metricstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	app := st.Appender(ctx)
	for i := range 100 {
		ls := metricstore.FromStrings("__name__", "bench_requests_total", "job", "bench", "i", strconv.Itoa(i))
		var ref metricstore.SeriesRef
		for s := range 240 {
			t := now.Add(-time.Hour + time.Duration(s)*15*time.Second)
			// Even series grow by 1/s, odd ones by 0.1/s.
			v := float64(s*15) * (1 - 0.9*float64(i%2))
			if ref, err = app.Append(ref, ls, t.UnixMilli(), v); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	rg := rulefmt.RuleGroup{Name: "bench"}
	for i := range 100 {
		rg.Rules = append(rg.Rules, rulefmt.Rule{
			Alert:       fmt.Sprintf("Bench%d", i),
			Expr:        fmt.Sprintf(`rate(bench_requests_total{i="%d"}[5m]) > 0.5`, i),
			Labels:      map[string]string{"severity": "warning"},
			Annotations: map[string]string{"summary": "{{ $labels.i }} at {{ $value }}/s"},
		})
	}
	text, err := yaml.Marshal(rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{rg}})
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "bench.yml")
	if err := os.WriteFile(file, text, 0o644); err != nil {
		b.Fatal(err)
	}
	// The group as the engine's rule manager runs it, its `for` state
	// restored so that it writes ALERTS and ALERTS_FOR_STATE.
	eng, err := New(Options{Metrics: st})
	if err != nil {
		b.Fatal(err)
	}
	firing := 0
	opts := eng.managerOptions(ctx)
	opts.NotifyFunc = func(_ context.Context, _ string, as ...*rules.Alert) { firing += len(as) }
	groups, errs := rules.NewManager(opts).LoadGroups(time.Minute, labels.EmptyLabels(), "", nil, false, file)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	g := groups[rules.GroupKey(file, "bench")]
	for _, r := range g.AlertingRules() {
		r.SetRestored(true)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		g.Eval(ctx, now.Add(time.Duration(i)*time.Millisecond))
	}
	b.StopTimer()
	rs := g.Rules()
	for _, r := range rs {
		if err := r.LastError(); err != nil {
			b.Fatalf("%s: %v", r.Name(), err)
		}
	}
	if n := len(rs[0].(*rules.AlertingRule).ActiveAlerts()) + len(rs[1].(*rules.AlertingRule).ActiveAlerts()); n != 1 {
		b.Fatalf("%d alerts of the first two rules, want 1", n)
	}
}
