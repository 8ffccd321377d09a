package metricstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// ruleStore is what both Store and Service give a rule manager.
type ruleStore interface {
	RuleOptions() (storage.Queryable, storage.AppendableV2, rules.QueryFunc)
}

var (
	_ ruleStore = (*Store)(nil)
	_ ruleStore = (*Service)(nil)
)

// checkRuleOptions writes a sample through app, and reads it back through
// q and query.
func checkRuleOptions(t *testing.T, rs ruleStore, now time.Time) {
	t.Helper()
	ctx := context.Background()
	q, app, query := rs.RuleOptions()
	a := app.AppenderV2(ctx)
	ls := labels.FromStrings("__name__", "rule_out", "job", "a")
	if _, err := a.Append(0, ls, 0, now.UnixMilli(), 3, nil, nil, storage.AOptions{RejectOutOfOrder: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}

	vec, err := query(ctx, `rule_out * 2`, now)
	if err != nil || len(vec) != 1 || vec[0].F != 6 || vec[0].Metric.Get("job") != "a" {
		t.Errorf("vector query: %v %v", vec, err)
	}
	vec, err = query(ctx, `scalar(rule_out)`, now)
	if err != nil || len(vec) != 1 || vec[0].F != 3 || !vec[0].Metric.IsEmpty() {
		t.Errorf("scalar query: %v %v", vec, err)
	}

	qr, err := q.Querier(now.Add(-time.Minute).UnixMilli(), now.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	set := qr.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "rule_out"))
	n := 0
	for set.Next() {
		if !labels.Equal(set.At().Labels(), ls) {
			t.Errorf("series %v", set.At().Labels())
		}
		n++
	}
	if err := set.Err(); err != nil || n != 1 {
		t.Errorf("%d series, %v", n, err)
	}
}

// checkClosed checks that the three fail with ErrClosed.
func checkClosed(t *testing.T, q storage.Queryable, app storage.AppendableV2, query rules.QueryFunc) {
	t.Helper()
	ctx := context.Background()
	if _, err := q.Querier(0, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("querier: %v", err)
	}
	a := app.AppenderV2(ctx)
	if _, err := a.Append(0, labels.FromStrings("__name__", "x"), 0, 1, 1, nil, nil, storage.AOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("append: %v", err)
	}
	if err := a.Commit(); !errors.Is(err, ErrClosed) {
		t.Errorf("commit: %v", err)
	}
	if _, err := query(ctx, "vector(1)", time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("query: %v", err)
	}
}

func TestStoreRuleOptions(t *testing.T) {
	st, err := Open(context.Background(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkRuleOptions(t, st, time.Now())
	q, app, query := st.RuleOptions()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	checkClosed(t, q, app, query)
}

// TestServiceRuleOptions: the options may be taken before Start and work
// from Start on.
func TestServiceRuleOptions(t *testing.T) {
	svc := NewService(t.TempDir(), Options{})
	q, app, query := svc.RuleOptions()
	checkClosed(t, q, app, query)
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkRuleOptions(t, svc, time.Now())
	if err := svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkClosed(t, q, app, query)
}

// TestRuleManager: Prometheus's rule manager evaluates a recording rule
// against the store and writes its series.
func TestRuleManager(t *testing.T) {
	st := openT(t, Options{})
	ctx := context.Background()
	now := time.Now()
	app := st.Appender(ctx)
	for i, job := range []string{"a", "b"} {
		if _, err := app.Append(0, FromStrings("__name__", "in", "job", job), now.UnixMilli(), float64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "r.yml")
	if err := os.WriteFile(file, []byte("groups:\n  - name: g\n    rules:\n      - record: in:sum\n        expr: sum(in)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &rules.ManagerOptions{Context: ctx}
	o.Queryable, o.AppendableV2, o.QueryFunc = st.RuleOptions()
	groups, errs := rules.NewManager(o).LoadGroups(time.Minute, labels.EmptyLabels(), "", nil, false, file)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	g := groups[rules.GroupKey(file, "g")]
	g.Eval(ctx, now)
	if err := g.Rules()[0].LastError(); err != nil {
		t.Fatal(err)
	}
	vs, err := st.QueryInstant(ctx, "in:sum", now)
	if err != nil || len(vs) != 1 || vs[0].V != 3 {
		t.Errorf("in:sum: %v %v", vs, err)
	}
}
