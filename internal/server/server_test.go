package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/sqlstore"
)

const (
	tvToken       = "tv-token-0123456789abcd"
	viewerToken   = "viewer-token-0123456789"
	operatorToken = "operator-token-0123456789"
	adminToken    = "admin-token-0123456789ab"
)

type fakeStatus struct{ err error }

func (f fakeStatus) Statuses() []component.Status {
	st := component.Status{Name: "store", State: component.StateRunning, Ready: f.err == nil}
	if f.err != nil {
		st.Error = f.err.Error()
	}
	return []component.Status{st}
}
func (f fakeStatus) Ready() error { return f.err }

// testRoutes stands in for a part: one route of each role and kind.
func testRoutes(m *httpapi.Mux) {
	ok := func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.JSON(w, http.StatusOK, map[string]string{"ok": "yes"})
	}
	m.API("GET /api/demo/items", httpapi.Viewer, ok)
	m.API("GET /api/demo/items/{id}", httpapi.Viewer, func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("id") == "missing" {
			return httpapi.ErrNotFound
		}
		return ok(w, r)
	})
	m.API("POST /api/demo/items", httpapi.Operator, ok)
	m.API("DELETE /api/demo/items/{id}", httpapi.Operator, ok)
	m.API("PUT /api/demo/settings", httpapi.Admin, ok)
	m.Page("GET /demo", httpapi.Viewer, "Demo", func(w http.ResponseWriter, r *http.Request) error {
		_, err := io.WriteString(w, "demo page")
		return err
	})
}

func newTestServer(t testing.TB, yaml string) (*Server, *httptest.Server) {
	t.Helper()
	return newTestServerWith(t, yaml, fakeStatus{})
}

func newTestServerWith(t testing.TB, yaml string, status StatusSource) (*Server, *httptest.Server) {
	t.Helper()
	base := "auth:\n  tokens:\n" +
		"    - {name: tv, role: tv, token: " + tvToken + "}\n" +
		"    - {name: wall, role: viewer, token: " + viewerToken + "}\n" +
		"    - {name: oncall, role: operator, token: " + operatorToken + "}\n" +
		"    - {name: root, role: admin, token: " + adminToken + "}\n"
	cfg, err := config.Load("test.yaml", []byte(base+yaml), config.Options{
		Parts: []config.PartSchema{{Name: "relay", NewConfig: func() config.Validator { return &noConfig{} }}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	db, err := sqlstore.Open(context.Background(), "", cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		SQL: db, Status: status, Version: "test",
		Parts: []PartInfo{{Name: "relay", Summary: "Copies live traffic to a shadow deployment", Example: "relay:\n  shadow: {url: http://x}\n"}}})
	if err != nil {
		t.Fatal(err)
	}
	testRoutes(s.Mux())
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Open()
	ts := httptest.NewServer(s.handler())
	t.Cleanup(ts.Close)
	return s, ts
}

type noConfig struct{}

func (*noConfig) Validate() error { return nil }

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// concrete turns a route pattern into a request path.
func concrete(rt httpapi.Route) (method, path string) {
	method = rt.Method()
	if method == "" {
		method = http.MethodGet
	}
	path = strings.ReplaceAll(rt.Path(), "{$}", "")
	path = wildcard.ReplaceAllString(path, "x")
	if path == "/debug/pprof/profile" || path == "/debug/pprof/trace" {
		path += "?seconds=1" // the default is 30 s
	}
	return method, path
}

func do(t *testing.T, ts *httptest.Server, method, path, token string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func errorBody(t *testing.T, resp *http.Response) httpapi.ErrorBody {
	t.Helper()
	var b httpapi.ErrorBody
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: content type %q, want JSON", resp.Request.URL.Path, ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || b.Error == "" || b.Code == "" {
		t.Fatalf("%s: error body %+v (%v) lacks error or code", resp.Request.URL.Path, b, err)
	}
	return b
}

// TestEveryRoute walks every registered route with no token, a wrong
// token and a token of each role.
func TestEveryRoute(t *testing.T) {
	s, ts := newTestServer(t, "")
	roleToken := map[httpapi.Role]string{httpapi.TV: tvToken, httpapi.Viewer: viewerToken, httpapi.Operator: operatorToken, httpapi.Admin: adminToken}
	routes := s.Mux().Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	for _, rt := range routes {
		method, path := concrete(rt)
		t.Run(rt.Pattern, func(t *testing.T) {
			// A wrong token is refused everywhere, public routes included.
			resp := do(t, ts, method, path, "wrong-token-0123456789")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("wrong token: status %d, want 401", resp.StatusCode)
			} else if b := errorBody(t, resp); b.Code != "unauthorized" {
				t.Errorf("wrong token: code %q", b.Code)
			}
			if rt.Role == httpapi.Public {
				return
			}
			// No token: API routes answer 401 with the error shape; pages
			// send browsers to the login page.
			resp = do(t, ts, method, path, "")
			switch {
			case rt.Kind == httpapi.KindPage && method == http.MethodGet:
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
					t.Errorf("no token: page answered %d %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
				}
			case rt.Kind == httpapi.KindPage:
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("no token: page answered %d, want 401", resp.StatusCode)
				}
			default:
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("no token: status %d, want 401", resp.StatusCode)
				} else if b := errorBody(t, resp); b.Code != "unauthorized" {
					t.Errorf("no token: code %q", b.Code)
				}
			}
			// Each role below the route's gets 403; the route's own role passes.
			for role := httpapi.TV; role <= httpapi.Admin; role++ {
				resp := do(t, ts, method, path, roleToken[role])
				if role < rt.Role {
					if resp.StatusCode != http.StatusForbidden {
						t.Errorf("%s token: status %d, want 403", role, resp.StatusCode)
					} else if rt.Kind == httpapi.KindAPI {
						if b := errorBody(t, resp); b.Code != "forbidden" {
							t.Errorf("%s token: code %q", role, b.Code)
						}
					}
				} else if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
					t.Errorf("%s token: refused with %d", role, resp.StatusCode)
				}
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	_, ts := newTestServer(t, "")
	cases := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown route", "GET", "/api/nope", 404, "not_found"},
		{"wrong method", "PATCH", "/api/demo/items", 405, "method_not_allowed"},
		{"not found from handler", "GET", "/api/demo/items/missing", 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, ts, tc.method, tc.path, adminToken)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if b := errorBody(t, resp); b.Code != tc.code || b.RequestID == "" {
				t.Errorf("body %+v, want code %s and a request id", b, tc.code)
			}
		})
	}
	t.Run("body too large", func(t *testing.T) {
		req, _ := http.NewRequest("POST", ts.URL+"/api/demo/items", strings.NewReader(strings.Repeat("x", 11<<20)))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})
}

// login logs in through the form and returns a client holding the session.
func login(t testing.TB, ts *httptest.Server, token string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(ts.URL+"/login", url.Values{"token": {token}, "next": {"/status"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/status" {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return c
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

func TestSessionCSRF(t *testing.T) {
	s, ts := newTestServer(t, "")
	c := login(t, ts, operatorToken)
	resp, err := c.Get(ts.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfMeta.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf meta in the status page")
	}
	csrf := string(m[1])

	// Every state-changing route, sent with the session but without the
	// CSRF token, is refused.
	for _, rt := range s.Mux().Routes() {
		method, path := concrete(rt)
		if safeMethodName(method) || rt.Role == httpapi.Public || rt.Role > httpapi.Operator {
			continue
		}
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s without CSRF token: %d, want 403", rt.Pattern, resp.StatusCode)
		}
		req, _ = http.NewRequest(method, ts.URL+path, nil)
		req.Header.Set(httpapi.CSRFHeader, "wrong")
		resp, _ = c.Do(req)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s with a wrong CSRF token: %d, want 403", rt.Pattern, resp.StatusCode)
		}
	}
	// With the token the same request passes.
	req, _ := http.NewRequest("POST", ts.URL+"/api/demo/items", nil)
	req.Header.Set(httpapi.CSRFHeader, csrf)
	resp, _ = c.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with CSRF token: %d", resp.StatusCode)
	}
	// A cross-site request is refused even with the token.
	req, _ = http.NewRequest("POST", ts.URL+"/api/demo/items", nil)
	req.Header.Set(httpapi.CSRFHeader, csrf)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, _ = c.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site: %d, want 403", resp.StatusCode)
	}
	// Logout (a form post carrying the token) ends the session.
	resp, _ = c.PostForm(ts.URL+"/logout", url.Values{"csrf_token": {csrf}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, _ = c.Get(ts.URL + "/status")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout /status answered %d, want a redirect to login", resp.StatusCode)
	}
}

func safeMethodName(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

func TestLoginLinkAndLoopback(t *testing.T) {
	s, ts := newTestServer(t, "")
	ticket := s.Auth().NewTicket(60e9)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(ts.URL + "/login?ticket=" + ticket)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("login link: %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	// The link works once.
	resp, _ = http.Get(ts.URL + "/login?ticket=" + ticket)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second use: %d, want 401", resp.StatusCode)
	}

	_, ts2 := newTestServer(t, "  loopback_role: viewer\n")
	resp = do(t, ts2, "GET", "/api/status", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("loopback viewer: %d", resp.StatusCode)
	}
	resp = do(t, ts2, "PUT", "/api/demo/settings", "")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("loopback viewer on admin route: %d", resp.StatusCode)
	}
}

func TestLoginRateLimit(t *testing.T) {
	_, ts := newTestServer(t, "")
	var last int
	for range 12 {
		resp, err := http.PostForm(ts.URL+"/login", url.Values{"token": {"nope"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("after 12 failures: %d, want 429", last)
	}
}

func TestReadyz(t *testing.T) {
	_, ts := newTestServer(t, "")
	resp := do(t, ts, "GET", "/readyz", "")
	if resp.StatusCode != 200 {
		t.Fatalf("readyz %d", resp.StatusCode)
	}
	resp = do(t, ts, "GET", "/metrics", viewerToken, "Accept", "application/openmetrics-text; version=1.0.0")
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "dandan_http_requests_total") || !strings.HasSuffix(strings.TrimSpace(string(body)), "# EOF") {
		t.Fatalf("metrics lack the route counter or OpenMetrics EOF:\n%.500s", body)
	}
}

// TestStartingGate: until Open, only health and static files are served.
func TestStartingGate(t *testing.T) {
	s, ts := newTestServer(t, "")
	s.open.Store(false)
	if resp := do(t, ts, "GET", "/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz while starting: %d", resp.StatusCode)
	}
	resp := do(t, ts, "GET", "/api/status", adminToken)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("/api/status while starting: %d", resp.StatusCode)
	}
	if b := errorBody(t, resp); b.Code != "unavailable" {
		t.Fatalf("code %q", b.Code)
	}
}
