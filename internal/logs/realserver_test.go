package logs

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
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

// realRequest is a request sent to a real server, with what it must give.
type realRequest struct {
	method, path string
	template     string // the path label dandan must give
	status       int
	delay        time.Duration
}

// realRequests: known statuses, sizes and delays; the delays land in
// the middle of the buckets of realBuckets.
func realRequests(nginx bool) []realRequest {
	var rs []realRequest
	for i := range 5 {
		rs = append(rs, realRequest{"GET", "/article/" + strconv.Itoa(1000+i) + "?ref=x", "/article/{id}", 200, 0})
	}
	for range 2 {
		rs = append(rs, realRequest{"POST", "/items", "/items", 201, 0})
	}
	for range 3 {
		rs = append(rs, realRequest{"GET", "/missing", "/missing", 404, 0})
	}
	rs = append(rs, realRequest{"GET", "/boom", "/boom", 500, 0})
	for _, d := range []int{100, 100, 100, 700, 700, 2000} {
		rs = append(rs, realRequest{"GET", "/slow/" + strconv.Itoa(d), "/slow/{id}", 200, time.Duration(d) * time.Millisecond})
	}
	if nginx {
		rs = append(rs, realRequest{"GET", "/gone", "/gone", 410, 0}) // nginx's own return 410
	}
	return rs
}

const realBuckets = "0.05,0.5,1,5"

// upstream serves the requests of realRequests: status by path, a body
// whose size depends on the path, and the delay.
func upstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		status := 200
		switch {
		case p == "/items":
			status = 201
		case p == "/missing":
			status = 404
		case p == "/boom":
			status = 500
		case strings.HasPrefix(p, "/slow/"):
			ms, _ := strconv.Atoi(strings.TrimPrefix(p, "/slow/"))
			<-time.After(time.Duration(ms) * time.Millisecond)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		io.WriteString(w, strings.Repeat("x", 10*len(p)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// send sends r over a new connection and returns the status and the bytes
// received (headers and body) and the body's size.
func send(addr string, r realRequest) (status int, wire, body int64, err error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: test\r\nUser-Agent: dandan-test\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", r.method, r.path)
	all, err := io.ReadAll(c)
	if err != nil {
		return 0, 0, 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(all)), nil)
	if err != nil {
		return 0, 0, 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, int64(len(all)), int64(len(b)), nil
}

// checkRealServer sends realRequests to addr, waits for their lines in
// accessLog, parses it with `logs parse` and compares the counts, the
// bytes (wire bytes for nginx's $bytes_sent, body bytes for Apache's %b)
// and the histogram buckets with what was sent.
func checkRealServer(t *testing.T, addr, accessLog, formatName string, wireBytes bool, reqs []realRequest) {
	type key struct {
		path, method string
		status       int
	}
	wantCount := map[key]int{}
	wantBytes := map[key]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Go(func() {
			status, wire, body, err := send(addr, r)
			if err != nil {
				t.Errorf("%s %s: %v", r.method, r.path, err)
				return
			}
			if status != r.status {
				t.Errorf("%s %s: status %d, want %d", r.method, r.path, status, r.status)
			}
			k := key{r.template, r.method, r.status}
			mu.Lock()
			defer mu.Unlock()
			wantCount[k]++
			if wireBytes {
				wantBytes[k] += wire
			} else {
				wantBytes[k] += body
			}
		})
	}
	wg.Wait()
	testkit.Eventually(t, 10*time.Second, func() error {
		b, err := os.ReadFile(accessLog)
		if err != nil {
			return err
		}
		if n := bytes.Count(b, []byte{'\n'}); n < len(reqs) {
			return fmt.Errorf("%d of %d lines in %s", n, len(reqs), accessLog)
		}
		return nil
	})
	stdout, stderr, err := run(t, "", "parse", "--format", formatName, "--output", "prom", "--buckets", realBuckets, accessLog)
	if err != nil {
		t.Fatalf("logs parse: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, fmt.Sprintf("lines read: %d\nlines invalid: 0\n", len(reqs))) {
		t.Errorf("summary:\n%s", stderr)
	}
	// The last sample of each series in the prom output is its total.
	last := map[string]string{}
	for _, l := range strings.Split(stdout, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		f := strings.Fields(l)
		last[f[0]] = f[1]
	}
	for k, n := range wantCount {
		labels := fmt.Sprintf(`{job="access",method=%q,path=%q,status="%d"}`, k.method, k.path, k.status)
		if got := last[MetricRequests+labels]; got != strconv.Itoa(n) {
			t.Errorf("%s%s = %q, want %d", MetricRequests, labels, got, n)
		}
		if got := last[MetricBytes+labels]; got != strconv.FormatInt(wantBytes[k], 10) {
			t.Errorf("%s%s = %q, want %d", MetricBytes, labels, got, wantBytes[k])
		}
	}
	// Each delay in its bucket: cumulative counts per path and method.
	type hkey struct{ path, method string }
	wantBuckets := map[hkey][]int{}
	bounds := []time.Duration{50 * time.Millisecond, 500 * time.Millisecond, time.Second, 5 * time.Second}
	for _, r := range reqs {
		k := hkey{r.template, r.method}
		if wantBuckets[k] == nil {
			wantBuckets[k] = make([]int, len(bounds)+1)
		}
		for i, b := range bounds {
			if r.delay < b {
				wantBuckets[k][i]++
			}
		}
		wantBuckets[k][len(bounds)]++
	}
	for k, want := range wantBuckets {
		for i, le := range append(strings.Split(realBuckets, ","), "+Inf") {
			labels := fmt.Sprintf(`{job="access",method=%q,path=%q,le=%q}`, k.method, k.path, le)
			if got := last[MetricDuration+"_bucket"+labels]; got != strconv.Itoa(want[i]) {
				t.Errorf("%s_bucket%s = %q, want %d", MetricDuration, labels, got, want[i])
			}
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(accessLog)
		t.Logf("access log:\n%s", b)
	}
}

func TestRealNginx(t *testing.T) {
	up := upstream(t)
	conf := `log_format media '"$remote_addr" "$remote_user" [$time_local] "$request" $status $bytes_sent $request_time "$http_referer" "$http_user_agent"';
server {
	listen {{.Listen}};
	access_log {{.AccessLog}} media;
	location = /gone { return 410; }
	location / { proxy_pass ` + up.URL + `; }
}
`
	n := testkit.StartNginx(t, conf)
	checkRealServer(t, n.Addr, n.AccessLog, "media-nginx", true, realRequests(true))
}

func TestRealApache(t *testing.T) {
	up := upstream(t)
	conf := `LoadModule proxy_module {{.Modules}}/mod_proxy.so
LoadModule proxy_http_module {{.Modules}}/mod_proxy_http.so
LogFormat "%h \"%u\" %t \"%r\" %s %b %D \"%{Referer}i\" \"%{User-Agent}i\"" media
CustomLog {{.AccessLog}} media
ProxyPass / ` + up.URL + `/
`
	a := testkit.StartApache(t, conf)
	checkRealServer(t, a.Addr, a.AccessLog, "media-apache", false, realRequests(false))
}
