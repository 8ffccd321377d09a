package alerting

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"

	"github.com/dandan-sre/dandan/internal/sqlstore"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestHistory writes, continues, resolves and lists alerts on SQLite and,
// unless -short, PostgreSQL.
func TestHistory(t *testing.T) {
	ctx := context.Background()
	dbs := map[string]sqlstore.Store{}
	db, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dbs["sqlite"] = db
	if !testing.Short() {
		pg := testkit.StartPostgres(t)
		pdb, err := sqlstore.Open(ctx, pg.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pdb.Close() })
		dbs["postgres"] = pdb
	}
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for name, db := range dbs {
		t.Run(name, func(t *testing.T) {
			if err := db.Migrate(ctx, "alerts", migrations()); err != nil {
				t.Fatal(err)
			}
			h := history{db: db}
			a, b := testNotice("a"), testNotice("b")
			a.startsAt, a.activeAt, a.sentAt, a.value = base, base.Add(-time.Minute), base, 7
			b.startsAt, b.activeAt, b.sentAt, b.value = base.Add(2*time.Hour), base.Add(2*time.Hour), base.Add(2*time.Hour), math.NaN()
			ida, err := h.insert(ctx, &a, 42)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.insert(ctx, &b, 0); err != nil {
				t.Fatal(err)
			}
			a.value, a.sentAt, a.annotations = 8, base.Add(time.Minute), map[string]string{"summary": "worse"}
			if err := h.touch(ctx, ida, &a); err != nil {
				t.Fatal(err)
			}
			open, err := h.loadOpen(ctx)
			if err != nil || len(open) != 2 || open[a.fingerprint].eventID != 42 || open[a.fingerprint].notice.value != 8 ||
				!open[b.fingerprint].notice.startsAt.Equal(b.startsAt) || !math.IsNaN(open[b.fingerprint].notice.value) {
				t.Fatalf("open: %+v %v", open, err)
			}
			if err := h.resolve(ctx, ida, base.Add(30*time.Minute)); err != nil {
				t.Fatal(err)
			}
			// A window after a resolved: only b.
			got, err := h.list(ctx, HistoryFilter{From: base.Add(time.Hour), To: base.Add(3 * time.Hour)})
			if err != nil || len(got) != 1 || got[0].Labels["instance"] != "b" || got[0].State != "firing" || !got[0].ResolvedAt.IsZero() {
				t.Fatalf("window: %+v %v", got, err)
			}
			got, err = h.list(ctx, HistoryFilter{Name: "Down"})
			if err != nil || len(got) != 2 {
				t.Fatalf("all: %+v %v", got, err)
			}
			ga := got[1]
			if ga.State != "resolved" || !ga.ResolvedAt.Equal(base.Add(30*time.Minute)) || ga.Value != 8 || ga.Annotations["summary"] != "worse" ||
				!ga.StartedAt.Equal(base) || !ga.ActiveAt.Equal(base.Add(-time.Minute)) {
				t.Errorf("a: %+v", ga)
			}
		})
	}
}

// FuzzParseRules: no rule file text makes the parser panic, and what it
// accepts Prometheus's rule manager loads.
func FuzzParseRules(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.rules.yml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseRules("fuzz.yml", b, model.UTF8Validation, nil); err != nil {
			return
		}
		file := filepath.Join(t.TempDir(), "fuzz.yml")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		mgr := rules.NewManager(&rules.ManagerOptions{})
		if _, errs := mgr.LoadGroups(time.Minute, labels.EmptyLabels(), "", nil, false, file); len(errs) > 0 {
			t.Errorf("the rule manager refuses what parseRules accepts: %v\n%s", errs, b)
		}
	})
}
