package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/testkit"
)

const testAdminToken = "drain-test-admin-token-0123456789"

func get(url, token string) (*http.Response, error) {
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return http.DefaultClient.Do(req)
}

// inFlight reads dandan_http_requests_in_flight from /metrics.
func inFlight(d *testkit.Dandan) (int, error) {
	resp, err := get(d.URL+"/metrics", testAdminToken)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "dandan_http_requests_in_flight "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, errors.New("no dandan_http_requests_in_flight in /metrics")
}

// TestUpDrainsOnSIGTERM sends SIGTERM to a real `dandan up` under request
// load: the request in flight finishes whole and the process exits 0
// within the drain time.
func TestUpDrainsOnSIGTERM(t *testing.T) {
	d := testkit.StartDandan(t, `
data_dir: {{.DataDir}}
server:
  listen: {{.Listen}}
  shutdown_timeout: 5s
auth:
  tokens:
    - name: root
      role: admin
      token: ${ADMIN_TOKEN}
`, "ADMIN_TOKEN="+testAdminToken)

	// A long request: a 2-second CPU profile.
	type result struct {
		status int
		n      int64
		err    error
	}
	long := make(chan result, 1)
	go func() {
		resp, err := get(d.URL+"/debug/pprof/profile?seconds=2", testAdminToken)
		if err != nil {
			long <- result{err: err}
			return
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		long <- result{status: resp.StatusCode, n: n, err: err}
	}()

	// Load: four clients hammering the API until the server goes away.
	var (
		stop      atomic.Bool
		wg        sync.WaitGroup
		ok, bad   atomic.Int64
		badStatus atomic.Int64
	)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				resp, err := get(d.URL+"/api/status", testAdminToken)
				if err != nil {
					bad.Add(1) // refused once the listener is closed
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					badStatus.Add(1)
					continue
				}
				ok.Add(1)
			}
		})
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		n, err := inFlight(d)
		if err != nil {
			return err
		}
		if n < 2 { // the profile and this /metrics request
			return errors.New("the long request is not in flight yet")
		}
		return nil
	})
	t0 := time.Now()
	if err := d.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := d.Wait(8 * time.Second)
	elapsed := time.Since(t0)
	stop.Store(true)
	wg.Wait()

	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, d.Output())
	}
	if elapsed > 5*time.Second+500*time.Millisecond {
		t.Errorf("exited %v after SIGTERM, drain time is 5s", elapsed)
	}
	r := <-long
	if r.err != nil || r.status != http.StatusOK || r.n == 0 {
		t.Errorf("request in flight did not finish whole: status %d, %d bytes, %v", r.status, r.n, r.err)
	}
	if ok.Load() == 0 {
		t.Error("no request of the load succeeded")
	}
	if badStatus.Load() > 0 {
		t.Errorf("%d requests got a response that was not a whole 200", badStatus.Load())
	}
	out := d.Output()
	for _, want := range []string{"is up: " + d.URL + "/", "One-time login link (admin, 15 minutes): " + d.URL + "/login?ticket=", "msg=stopping", "msg=stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestUpFailsWhenAComponentFailsToStart: the SQL store cannot be reached,
// so `up` stops with a clear message and exit code 1, and the password in
// the URL is not printed.
func TestUpFailsWhenAComponentFailsToStart(t *testing.T) {
	bin := testkit.DandanBinary(t)
	dir := t.TempDir()
	closed := testkit.FreeAddr(t)
	conf := "data_dir: " + filepath.Join(dir, "data") + "\nserver: {listen: " + testkit.FreeAddr(t) + "}\n" +
		"store: {sql: {url: \"postgres://dandan:hunter2-secret@" + closed + "/dandan\"}}\n"
	cfgPath := filepath.Join(dir, "dandan.yaml")
	if err := writeFile(cfgPath, conf); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "up", "--config", cfgPath).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit code 1, got %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "dandan: start store: open postgres://dandan:xxxxx@"+closed+"/dandan: ping:") || !strings.Contains(s, "connection refused") {
		t.Errorf("message does not say which component failed and why:\n%s", s)
	}
	if strings.Contains(s, "hunter2") {
		t.Errorf("the password leaked:\n%s", s)
	}
}

// TestUpRefusesBusyPort: a taken port stops `up` before any part starts.
func TestUpRefusesBusyPort(t *testing.T) {
	d := testkit.StartDandan(t, "data_dir: {{.DataDir}}\nserver: {listen: {{.Listen}}}\n")
	bin := testkit.DandanBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "dandan.yaml")
	addr := strings.TrimPrefix(d.URL, "http://")
	if err := writeFile(cfgPath, "data_dir: "+filepath.Join(dir, "data")+"\nserver: {listen: "+addr+"}\n"); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "up", "--config", cfgPath).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "dandan: listen on "+addr+": ") || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("want a listen error, got %v:\n%s", err, out)
	}
}

// TestUpWithPostgres runs `dandan up` on a real PostgreSQL store: the
// sessions table is migrated there and a UI login works.
func TestUpWithPostgres(t *testing.T) {
	pg := testkit.StartPostgres(t)
	d := testkit.StartDandan(t, `
data_dir: {{.DataDir}}
server: {listen: {{.Listen}}}
store: {sql: {url: "${PG_URL}"}}
auth:
  tokens:
    - name: root
      role: admin
      token: ${ADMIN_TOKEN}
`, "PG_URL="+pg.URL, "ADMIN_TOKEN="+testAdminToken)
	testkit.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get(d.URL + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(d.URL+"/login", map[string][]string{"token": {testAdminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	req, _ := http.NewRequest("GET", d.URL+"/api/whoami", nil)
	req.AddCookie(resp.Cookies()[0])
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"session":true`) {
		t.Fatalf("whoami with the session: %d %s", resp.StatusCode, body)
	}
	out, err := exec.Command("psql", pg.URL, "-tAc", "select count(*) from dandan_sessions").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("sessions in PostgreSQL: %s %v", out, err)
	}
}
