package redis

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/sqlstore"
	"github.com/dandan-sre/dandan/internal/ui"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-redis's cluster state reload runs detached and ends by itself.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9.(*clusterStateHolder).LazyReload.func1"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// harness is the part mounted on a real Mux and UI, served by httptest,
// with the caller's role taken from the X-Test-Role header (viewer when
// absent).
type harness struct {
	t   *testing.T
	p   *Redis
	srv *httptest.Server
	db  *sqlstore.DB
}

func newHarness(t *testing.T, cfg *Config) *harness {
	t.Helper()
	return newHarnessAs(t, cfg, httpapi.Viewer)
}

// newHarnessAs is newHarness with another role for requests that do not
// say theirs.
func newHarnessAs(t *testing.T, cfg *Config, defaultRole httpapi.Role) *harness {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlstore.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	assets, err := ui.NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	u, err := ui.New(assets, ui.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(component.Deps{Logger: slog.New(slog.DiscardHandler), DataDir: filepath.Join(dir, "redis"), SQL: db, UI: u}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := httpapi.NewMux(httpapi.Options{Pages: u})
	mux.Handle("GET /static/", httpapi.Public, assets)
	p.Mount(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role := defaultRole
		if s := r.Header.Get("X-Test-Role"); s != "" {
			role, _ = httpapi.ParseRole(s)
		}
		mux.ServeHTTP(w, r.WithContext(httpapi.WithIdentity(r.Context(), &httpapi.Identity{Name: "tester", Role: role})))
	}))
	t.Cleanup(func() {
		srv.Close()
		if err := p.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &harness{t: t, p: p, srv: srv, db: db}
}

// standalone returns a config with one connection "local" to addr.
func standalone(addr string, readOnly bool) *Config {
	cfg := DefaultConfig()
	cfg.Connections = map[string]*ConnConfig{"local": {Addr: addr, ReadOnly: &readOnly}}
	return cfg
}

// do sends a request and returns status and body.
func (h *harness) do(method, path string, form url.Values, role string) (int, []byte) {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if role != "" {
		req.Header.Set("X-Test-Role", role)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// getJSON GETs path as a viewer and decodes a 200 reply into v.
func (h *harness) getJSON(path string, v any) {
	h.t.Helper()
	status, b := h.do("GET", path, nil, "")
	if status != http.StatusOK {
		h.t.Fatalf("GET %s: %d %s", path, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		h.t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// searchAll follows a search's cursors to the end and returns every key.
func (h *harness) searchAll(conn, query string) []KeyInfo {
	h.t.Helper()
	var all []KeyInfo
	cursor := ""
	for range 100000 {
		q, _ := url.ParseQuery(query)
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page SearchPage
		h.getJSON("/api/redis/"+conn+"/keys?"+q.Encode(), &page)
		all = append(all, page.Keys...)
		if page.Done {
			return all
		}
		cursor = page.Cursor
	}
	h.t.Fatal("search did not end")
	return nil
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts redis-server")
	}
}
