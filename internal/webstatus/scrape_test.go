package webstatus

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// nginxPage is a stub_status page.
const nginxPage = "Active connections: 1 \nserver accepts handled requests\n 5 5 9 \nReading: 0 Writing: 1 Waiting: 0 \n"

// serve starts an HTTP server of h, closed when the test ends.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// hang starts a server whose handler answers nothing until the test ends;
// with headers true it sends the headers and a part of the body first.
func hang(t *testing.T, headers bool) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if headers {
			io.WriteString(w, "Active connections: 1\n")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for handlers
	return srv
}

// refusedURL returns a URL on a port that nothing listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/status"
}

// newScraper returns a Scraper whose idle connections close when the test
// ends.
func newScraper(t *testing.T) *Scraper {
	s := New(nil)
	t.Cleanup(s.CloseIdleConnections)
	return s
}

func TestScrapeFailures(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name    string
		kind    Kind
		url     func(t *testing.T) string
		wantErr []string // substrings of the error, besides the job and the URL
		timeout bool     // the error is the timeout's
	}{
		{
			name:    "connection refused",
			kind:    Nginx,
			url:     refusedURL,
			wantErr: []string{"connection refused"},
		},
		{
			name: "status 500",
			kind: Nginx,
			url: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, nginxPage, http.StatusInternalServerError)
				}).URL + "/status"
			},
			wantErr: []string{"status 500 Internal Server Error"},
		},
		{
			name: "status 404 apache",
			kind: Apache,
			url: func(t *testing.T) string {
				return serve(t, http.NotFound).URL + "/server-status"
			},
			wantErr: []string{"status 404 Not Found"},
		},
		{
			name: "garbage nginx",
			kind: Nginx,
			url: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, "<html><body>Welcome to nginx!</body></html>\n")
				}).URL + "/status"
			},
			wantErr: []string{`line 1: want "Active connections: N", got "<html>`},
		},
		{
			name: "garbage apache",
			kind: Apache,
			url: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html><head>\n")
				}).URL + "/server-status"
			},
			wantErr: []string{`line 1: want "Name: value", got "<!DOCTYPE`},
		},
		{
			name: "nginx page of apache",
			kind: Apache,
			url: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, nginxPage)
				}).URL + "/server-status"
			},
			wantErr: []string{`line 2: want "Name: value", got "server accepts handled requests"`},
		},
		{
			name: "empty page",
			kind: Apache,
			url: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {}).URL + "/server-status"
			},
			wantErr: []string{"no status fields"},
		},
		{
			name: "too large",
			kind: Nginx,
			url: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, strings.Repeat("x", maxBody+1))
				}).URL + "/status"
			},
			wantErr: []string{"body larger than 1048576 bytes"},
		},
		{
			name:    "no answer",
			kind:    Nginx,
			url:     func(t *testing.T) string { return hang(t, false).URL + "/status" },
			wantErr: []string{"no answer within 300ms"},
			timeout: true,
		},
		{
			name:    "body never ends",
			kind:    Nginx,
			url:     func(t *testing.T) string { return hang(t, true).URL + "/status" },
			wantErr: []string{"read body: no answer within 300ms"},
			timeout: true,
		},
		{
			name:    "not a kind",
			kind:    "lighttpd",
			url:     func(t *testing.T) string { return "http://127.0.0.1:1/status" },
			wantErr: []string{`kind "lighttpd" is not nginx or apache`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := Target{Job: "web", Kind: tc.kind, URL: tc.url(t), Timeout: timeout}
			now := time.Unix(1700000000, 0)
			start := time.Now()
			samples, err := newScraper(t).Scrape(context.Background(), target, now)
			if took := time.Since(start); took > timeout+time.Second {
				t.Errorf("scrape took %s, timeout %s", took, timeout)
			}
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			want := append([]string{"job web: " + target.pageURL() + ": "}, tc.wantErr...)
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tc.timeout != errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("errors.Is(%q, context.DeadlineExceeded) = %t", err, !tc.timeout)
			}
			if len(samples) != 2 {
				t.Fatalf("got %d samples, want up and the scrape duration", len(samples))
			}
			v := values(t, samples)
			if up, ok := v[`up{job="web"}`]; !ok || up != 0 {
				t.Errorf("up = %v, %t; want 0", up, ok)
			}
			d, ok := v[`dandan_webstatus_scrape_duration_seconds{job="web"}`]
			if !ok || d <= 0 || d > (timeout+time.Second).Seconds() {
				t.Errorf("scrape duration = %v, %t", d, ok)
			}
			for _, s := range samples {
				if s.T != now.UnixMilli() {
					t.Errorf("sample %s at %d, want %d", render(s), s.T, now.UnixMilli())
				}
			}
		})
	}
}

func TestScrapeCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	target := Target{Job: "web", Kind: Nginx, URL: hang(t, false).URL}
	samples, err := newScraper(t).Scrape(ctx, target, time.Now())
	if !errors.Is(err, context.Canceled) || len(samples) != 2 {
		t.Fatalf("got %d samples, error %v; want up=0 and context.Canceled", len(samples), err)
	}
}

func TestScrapeAllParallel(t *testing.T) {
	const timeout = 400 * time.Millisecond
	page := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/server-status" {
			io.WriteString(w, "Total Accesses: 3\nBusyWorkers: 1\nIdleWorkers: 2\nScoreboard: W__\n")
			return
		}
		io.WriteString(w, nginxPage)
	})
	targets := []Target{
		{Job: "hang1", Kind: Nginx, URL: hang(t, false).URL, Timeout: timeout},
		{Job: "fast-nginx", Kind: Nginx, URL: page.URL + "/status"},
		{Job: "hang2", Kind: Apache, URL: hang(t, true).URL, Timeout: timeout},
		{Job: "fast-apache", Kind: Apache, URL: page.URL + "/server-status"},
		{Job: "hang3", Kind: Nginx, URL: hang(t, false).URL, Timeout: timeout},
	}
	start := time.Now()
	samples, errs := newScraper(t).ScrapeAll(context.Background(), targets, time.Now())
	// Scraped one after the other, the hanging targets would take 1.2s.
	if took := time.Since(start); took > 2*timeout {
		t.Errorf("ScrapeAll took %s; the hanging targets were not scraped in parallel", took)
	}
	if len(errs) != 3 {
		t.Errorf("got %d errors, want 3: %v", len(errs), errs)
	}
	for i, err := range errs {
		if job := []string{"hang1", "hang2", "hang3"}[i]; !strings.HasPrefix(err.Error(), "job "+job+": ") {
			t.Errorf("error %d: %q is not about job %s", i, err, job)
		}
	}
	v := values(t, samples)
	for job, up := range map[string]float64{"hang1": 0, "hang2": 0, "hang3": 0, "fast-nginx": 1, "fast-apache": 1} {
		if got, ok := v[`up{job="`+job+`"}`]; !ok || got != up {
			t.Errorf("up{job=%q} = %v, %t; want %v", job, got, ok, up)
		}
		d := v[`dandan_webstatus_scrape_duration_seconds{job="`+job+`"}`]
		if fast := up == 1; fast && d >= timeout.Seconds()/2 || !fast && d < timeout.Seconds() {
			t.Errorf("job %s: scrape duration %gs", job, d)
		}
	}
	if got := v[`webserver_requests_total{job="fast-nginx"}`]; got != 9 {
		t.Errorf("fast-nginx requests = %v, want 9", got)
	}
	if got := v[`webserver_requests_total{job="fast-apache"}`]; got != 3 {
		t.Errorf("fast-apache requests = %v, want 3", got)
	}
	checkDocumented(t, samples)
}

func TestPageURL(t *testing.T) {
	tests := []struct {
		kind     Kind
		url, got string
	}{
		{Apache, "http://h/server-status", "http://h/server-status?auto"},
		{Apache, "http://h/server-status?auto", "http://h/server-status?auto"},
		{Apache, "http://h/server-status?x=1", "http://h/server-status?x=1&auto"},
		{Apache, "http://h/server-status?x=1&auto=", "http://h/server-status?x=1&auto="},
		{Nginx, "http://h/status", "http://h/status"},
	}
	for _, tc := range tests {
		if got := (Target{Kind: tc.kind, URL: tc.url}).pageURL(); got != tc.got {
			t.Errorf("%s %s: got %s, want %s", tc.kind, tc.url, got, tc.got)
		}
	}
}

func TestTargetValidate(t *testing.T) {
	if err := (Target{Job: "web", Kind: Apache, URL: "https://h/server-status"}).Validate(); err != nil {
		t.Errorf("good target: %v", err)
	}
	err := Target{Kind: "iis", URL: "/status", Timeout: -time.Second}.Validate()
	want := "job: empty\nkind: \"iis\" is not nginx or apache\nurl: \"/status\" is not an http or https URL\ntimeout: -1s is negative"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
