package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkAPIRequest measures one authenticated JSON request through the
// whole handler chain: request id, access log (off), limits, cross-origin
// check, bearer-token auth, role check, handler.
func BenchmarkAPIRequest(b *testing.B) {
	s, _ := newTestServer(b, "server:\n  access_log: false\n")
	h := s.handler()
	req := httptest.NewRequest("GET", "/api/demo/items", nil)
	req.Header.Set("Authorization", "Bearer "+viewerToken)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkStatusPage measures rendering the status page for a session.
func BenchmarkStatusPage(b *testing.B) {
	s, ts := newTestServer(b, "server:\n  access_log: false\n")
	c := login(b, ts, viewerToken)
	u, _ := http.NewRequest("GET", ts.URL, nil)
	cookie := c.Jar.Cookies(u.URL)[0]
	h := s.handler()
	req := httptest.NewRequest("GET", "/status", nil)
	req.AddCookie(cookie)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
