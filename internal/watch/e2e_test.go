package watch

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestNginxEndToEnd: a real nginx serves known requests with known
// statuses and delays; its tailed log and its stub_status page come out
// of the store with exact counts and histogram buckets.
func TestNginxEndToEnd(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		status := 200
		switch {
		case p == "/missing":
			status = 404
		case p == "/boom":
			status = 500
		case strings.HasPrefix(p, "/slow/"):
			ms, _ := strconv.Atoi(strings.TrimPrefix(p, "/slow/"))
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		w.WriteHeader(status)
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	n := testkit.StartNginx(t, `log_format media '"$remote_addr" "$remote_user" [$time_local] "$request" $status $bytes_sent $request_time "$http_referer" "$http_user_agent"';
server {
	listen {{.Listen}};
	access_log {{.AccessLog}} media;
	location = /status { stub_status; access_log off; }
	location / { proxy_pass `+up.URL+`; }
}
`)
	cfg := testConfig(&JobConfig{Name: "web", Files: []string{n.AccessLog}, Format: "media-nginx", FromStart: true,
		Buckets: []float64{0.05, 0.25, 1, 5}})
	cfg.Status = []*StatusConfig{{Job: "web", Kind: "nginx", URL: n.URL("/status"), Interval: 1e9}}
	a := startAgent(t, t.TempDir(), cfg)

	type req struct {
		path   string
		status int
	}
	var reqs []req
	for i := range 7 {
		reqs = append(reqs, req{"/article/" + strconv.Itoa(100+i), 200})
	}
	for range 3 {
		reqs = append(reqs, req{"/missing", 404})
	}
	reqs = append(reqs, req{"/boom", 500})
	// Delays with room to their bucket's bound: a busy machine adds time.
	for _, d := range []int{100, 100, 500, 1500} {
		reqs = append(reqs, req{"/slow/" + strconv.Itoa(d), 200})
	}
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Go(func() {
			resp, err := http.Get(n.URL(r.path))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != r.status {
				t.Errorf("%s: %d, want %d", r.path, resp.StatusCode, r.status)
			}
		})
	}
	wg.Wait()
	want := map[string]float64{
		`sum(http_requests_total{job="web"})`:                                           float64(len(reqs)),
		`http_requests_total{job="web",path="/article/{id}",method="GET",status="200"}`: 7,
		`http_requests_total{job="web",path="/missing",status="404"}`:                   3,
		`http_requests_total{job="web",path="/boom",status="500"}`:                      1,
		`http_request_duration_seconds_bucket{job="web",path="/slow/{id}",le="0.05"}`:   0,
		`http_request_duration_seconds_bucket{job="web",path="/slow/{id}",le="0.25"}`:   2,
		`http_request_duration_seconds_bucket{job="web",path="/slow/{id}",le="1"}`:      3,
		`http_request_duration_seconds_bucket{job="web",path="/slow/{id}",le="5"}`:      4,
		`http_request_duration_seconds_bucket{job="web",path="/slow/{id}",le="+Inf"}`:   4,
		`http_request_duration_seconds_count{job="web",path="/slow/{id}"}`:              4,
		`dandan_log_lines_invalid_total{job="web"}`:                                     0,
		// The job-level rollups sum the same counts.
		`sum(job_status:http_requests_total{job="web"})`:                float64(len(reqs)),
		`job_status:http_requests_total{job="web",status="404"}`:        3,
		`job:http_request_duration_seconds_count{job="web"}`:            float64(len(reqs)),
		`job:http_request_duration_seconds_bucket{job="web",le="+Inf"}`: float64(len(reqs)),
		`job:http_request_duration_seconds_bucket{job="web",le="0.05"}`: float64(len(reqs) - 4),
		`up{job="web"}`: 1,
	}
	testkit.Eventually(t, 15*time.Second, func() error {
		var bad []string
		for q, v := range want {
			if got := a.value(t, q); got != v {
				bad = append(bad, fmt.Sprintf("%s = %v, want %v", q, got, v))
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("%s", strings.Join(bad, "\n"))
		}
		return nil
	})
	// stub_status counts every request nginx served, the status scrapes
	// included: at least ours. Connections are fewer when the client reuses
	// one (keep-alive), so only accepts = handled > 0 holds for them.
	testkit.Eventually(t, 10*time.Second, func() error {
		if got := a.value(t, `webserver_requests_total{job="web"}`); got < float64(len(reqs)) {
			return fmt.Errorf("webserver_requests_total = %v, want at least %d", got, len(reqs))
		}
		if acc, h := a.value(t, `webserver_connections_accepted_total{job="web"}`), a.value(t, `webserver_connections_handled_total{job="web"}`); acc != h || acc < 1 {
			return fmt.Errorf("accepted %v, handled %v", acc, h)
		}
		return nil
	})
}

// TestRestartNoLossNoDouble: lines written while the agent was stopped,
// including across a rotation, are counted once after a restart.
func TestRestartNoLossNoDouble(t *testing.T) {
	dir := t.TempDir()
	logf := dir + "/access.log"
	written := 0
	write := func(n int) {
		f, err := os.OpenFile(logf, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for range n {
			fmt.Fprintf(f, "\"10.0.0.1\" \"-\" [25/Nov/2026:10:00:00 +0000] \"GET /a/%d HTTP/1.1\" 200 10 0.010 \"-\" \"t\"\n", written)
			written++
		}
	}
	write(1000)
	cfg := func() *Config {
		return testConfig(&JobConfig{Name: "app", Files: []string{logf}, Format: "media-nginx", FromStart: true})
	}
	total := `sum(http_requests_total{job="app"})`
	a := startAgent(t, dir, cfg())
	testkit.Eventually(t, 10*time.Second, func() error {
		if got := a.value(t, total); got != float64(written) {
			return fmt.Errorf("%s = %v, want %d", total, got, written)
		}
		return nil
	})
	a.stop(t)

	write(500)
	if err := os.Rename(logf, logf+".1"); err != nil {
		t.Fatal(err)
	}
	write(300)

	b := startAgent(t, dir, cfg())
	testkit.Eventually(t, 10*time.Second, func() error {
		if got := b.value(t, total); got != float64(written) {
			return fmt.Errorf("%s = %v, want %d", total, got, written)
		}
		return nil
	})
	write(10)
	testkit.Eventually(t, 10*time.Second, func() error {
		if got := b.value(t, total); got != float64(written) {
			return fmt.Errorf("%s = %v, want %d", total, got, written)
		}
		return nil
	})
}

// TestApacheEndToEnd: a real Apache with the media format (%D, µs) and
// mod_status; the tailed log and ?auto come out of the store exactly.
func TestApacheEndToEnd(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/missing":
			w.WriteHeader(404)
		case strings.HasPrefix(p, "/slow/"):
			ms, _ := strconv.Atoi(strings.TrimPrefix(p, "/slow/"))
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	ap := testkit.StartApache(t, `LoadModule status_module {{.Modules}}/mod_status.so
LoadModule proxy_module {{.Modules}}/mod_proxy.so
LoadModule proxy_http_module {{.Modules}}/mod_proxy_http.so
LogFormat "%h \"%u\" %t \"%r\" %s %b %D \"%{Referer}i\" \"%{User-Agent}i\"" media
LoadModule setenvif_module {{.Modules}}/mod_setenvif.so
SetEnvIf Request_URI "^/server-status" nolog
CustomLog {{.AccessLog}} media env=!nolog
ExtendedStatus On
<Location /server-status>
	SetHandler server-status
	Require all granted
</Location>
ProxyPass /server-status !
ProxyPass / `+up.URL+`/
`)
	cfg := testConfig(&JobConfig{Name: "apache", Files: []string{ap.AccessLog}, Format: "media-apache", FromStart: true,
		Buckets: []float64{0.05, 0.25, 1, 5}})
	cfg.Status = []*StatusConfig{{Job: "apache", Kind: "apache", URL: ap.URL("/server-status"), Interval: 1e9}}
	a := startAgent(t, t.TempDir(), cfg)
	paths := []string{"/a/1", "/a/2", "/a/3", "/missing", "/slow/100", "/slow/500"}
	for _, p := range paths {
		resp, err := http.Get(ap.URL(p))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	want := map[string]float64{
		`sum(http_requests_total{job="apache"})`:                                         6,
		`http_requests_total{job="apache",path="/a/{id}",status="200"}`:                  3,
		`http_requests_total{job="apache",path="/missing",status="404"}`:                 1,
		`http_request_duration_seconds_bucket{job="apache",path="/slow/{id}",le="0.05"}`: 0,
		`http_request_duration_seconds_bucket{job="apache",path="/slow/{id}",le="0.25"}`: 1,
		`http_request_duration_seconds_bucket{job="apache",path="/slow/{id}",le="1"}`:    2,
		`up{job="apache"}`: 1,
	}
	testkit.Eventually(t, 15*time.Second, func() error {
		var bad []string
		for q, v := range want {
			if got := a.value(t, q); got != v {
				bad = append(bad, fmt.Sprintf("%s = %v, want %v", q, got, v))
			}
		}
		// mod_status counts every request, its own scrapes included.
		if got := a.value(t, `webserver_requests_total{job="apache"}`); got < 6 {
			bad = append(bad, fmt.Sprintf("webserver_requests_total = %v", got))
		}
		if got := a.value(t, `sum(webserver_scoreboard{job="apache"})`); got < 1 {
			bad = append(bad, fmt.Sprintf("scoreboard sum = %v", got))
		}
		if len(bad) > 0 {
			return fmt.Errorf("%s", strings.Join(bad, "\n"))
		}
		return nil
	})
}
