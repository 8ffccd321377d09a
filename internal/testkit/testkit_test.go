package testkit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeTB records the failure of a helper instead of failing the test.
type fakeTB struct {
	testing.TB
	mu  sync.Mutex
	msg string // guarded by mu
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// failure runs fn with a fakeTB and returns the message it failed with, or ""
// when it did not fail.
func failure(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestEventually(t *testing.T) {
	t.Parallel()
	calls := 0
	Eventually(t, 5*time.Second, func() error {
		calls++
		if calls < 4 {
			return fmt.Errorf("try %d", calls)
		}
		return nil
	})
	if calls != 4 {
		t.Errorf("cond called %d times, want 4", calls)
	}

	start := time.Now()
	msg := failure(t, func(tb testing.TB) {
		n := 0
		Eventually(tb, 100*time.Millisecond, func() error {
			n++
			return fmt.Errorf("still wrong after %d tries", n)
		})
	})
	if !strings.Contains(msg, "still wrong after") || !strings.Contains(msg, "100ms") {
		t.Errorf("timeout message = %q, want the last error and the timeout", msg)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Eventually took %v to time out after 100ms", d)
	}
}

func TestPollGiveUp(t *testing.T) {
	t.Parallel()
	calls := 0
	errExit := errors.New("process exited")
	err := poll(time.Minute, func() error {
		calls++
		return giveUp(errExit)
	})
	if !errors.Is(err, errExit) || calls != 1 {
		t.Errorf("poll = %v after %d calls, want %v after 1", err, calls, errExit)
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "out.golden")

	if msg := failure(t, func(tb testing.TB) { golden(tb, path, []byte("x\n"), false) }); !strings.Contains(msg, "-update") {
		t.Errorf("missing file: message = %q, want a hint at -update", msg)
	}

	want := "one\ntwo\nthree\nfour\nfive\n"
	golden(t, path, []byte(want), true)
	if b, err := os.ReadFile(path); err != nil || string(b) != want {
		t.Fatalf("after update: file = %q, %v; want %q", b, err, want)
	}
	if msg := failure(t, func(tb testing.TB) { golden(tb, path, []byte(want), false) }); msg != "" {
		t.Errorf("equal output failed: %s", msg)
	}

	msg := failure(t, func(tb testing.TB) {
		golden(tb, path, []byte("one\ntwo\nthree\nFOUR\nfive\n"), false)
	})
	for _, s := range []string{path, "line 4", "  three\n", "- four\n", "+ FOUR\n"} {
		if !strings.Contains(msg, s) {
			t.Errorf("mismatch message lacks %q:\n%s", s, msg)
		}
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		want, got string
		has       []string
	}{
		{"changed line", "a\nb\nc\n", "a\nx\nc\n", []string{"line 2", "  a\n", "- b\n", "+ x\n"}},
		{"missing newline", "a\n", "a", []string{"line 1", "- a\n", `+ "a" (no newline at end)`}},
		{"extra lines", "a\n", "a\nb\n", []string{"line 2", "+ b\n"}},
		{"trailing space", "a\n", "a \n", []string{`+ "a "`}},
		{"far change", strings.Repeat("l\n", 20) + "end\n", strings.Repeat("l\n", 20) + "END\n", []string{"line 21", "- end\n", "+ END\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := diff([]byte(tc.want), []byte(tc.got))
			for _, s := range tc.has {
				if !strings.Contains(d, s) {
					t.Errorf("diff lacks %q:\n%s", s, d)
				}
			}
		})
	}
}

func TestFreeAddr(t *testing.T) {
	t.Parallel()
	addr := FreeAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on FreeAddr %s: %v", addr, err)
	}
	l.Close()
}

func TestLookPathMissing(t *testing.T) {
	t.Parallel()
	msg := failure(t, func(tb testing.TB) { lookPath(tb, "no-such-server-x", "no-such-package") })
	want := "no-such-server-x not found in PATH: install the Debian package no-such-package (apt-get install -y no-such-package)"
	if msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
}

// redisCLI runs redis-cli against addr and returns its trimmed output.
func redisCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestStartRedis(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, "maxmemory 10mb", "--maxmemory-policy allkeys-lru")
	if got := redisCLI(t, r.Addr, "PING"); got != "PONG" {
		t.Errorf("PING = %q", got)
	}
	if got := redisCLI(t, r.Addr, "SET", "k", "v"); got != "OK" {
		t.Errorf("SET = %q", got)
	}
	if got := redisCLI(t, r.Addr, "GET", "k"); got != "v" {
		t.Errorf("GET = %q", got)
	}
	if got := redisCLI(t, r.Addr, "CONFIG", "GET", "maxmemory"); got != "maxmemory\n10485760" {
		t.Errorf("CONFIG GET maxmemory = %q", got)
	}
	if got := redisCLI(t, r.Addr, "CONFIG", "GET", "maxmemory-policy"); got != "maxmemory-policy\nallkeys-lru" {
		t.Errorf("CONFIG GET maxmemory-policy = %q", got)
	}
	if got := redisCLI(t, r.Addr, "CONFIG", "GET", "dir"); got != "dir\n"+r.Dir {
		t.Errorf("CONFIG GET dir = %q, want %q", got, r.Dir)
	}
}

func TestStartRedisBadConfig(t *testing.T) {
	t.Parallel()
	msg := failure(t, func(tb testing.TB) { StartRedis(tb, "no-such-directive 1") })
	if !strings.Contains(msg, "redis-server exited") || !strings.Contains(msg, "no-such-directive") {
		t.Errorf("message = %q, want the exit and the log tail", msg)
	}
}

func TestStartRedisCluster(t *testing.T) {
	t.Parallel()
	c := StartRedisCluster(t)
	if len(c.Masters) != 3 || len(c.Replicas) != 3 || len(c.Addrs()) != 6 {
		t.Fatalf("cluster = %+v, want 3 masters and 3 replicas", c)
	}
	for _, a := range c.Addrs() {
		if info := redisCLI(t, a, "CLUSTER", "INFO"); !strings.Contains(info, "cluster_state:ok") {
			t.Errorf("%s: CLUSTER INFO:\n%s", a, info)
		}
	}

	// The masters together serve every slot, each slot once.
	served := make([]int, 16384)
	for l := range strings.Lines(redisCLI(t, c.Masters[0], "CLUSTER", "NODES")) {
		f := strings.Fields(l)
		addr, _, _ := strings.Cut(f[1], "@")
		isMaster := false
		for _, m := range c.Masters {
			isMaster = isMaster || m == addr
		}
		if !isMaster {
			if len(f) > 8 {
				t.Errorf("replica %s serves slots %v", addr, f[8:])
			}
			continue
		}
		for _, r := range f[8:] {
			lo, hi, found := strings.Cut(r, "-")
			if !found {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				t.Fatalf("bad slot range %q", r)
			}
			for s := a; s <= b; s++ {
				served[s]++
			}
		}
	}
	for s, n := range served {
		if n != 1 {
			t.Fatalf("slot %d served by %d masters", s, n)
		}
	}

	for i, r := range c.Replicas {
		role := redisCLI(t, r, "ROLE")
		_, port, _ := net.SplitHostPort(c.Masters[i])
		if !strings.HasPrefix(role, "slave\n127.0.0.1\n"+port+"\n") {
			t.Errorf("replica %s: ROLE = %q, want a replica of %s", r, role, c.Masters[i])
		}
	}

	if got := redisCLI(t, c.Masters[0], "-c", "SET", "{user1}k", "v"); got != "OK" {
		t.Errorf("SET in cluster = %q", got)
	}
	if got := redisCLI(t, c.Masters[1], "-c", "GET", "{user1}k"); got != "v" {
		t.Errorf("GET in cluster = %q", got)
	}
}

func TestStartPostgres(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	psql := lookPathIn(t, "psql", "postgresql-client", postgresBins())
	out, err := exec.Command(psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", pg.URL,
		"-c", "select 1 + 1, current_database(), current_user, current_setting('server_encoding')").CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v: %s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "2|dandan|postgres|UTF8"; got != want {
		t.Errorf("query = %q, want %q", got, want)
	}
	if !strings.HasPrefix(pg.URL, "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(pg.URL, "/dandan?sslmode=disable") {
		t.Errorf("URL = %q", pg.URL)
	}
	if _, err := os.Stat(filepath.Join(pg.Dir, "data", "PG_VERSION")); err != nil {
		t.Errorf("no cluster in Dir: %v", err)
	}
}

func TestStartNginx(t *testing.T) {
	t.Parallel()
	n := StartNginx(t, `
	server {
		listen {{.Listen}};
		location = /hello { return 200 "hello from nginx\n"; }
		location / { root {{.Dir}}/www; }
	}`)
	if err := os.MkdirAll(filepath.Join(n.Dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "www", "index.html"), []byte("<p>static</p>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/hello": "hello from nginx\n", "/": "<p>static</p>\n"} {
		resp, err := http.Get(n.URL(path))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, resp.StatusCode, body, want)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	Eventually(t, 5*time.Second, func() error {
		b, err := os.ReadFile(n.AccessLog)
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte(`"GET /hello HTTP/1.1" 200`)) {
			return fmt.Errorf("access log has no GET /hello line:\n%s", b)
		}
		return nil
	})
}

func TestStartNginxBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, conf string
		has        []string
	}{
		{"unknown directive", "server { listen {{.Listen}}; bogus_directive on; }", []string{"nginx exited", "bogus_directive"}},
		{"not listening", "server { listen unix:{{.Dir}}/nginx.sock; }", []string{"does the configuration listen on {{.Listen}}?"}},
		{"bad template", "server { listen {{.Port}}; }", []string{"execute configuration template", "Port"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := failure(t, func(tb testing.TB) { StartNginx(tb, tc.conf) })
			for _, s := range tc.has {
				if !strings.Contains(msg, s) {
					t.Errorf("message lacks %q:\n%s", s, msg)
				}
			}
		})
	}
}

func TestCleanupStopsServers(t *testing.T) {
	t.Parallel()
	var addrs []string
	t.Run("start", func(t *testing.T) {
		addrs = append(addrs,
			StartRedis(t).Addr,
			StartNginx(t, `server { listen {{.Listen}}; return 204; }`).Addr)
	})
	for _, a := range addrs {
		if err := dialable(a); err == nil {
			t.Errorf("%s still accepts connections after its test ended", a)
		}
	}
}

func TestStartChromium(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><html><head><title>testkit page</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="margin:0"><h1>hello</h1><div style="height:1500px;background:linear-gradient(#fff,#36c)"></div></body></html>`)
	}))
	defer srv.Close()

	b := StartChromium(t)
	ctx := b.NewTab(t, 20*time.Second)
	if err := chromedp.Do(ctx, Phone().Emulate(), chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "testkit page" {
		t.Errorf("title = %q", title)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.innerWidth"))
	if err != nil {
		t.Fatal(err)
	}
	if width != 390 {
		t.Errorf("innerWidth = %d, want 390 on a phone", width)
	}

	b.Screenshot(t, ctx, "testkit-phone")
	png, err := os.ReadFile(filepath.Join("testdata", "screens", "testkit-phone.png"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot is not a PNG")
	}

	if err := chromedp.Do(ctx, Viewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
	if width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.innerWidth")); err != nil || width != 1280 {
		t.Errorf("innerWidth = %d, %v; want 1280", width, err)
	}

	// A second tab works beside the first.
	ctx2 := b.NewTab(t, 10*time.Second)
	if err := chromedp.Do(ctx2, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
}
