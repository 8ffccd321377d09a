package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func serve(m *Mux, method, target string, id *Identity, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if id != nil {
		req = req.WithContext(WithIdentity(req.Context(), id))
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	return rec
}

func TestMuxRoles(t *testing.T) {
	m := NewMux(Options{Registerer: prometheus.NewRegistry(), LoginPath: "/login"})
	ok := func(w http.ResponseWriter, r *http.Request) error { return JSON(w, 200, "ok") }
	m.API("GET /api/x", Viewer, ok)
	m.API("POST /api/x", Operator, ok)
	m.Page("GET /page", Viewer, "Page", ok)
	cases := []struct {
		name, method, target string
		id                   *Identity
		header               []string
		status               int
		code                 string
	}{
		{"anonymous api", "GET", "/api/x", nil, nil, 401, CodeUnauthorized},
		{"viewer reads", "GET", "/api/x", &Identity{Role: Viewer}, nil, 200, ""},
		{"viewer may not act", "POST", "/api/x", &Identity{Role: Viewer}, nil, 403, CodeForbidden},
		{"operator acts", "POST", "/api/x", &Identity{Role: Operator}, nil, 200, ""},
		{"admin acts", "POST", "/api/x", &Identity{Role: Admin}, nil, 200, ""},
		{"session without csrf", "POST", "/api/x", &Identity{Role: Admin, Session: true, CSRF: "t"}, nil, 403, CodeForbidden},
		{"session with csrf", "POST", "/api/x", &Identity{Role: Admin, Session: true, CSRF: "t"}, []string{CSRFHeader, "t"}, 200, ""},
		{"session, empty expected csrf", "POST", "/api/x", &Identity{Role: Admin, Session: true}, []string{CSRFHeader, ""}, 403, CodeForbidden},
		{"unknown api", "GET", "/api/nope", nil, nil, 404, CodeNotFound},
		{"wrong method", "DELETE", "/api/x", nil, nil, 405, CodeMethodNotAllowed},
		{"anonymous page redirects", "GET", "/page", nil, nil, 303, ""},
		{"unknown page", "GET", "/nope", nil, nil, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(m, tc.method, tc.target, tc.id, tc.header...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.code != "" {
				var b ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Code != tc.code || b.Error == "" {
					t.Fatalf("body %s, want code %s", rec.Body, tc.code)
				}
			}
		})
	}
	if rec := serve(m, "DELETE", "/api/x", nil); rec.Header().Get("Allow") != "GET, POST" {
		t.Errorf("Allow = %q", rec.Header().Get("Allow"))
	}
	if rec := serve(m, "GET", "/page", nil); rec.Header().Get("Location") != "/login?next=%2Fpage" {
		t.Errorf("Location = %q", rec.Header().Get("Location"))
	}
}

func TestMuxRegistrationPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		reg  func(m *Mux)
		want string
	}{
		{"conflict", func(m *Mux) {
			m.API("GET /api/a/{id}", Viewer, nil)
			m.API("GET /api/a/{name}", Viewer, nil)
		}, "conflicts with"},
		{"api outside /api/", func(m *Mux) { m.API("GET /x", Viewer, nil) }, "outside /api/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				v := recover()
				if v == nil || !strings.Contains(toString(v), tc.want) {
					t.Fatalf("panic %v, want one containing %q", v, tc.want)
				}
			}()
			tc.reg(NewMux(Options{}))
		})
	}
}

func toString(v any) string {
	if e, ok := v.(error); ok {
		return e.Error()
	}
	s, _ := v.(string)
	return s
}

func TestReply(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
		logged bool
	}{
		{BadParam("id", internalErr{}), 400, CodeBadRequest, false},
		{ErrNotFound, 404, CodeNotFound, false},
		{context.DeadlineExceeded, 503, CodeTimeout, true},
		{Unavailable("redis is down", internalErr{}), 503, CodeUnavailable, true},
		{internalErr{}, 500, CodeInternal, true},
		{&http.MaxBytesError{Limit: 10}, 413, CodeTooLarge, false},
	} {
		status, body, logged := Reply(tc.err)
		if status != tc.status || body.Code != tc.code || (logged != nil) != tc.logged {
			t.Errorf("Reply(%v) = %d %+v %v", tc.err, status, body, logged)
		}
		if status == 500 && body.Error != "internal error" {
			t.Errorf("500 leaks details: %q", body.Error)
		}
	}
}

type internalErr struct{}

func (internalErr) Error() string { return "secret internal detail" }
