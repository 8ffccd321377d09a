package webstatus

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/testkit"
)

func TestParseNginx(t *testing.T) {
	tests := []struct {
		name, page string
		want       NginxStatus
		err        string
	}{
		{
			name: "nginx",
			page: nginxPage,
			want: NginxStatus{Active: 1, Accepts: 5, Handled: 5, Requests: 9, Writing: 1},
		},
		{
			name: "crlf and blank lines",
			page: "\r\nActive connections: 7\r\nserver accepts handled requests\r\n 18446744073709551615 2 3\r\nReading: 4 Writing: 5 Waiting: 6\r\n\r\n",
			want: NginxStatus{Active: 7, Accepts: 18446744073709551615, Handled: 2, Requests: 3, Reading: 4, Writing: 5, Waiting: 6},
		},
		{
			name: "tengine's extra column",
			page: "Active connections: 1\nserver accepts handled requests request_time\n 1 1 2 30\nReading: 0 Writing: 1 Waiting: 0\n",
			want: NginxStatus{Active: 1, Accepts: 1, Handled: 1, Requests: 2, Writing: 1},
		},
		{
			name: "states in another order",
			page: "Active connections: 3\nserver accepts handled requests\n 1 1 2\nWaiting: 1 Reading: 2 Writing: 3\n",
			want: NginxStatus{Active: 3, Accepts: 1, Handled: 1, Requests: 2, Reading: 2, Writing: 3, Waiting: 1},
		},
		{name: "empty", page: "", err: `line 1: want "Active connections: N", got end of page`},
		{name: "html", page: "<html>\n", err: `line 1: want "Active connections: N", got "<html>"`},
		{name: "negative", page: "Active connections: -1\n", err: `line 1: active connections: "-1" is not a count`},
		{name: "no header", page: "Active connections: 1\n", err: `line 2: want "server accepts handled requests", got end of page`},
		{name: "bad header", page: "Active connections: 1\nclient accepts\n", err: `line 2: want "server accepts handled requests", got "client accepts"`},
		{
			name: "missing count",
			page: "Active connections: 1\nserver accepts handled requests\n 1 2\n",
			err:  `line 3: want 3 counts (accepts handled requests), got "1 2"`,
		},
		{
			name: "bad count",
			page: "Active connections: 1\n\nserver accepts handled requests\n 1 2 x\n",
			err:  `line 4: requests: "x" is not a count`,
		},
		{
			name: "missing column",
			page: "Active connections: 1\nserver accepts requests\n 1 2\n",
			err:  `line 2: want columns accepts, handled and requests, got accepts requests`,
		},
		{
			name: "no states",
			page: "Active connections: 1\nserver accepts handled requests\n 1 1 1\n",
			err:  `line 4: want "Reading: N Writing: N Waiting: N", got end of page`,
		},
		{
			name: "missing state",
			page: "Active connections: 1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1\n",
			err:  `line 4: want "Reading: N Writing: N Waiting: N", got "Reading: 0 Writing: 1"`,
		},
		{
			name: "bad state",
			page: "Active connections: 1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: many Waiting: 0\n",
			err:  `line 4: Writing: "many" is not a count`,
		},
		{
			name: "trailing text",
			page: nginxPage + "\nhello\n",
			err:  `line 6: unexpected "hello" after the status`,
		},
		{
			name: "long line",
			page: strings.Repeat("a", 100),
			err:  `line 1: want "Active connections: N", got "` + strings.Repeat("a", 60) + `"…`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseNginx([]byte(tc.page))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got error %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestNginxCaptured checks the samples of a page captured from a real
// nginx (rewritten by TestNginxReal with -update) against a golden file
// that holds the page and its samples.
func TestNginxCaptured(t *testing.T) {
	page, err := os.ReadFile("testdata/nginx-stub-status.txt")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseNginx(page)
	if err != nil {
		t.Fatal(err)
	}
	st.Version = "nginx/1.22.1" // the Server header of the capture
	var b strings.Builder
	fmt.Fprintf(&b, "# testdata/nginx-stub-status.txt, with Server: %s\n%s\n# samples\n", st.Version, page)
	samples := st.Samples("nginx", time.Unix(1700000000, 0))
	for _, s := range samples {
		b.WriteString(render(s) + "\n")
	}
	checkDocumented(t, samples)
	testkit.Golden(t, "testdata/nginx-stub-status.golden", []byte(b.String()))
}

// TestNginxReal scrapes a real nginx after known requests and checks every
// count: the status requests count too, as nginx counts a request as soon
// as it reads its first bytes.
func TestNginxReal(t *testing.T) {
	n := testkit.StartNginx(t, `
server {
	listen {{.Listen}};
	location = /status { stub_status; }
	location / { return 200 "ok\n"; }
}`)
	// A scrape opens a connection of its own each time, so that nginx
	// counts one accepted connection and one request per scrape.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(client.CloseIdleConnections)
	s := New(client)
	target := Target{Job: "nginx", Kind: Nginx, URL: n.URL("/status"), Timeout: 5 * time.Second}
	scrapes := 0
	scrape := func() map[string]float64 {
		t.Helper()
		scrapes++
		samples, err := s.Scrape(context.Background(), target, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		checkDocumented(t, samples)
		return values(t, samples)
	}
	const (
		requests    = `webserver_requests_total{job="nginx"}`
		accepted    = `webserver_connections_accepted_total{job="nginx"}`
		handled     = `webserver_connections_handled_total{job="nginx"}`
		active      = `webserver_connections{job="nginx",state="active"}`
		reading     = `webserver_connections{job="nginx",state="reading"}`
		writing     = `webserver_connections{job="nginx",state="writing"}`
		waiting     = `webserver_connections{job="nginx",state="waiting"}`
		up          = `up{job="nginx"}`
		info        = `webserver_info{job="nginx",version="`
		known       = 7
		base, extra = 1, 2 // the first scrape; the idle and the partial connection
	)

	// The first scrape: nginx has served nothing before it but opened a
	// connection or more for testkit's readiness check.
	first := scrape()
	if first[requests] != 1 || first[up] != 1 {
		t.Fatalf("first scrape: requests %v, up %v; want 1, 1", first[requests], first[up])
	}
	accepted0 := first[accepted] - 1

	for i := range known {
		resp, err := client.Get(n.URL(fmt.Sprintf("/page/%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /page/%d: %s", i, resp.Status)
		}
	}
	// An idle keep-alive connection after one request, and one that has
	// sent only part of its request.
	idle := dial(t, n.Addr)
	fmt.Fprint(idle, "GET /idle HTTP/1.1\r\nHost: t\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	partial := dial(t, n.Addr)
	fmt.Fprint(partial, "GET /partial HTTP/1.1\r\n")

	testkit.Eventually(t, 10*time.Second, func() error {
		before := scrapes // counted in the page, with this one
		v := scrape()
		want := map[string]float64{
			up:       1,
			requests: base + known + extra + float64(before),
			accepted: accepted0 + base + known + extra + float64(before),
			handled:  accepted0 + base + known + extra + float64(before),
			active:   3, // idle, partial and the scrape's own
			reading:  1,
			writing:  1,
			waiting:  1,
		}
		for k, w := range want {
			if v[k] != w {
				return fmt.Errorf("%s = %v, want %v", k, v[k], w)
			}
		}
		for k := range v {
			if strings.HasPrefix(k, info+"nginx/") {
				return nil
			}
		}
		return fmt.Errorf("no %snginx/…\"} in %v", info, v)
	})

	if updating() {
		resp, err := client.Get(target.URL)
		if err != nil {
			t.Fatal(err)
		}
		page, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		capture(t, "testdata/nginx-stub-status.txt", page)
	}
}

// dial opens a TCP connection to addr, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
