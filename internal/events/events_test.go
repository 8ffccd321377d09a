package events

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/sqlstore"
	"github.com/dandan-sre/dandan/internal/testkit"
)

func stores(t *testing.T) map[string]*Store {
	out := map[string]*Store{}
	db, err := sqlstore.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	out["sqlite"] = New(db, nil)
	if !testing.Short() {
		pg := testkit.StartPostgres(t)
		pdb, err := sqlstore.Open(context.Background(), pg.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pdb.Close() })
		out["postgres"] = New(pdb, nil)
	}
	for _, s := range out {
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := func(e Event) int64 {
				id, err := s.Record(ctx, e)
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
			rec(Event{Time: base, Part: "dandan", Kind: "start", Text: "dandan started"})
			alert := rec(Event{Time: base.Add(time.Minute), Part: "alerts", Kind: "alert", Severity: Critical, Text: "HighErrorRate", Lasting: true,
				Labels: map[string]string{"job": "web", "alertname": "HighErrorRate"}})
			rec(Event{Time: base.Add(2 * time.Hour), Part: "watch", Kind: "remote_write_down", Severity: Warning, Text: "central down",
				Labels: map[string]string{"output": "central"}})
			// The alert lasts into a later window until it ends.
			got, err := s.List(ctx, Filter{From: base.Add(time.Hour), To: base.Add(3 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].ID != alert || !got[0].Lasting || !got[0].End.IsZero() {
				t.Fatalf("window: %+v", got)
			}
			if err := s.End(ctx, alert, base.Add(30*time.Minute)); err != nil {
				t.Fatal(err)
			}
			got, _ = s.List(ctx, Filter{From: base.Add(time.Hour), To: base.Add(3 * time.Hour)})
			if len(got) != 1 || got[0].Kind != "remote_write_down" || got[0].Lasting {
				t.Fatalf("after end: %+v", got)
			}
			got, _ = s.List(ctx, Filter{Labels: map[string]string{"job": "web"}})
			if len(got) != 1 || got[0].End != base.Add(30*time.Minute) || got[0].Severity != Critical {
				t.Fatalf("by label: %+v", got)
			}
			got, _ = s.List(ctx, Filter{Part: "dandan", Kind: "start"})
			if len(got) != 1 || got[0].Text != "dandan started" || got[0].Severity != Info {
				t.Fatalf("by part: %+v", got)
			}
			if _, err := s.Record(ctx, Event{Part: "Bad Part", Kind: "", Text: ""}); err == nil {
				t.Fatal("bad event recorded")
			}
			// A label filter finds an old match behind many newer events
			// of other labels, and a limit keeps the newest matches.
			for i := range 50 {
				rec(Event{Time: base.Add(4*time.Hour + time.Duration(i)*time.Second), Part: "watch", Kind: "noise", Text: "other job",
					Labels: map[string]string{"job": "other"}})
			}
			got, _ = s.List(ctx, Filter{Labels: map[string]string{"job": "web"}, Limit: 2})
			if len(got) != 1 || got[0].ID != alert {
				t.Fatalf("by label behind newer events: %+v", got)
			}
			got, _ = s.List(ctx, Filter{Labels: map[string]string{"job": "other"}, Limit: 3})
			if len(got) != 3 || got[2].Time != base.Add(4*time.Hour+49*time.Second) {
				t.Fatalf("limit with a label: %+v", got)
			}
		})
	}
}

func TestAPI(t *testing.T) {
	s := stores(t)["sqlite"]
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 3 {
		if _, err := s.Record(ctx, Event{Time: now.Add(time.Duration(i) * time.Minute), Part: "watch", Kind: "test", Text: "e", Labels: map[string]string{"n": string(rune('a' + i))}}); err != nil {
			t.Fatal(err)
		}
	}
	mux := httpapi.NewMux(httpapi.Options{})
	s.Mount(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(httpapi.WithIdentity(r.Context(), &httpapi.Identity{Name: "t", Role: httpapi.Viewer})))
	}))
	defer srv.Close()
	get := func(q string) (int, []Event) {
		resp, err := http.Get(srv.URL + "/api/events" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Events []Event }
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Events
	}
	if code, evs := get("?part=watch&label=n:b"); code != 200 || len(evs) != 1 {
		t.Fatalf("%d %+v", code, evs)
	}
	if code, evs := get("?from=" + now.Add(90*time.Second).Format(time.RFC3339)); code != 200 || len(evs) != 1 {
		t.Fatalf("%d %+v", code, evs)
	}
	for _, bad := range []string{"?from=yesterday", "?limit=0", "?label=x"} {
		if code, _ := get(bad); code != 400 {
			t.Errorf("%s: %d", bad, code)
		}
	}
}
