package testkit

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Prometheus is a Prometheus server started by StartPrometheus.
type Prometheus struct {
	// Addr is the server's "127.0.0.1:PORT".
	Addr string
	// Dir holds prometheus.yml, the log and the TSDB (Dir/data).
	Dir string
	// Promtool is the promtool beside the server, or "" when there is none.
	Promtool string

	bin   string     // the prometheus binary
	flags []string   // its command line, the same at every Restart
	log   string     // its stdout and stderr, appended to at every start
	proc  *process   // the running server; stopped when Stop was called
	owner testing.TB // the test of StartPrometheus, whose end stops the server
}

// URL returns the http URL of path on the server; path starts with "/".
func (p *Prometheus) URL(path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "http://" + p.Addr + path
}

// prometheusConf is the server's configuration: no scrape targets, so the
// only samples are those the test writes.
const prometheusConf = `# Written by testkit.StartPrometheus.
global:
  evaluation_interval: 1h
scrape_configs: []
`

// StartPrometheus starts Debian's prometheus on a free loopback port with
// its TSDB in a temporary directory, no scrape targets and the
// remote-write receiver on (POST /api/v1/write), and returns once
// /-/ready answers 200. args are more flags, such as
// "--query.lookback-delta=1m". The server is stopped when the test ends.
func StartPrometheus(t testing.TB, args ...string) *Prometheus {
	t.Helper()
	bin := lookPath(t, "prometheus", "prometheus")
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(prometheusConf), 0o644); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	log := filepath.Join(dir, "prometheus.log")
	promtool := filepath.Join(filepath.Dir(bin), "promtool")
	if _, err := os.Stat(promtool); err != nil {
		promtool = ""
	}
	for attempt := 1; ; attempt++ {
		addr := FreeAddr(t)
		flags := append([]string{
			"--config.file=" + conf,
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--web.enable-remote-write-receiver",
			"--log.level=warn",
		}, args...)
		if err := os.Remove(log); err != nil && !os.IsNotExist(err) {
			t.Fatalf("start prometheus: %v", err)
		}
		p, err := start(t, procOpts{dir: dir, log: log}, bin, flags...)
		if err != nil {
			t.Fatalf("start prometheus: %v", err)
		}
		err = waitReady(p, func() error { return httpOK("http://" + addr + "/-/ready") })
		if err == nil {
			return &Prometheus{Addr: addr, Dir: dir, Promtool: promtool, bin: bin, flags: flags, log: log, proc: p, owner: t}
		}
		p.stop()
		if attempt < startAttempts && addrInUse(log) {
			continue
		}
		t.Fatalf("start prometheus in %s: %v\n%s", dir, err, tail(log))
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 10s) and waits for it
// to exit, keeping its data directory: an outage until Restart. Stopping a
// stopped server does nothing.
func (p *Prometheus) Stop(t testing.TB) {
	t.Helper()
	p.proc.stop()
}

// Restart stops the server if it runs and starts it again with the same
// flags, on the same address and data directory, and returns once /-/ready
// answers 200: the TSDB has replayed its WAL, so every sample the server
// accepted before is queryable again. It fails t when the address was
// taken meanwhile. The server runs until the end of the test that started
// it, even when t is one of its subtests.
func (p *Prometheus) Restart(t testing.TB) {
	t.Helper()
	p.proc.stop()
	proc, err := start(p.owner, procOpts{dir: p.Dir, log: p.log}, p.bin, p.flags...)
	if err != nil {
		t.Fatalf("restart prometheus: %v", err)
	}
	if err := waitReady(proc, func() error { return httpOK(p.URL("/-/ready")) }); err != nil {
		proc.stop()
		t.Fatalf("restart prometheus in %s: %v\n%s", p.Dir, err, tail(p.log))
	}
	p.proc = proc
}

// httpOK returns nil when a GET of url answers 200.
func httpOK(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
