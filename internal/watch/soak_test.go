package watch

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/testkit"
)

// The soak test's shape.
const (
	soakKills = 20
	soakRate  = 3000 // lines per second
	// soakRotateEvery is the rotation period, alternately by rename and by
	// copytruncate: shorter than the follower's 250ms poll, so that files
	// are often rotated twice between two polls.
	soakRotateEvery = 150 * time.Millisecond
	soakMinLife     = 200 * time.Millisecond // of each `dandan watch` before its SIGKILL
	soakMaxLife     = 800 * time.Millisecond
	// soakMaxDown bounds the random wait before the next start, so that
	// some rotations, one or two, happen while no agent runs.
	soakMaxDown = 600 * time.Millisecond
	// soakReopenAfter is how long the writer goes on writing to the
	// renamed file before it reopens its path, as nginx does until
	// logrotate's postrotate USR1 reaches it.
	soakReopenAfter = 30 * time.Millisecond
	// soakKeepGzMtime gives a compressed file the modification time of
	// the file it compresses, as gzip and logrotate do. The follower takes
	// the modification time of the file its checkpoint is found in as the
	// time of its last line; a compressor that does not keep it (gzip -c
	// f > f.gz, most scripts) makes a restart skip the files rotated after
	// a compressed checkpoint file (lines lost) or read compressed old
	// files again (lines counted twice) (the follower now also orders rotated files by name and gzip header time).
	soakKeepGzMtime = true
)

// TestSoakKill runs `dandan watch` on a log that a writer appends to at a
// steady rate and rotates every 150 ms, by rename (the rotated files
// gzipped one rotation later, like logrotate's delaycompress) and by
// copytruncate in turn. The agent is killed with SIGKILL 20 times, each
// time after a random 200–800 ms of life, and started again after a
// random 0–600 ms, so that files also rotate while it is down; a last start
// reads what is left. Its store must then count exactly the lines
// written: in total, by status, the invalid ones, the histogram's count
// and the bytes.
func TestSoakKill(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	bin := testkit.DandanBinary(t)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := newSoakWriter(filepath.Join(logDir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>7))

	ctx, stopWriter := context.WithCancel(context.Background())
	var writers sync.WaitGroup
	writers.Go(func() { w.run(ctx) })
	defer func() {
		stopWriter()
		writers.Wait()
	}()

	// Rotations begin once the first run has committed a checkpoint: the
	// lines of a file rotated away before there was any are not the
	// follower's to find (from_start is about the files at the path).
	ag := &soakAgent{t: t, bin: bin, dir: dir, logFile: w.path, addr: testkit.FreeAddr(t)}
	ag.startReady()
	testkit.Eventually(t, 10*time.Second, func() error {
		v, err := queryValue(ag.url(), `sum(dandan_watch_lines_read_total{job="soak"})`)
		if err == nil && v <= 0 {
			err = errors.New("no commit yet")
		}
		return err
	})
	writers.Go(func() { w.rotateLoop(ctx) })
	for i := range soakKills {
		if i > 0 {
			ag.start()
		}
		life := soakMinLife + time.Duration(rng.Int64N(int64(soakMaxLife-soakMinLife)+1))
		if exited := ag.killAfter(life); exited {
			t.Fatalf("run %d: dandan watch exited before its SIGKILL\n%s", i+1, ag.logTail())
		}
		down := time.NewTimer(time.Duration(rng.Int64N(int64(soakMaxDown) + 1)))
		<-down.C
	}
	stopWriter()
	writers.Wait()
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
	out := ag.output()
	t.Logf("written: %d lines (%d invalid), %d rotations (%d by rename, %d by copytruncate); of %d starts, %d restored a commit, %d resumed in a rotated file, %d read files rotated while stopped",
		w.n, w.invalid, w.renames+w.copies, w.renames, w.copies, soakKills, strings.Count(out, "restored counts and file positions"),
		strings.Count(out, "resuming in rotated file"), strings.Count(out, "reading file rotated while not followed"))

	// The last run reads what is left.
	catchUp := time.Now()
	ag.startReady()
	want := map[string]float64{
		`sum(http_requests_total{job="soak"}) + sum(dandan_log_lines_invalid_total{job="soak"})`: float64(w.n),
		`sum(dandan_log_lines_invalid_total{job="soak"})`:                                        float64(w.invalid),
		`sum(http_request_duration_seconds_count{job="soak"})`:                                   float64(w.n - w.invalid),
		`sum(http_response_bytes_total{job="soak"})`:                                             float64(w.bytes),
	}
	for st, n := range w.byStatus {
		want[`sum(http_requests_total{job="soak",status="`+st+`"})`] = float64(n)
	}
	check := func() error {
		var bad []string
		for q, v := range want {
			got, err := queryValue(ag.url(), q)
			if err != nil {
				return err
			}
			if got != v {
				bad = append(bad, fmt.Sprintf("%s = %v, want %v (%+v)", q, got, v, got-v))
			}
		}
		if len(bad) > 0 {
			return errors.New(strings.Join(bad, "\n"))
		}
		return nil
	}
	if err := pollUntil(20*time.Second, check); err != nil {
		t.Fatalf("after %d SIGKILLs:\n%v\n%s", soakKills, err, ag.warnings())
	}
	t.Logf("the last run counted every line %.1fs after its start", time.Since(catchUp).Seconds())
	// Nothing comes in late: the rotated files are finished, none is read
	// again.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for range 10 {
		<-tick.C
		if err := check(); err != nil {
			t.Fatalf("after matching, the counts moved:\n%v\n%s", err, ag.warnings())
		}
	}
	if ws := ag.warnings(); ws != "" {
		t.Logf("the agent warned (counts were exact nonetheless):\n%s", ws)
	}
	if code := ag.term(15 * time.Second); code != 0 {
		t.Fatalf("dandan watch exited %d after SIGTERM, want 0\n%s", code, ag.logTail())
	}
}

// soakWriter appends numbered media-format lines to path at soakRate and
// rotates path like logrotate.
type soakWriter struct {
	path string

	mu       sync.Mutex // held by every write and by a rotation
	f        *os.File   // where lines go: path, or the file renamed from it until the reopen
	reopenAt time.Time  // after a rename: when to reopen path; zero when done
	n        int        // lines written
	invalid  int        // of which not in the format
	bytes    int64      // $bytes_sent summed over the valid lines
	byStatus map[string]int
	gz       int // the highest N of path.N.gz
	renames  int
	copies   int
	err      error // the first error
}

func newSoakWriter(path string) (*soakWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &soakWriter{path: path, f: f, byStatus: map[string]int{}}, nil
}

// soakLine appends line i to b. About 1% of the lines are not in the
// format; the others have status 200, 404 or 500.
func soakLine(b []byte, i int) (out []byte, status string, bytesSent int) {
	if i%97 == 41 {
		return fmt.Appendf(b, "garbage %d: not an access-log line\n", i), "", 0
	}
	status = "200"
	switch i % 10 {
	case 7, 8:
		status = "404"
	case 9:
		status = "500"
	}
	bytesSent = 100 + i%900
	return fmt.Appendf(b, "\"10.0.%d.%d\" \"-\" [25/Nov/2026:10:00:00 +0000] \"GET /a/%d HTTP/1.1\" %s %d 0.%03d \"-\" \"soak\"\n",
		i%7, i%250, i, status, bytesSent, i%1000), status, bytesSent
}

// run writes at soakRate until ctx is done.
func (w *soakWriter) run(ctx context.Context) {
	start := time.Now()
	tick := time.NewTicker(4 * time.Millisecond)
	defer tick.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			w.mu.Lock()
			w.f.Close()
			w.mu.Unlock()
			return
		case <-tick.C:
		}
		due := int(time.Since(start).Seconds() * soakRate)
		w.mu.Lock()
		if err := w.write(buf, min(due-w.n, 2000)); err != nil && w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
}

// write writes k lines in two write calls, the first ending mid-line, so
// that the reader sees partial lines. w.mu is held.
func (w *soakWriter) write(buf []byte, k int) error {
	if !w.reopenAt.IsZero() && !time.Now().Before(w.reopenAt) {
		if err := w.reopen(); err != nil {
			return err
		}
	}
	if k <= 0 {
		return nil
	}
	buf = buf[:0]
	for range k {
		var st string
		var b int
		buf, st, b = soakLine(buf, w.n)
		if st == "" {
			w.invalid++
		} else {
			w.byStatus[st]++
			w.bytes += int64(b)
		}
		w.n++
	}
	cut := len(buf) / 2
	if _, err := w.f.Write(buf[:cut]); err != nil {
		return err
	}
	_, err := w.f.Write(buf[cut:])
	return err
}

// reopen makes the writer write to the file at path again. w.mu is held.
func (w *soakWriter) reopen() error {
	w.reopenAt = time.Time{}
	w.f.Close()
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	w.f = f
	return nil
}

// rotateLoop rotates every soakRotateEvery until ctx is done.
func (w *soakWriter) rotateLoop(ctx context.Context) {
	tick := time.NewTicker(soakRotateEvery)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.mu.Lock()
		if err := w.rotate(n%2 == 0); err != nil && w.err == nil {
			w.err = fmt.Errorf("rotation %d: %w", n+1, err)
		}
		w.mu.Unlock()
	}
}

// rotate rotates path as logrotate does with compress, delaycompress and
// no maximum count (a rotated file is never deleted, so none the agent
// still needs goes): path.N.gz becomes path.N+1.gz, path.1 is compressed
// to path.2.gz keeping its modification time (as gzip does), and path
// becomes path.1, either by rename (and a new empty path, which the
// writer reopens soakReopenAfter later) or by copytruncate.
//
// The copytruncate runs with the writer paused (w.mu held): a line
// written between the copy and the truncation would be lost, by the
// rotation and not by the reader — the window logrotate's copytruncate
// users accept. w.mu is held.
func (w *soakWriter) rotate(byRename bool) error {
	if !w.reopenAt.IsZero() {
		if err := w.reopen(); err != nil {
			return err
		}
	}
	p := w.path
	for i := w.gz; i >= 2; i-- {
		if err := os.Rename(p+"."+strconv.Itoa(i)+".gz", p+"."+strconv.Itoa(i+1)+".gz"); err != nil {
			return err
		}
	}
	if w.gz >= 2 {
		w.gz++
	}
	if _, err := os.Stat(p + ".1"); err == nil {
		if err := gzipFile(p+".1", p+".2.gz", filepath.Join(filepath.Dir(p), "compressing.tmp")); err != nil {
			return err
		}
		w.gz = max(w.gz, 2)
	}
	if byRename {
		w.renames++
		if err := os.Rename(p, p+".1"); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		w.reopenAt = time.Now().Add(soakReopenAfter)
		return f.Close()
	}
	w.copies++
	in, err := os.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(p+".1", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Truncate(p, 0)
}

// gzipFile compresses src to dst through tmp, so that dst appears whole,
// gives dst src's modification time (see soakKeepGzMtime), and removes
// src.
func gzipFile(src, dst, tmp string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		out.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if soakKeepGzMtime {
		if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return os.Remove(src)
}

// soakAgent runs `dandan watch` on the soak log, one process at a time,
// all of them on the same data directory and log file.
type soakAgent struct {
	t       *testing.T
	bin     string
	dir     string // data_dir is dir/data; the config and the log are in dir
	logFile string // the tailed file
	addr    string // server.listen

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

func (a *soakAgent) url() string     { return "http://" + a.addr }
func (a *soakAgent) logPath() string { return filepath.Join(a.dir, "dandan.log") }

// start starts `dandan watch` with a fresh config.
func (a *soakAgent) start() {
	t := a.t
	t.Helper()
	conf := filepath.Join(a.dir, "dandan.yaml")
	text := fmt.Sprintf(`data_dir: %s
server:
  listen: %s
  access_log: false
auth:
  loopback_role: viewer
  login_link: false
store:
  metrics:
    enabled: true
watch:
  interval: 100ms
  host: {enabled: false}
  demo: {enabled: false}
  jobs:
    - name: soak
      files: [%s]
      format: media-nginx
      from_start: true
  outputs:
    store: true
`, filepath.Join(a.dir, "data"), a.addr, a.logFile)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(a.logPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== start at %s\n", time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(a.bin, "watch", "--config", conf)
	cmd.Dir = a.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	a.cmd, a.done = cmd, done
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
}

// killAfter waits life, then kills the process with SIGKILL and waits for
// it; it reports whether the process had exited by itself before. A
// process that could not listen is started again on another port.
func (a *soakAgent) killAfter(life time.Duration) (exited bool) {
	timer := time.NewTimer(life)
	defer timer.Stop()
	select {
	case <-a.done:
		if strings.Contains(strings.ToLower(a.logTail()), "address already in use") {
			a.addr = testkit.FreeAddr(a.t)
			a.start()
			return a.killAfter(life)
		}
		return true
	case <-timer.C:
	}
	syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	<-a.done
	return false
}

// startReady starts the process and waits until its API answers.
func (a *soakAgent) startReady() {
	t := a.t
	for attempt := 1; ; attempt++ {
		a.start()
		err := pollUntil(30*time.Second, func() error {
			select {
			case <-a.done:
				return errExited
			default:
			}
			_, err := queryValue(a.url(), "1")
			return err
		})
		if err == nil {
			return
		}
		if errors.Is(err, errExited) && attempt < 3 && strings.Contains(strings.ToLower(a.logTail()), "address already in use") {
			a.addr = testkit.FreeAddr(t)
			continue
		}
		t.Fatalf("dandan watch did not start: %v\n%s", err, a.logTail())
	}
}

var errExited = errors.New("the process exited")

// term sends SIGTERM and returns the exit code, or -1 when the process
// has not exited within timeout.
func (a *soakAgent) term(timeout time.Duration) int {
	syscall.Kill(a.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(timeout):
		return -1
	}
	return a.cmd.ProcessState.ExitCode()
}

// output returns the processes' output so far.
func (a *soakAgent) output() string {
	b, _ := os.ReadFile(a.logPath())
	return string(b)
}

// logTail returns the end of the processes' output.
func (a *soakAgent) logTail() string {
	s := a.output()
	if len(s) > 6000 {
		s = s[len(s)-6000:]
	}
	return s
}

// warnings returns the lines of the processes' output at level WARN or
// ERROR, which say what the reader could not follow, but for the
// expected ones.
func (a *soakAgent) warnings() string {
	var out []string
	for line := range strings.Lines(a.output()) {
		if strings.Contains(line, `msg="invalid line"`) || strings.Contains(line, "lockfile from a previous execution") {
			continue // expected: the garbage lines, the store's lock after a SIGKILL
		}
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	if len(out) > 60 {
		out = append(out[:60], fmt.Sprintf("… and %d more", len(out)-60))
	}
	return strings.Join(out, "\n")
}

// pollUntil calls cond until it returns nil, returns errExited at once,
// or timeout passes.
func pollUntil(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || errors.Is(err, errExited) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(20 * time.Millisecond)
		<-t.C
	}
}

// apiSeries is one series of a Prometheus HTTP API query answer: a vector
// sample (Value) or a matrix series (Values).
type apiSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]json.Number    `json:"value"`
	Values [][2]json.Number  `json:"values"`
}

// queryAPI runs an instant query on the Prometheus HTTP API at base
// (dandan's or Prometheus's) and returns its series; a scalar answer is
// one series without labels.
func queryAPI(base, q string) ([]apiSeries, error) { return queryAPIAt(base, q, time.Time{}) }

// queryAPIAt is queryAPI evaluated at the time at, unless it is zero.
func queryAPIAt(base, q string, at time.Time) ([]apiSeries, error) {
	c := http.Client{Timeout: 10 * time.Second}
	params := url.Values{"query": {q}}
	if !at.IsZero() {
		params.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	resp, err := c.Get(base + "/api/v1/query?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		return nil, fmt.Errorf("%s: %s: %s", q, resp.Status, body)
	}
	if r.Data.ResultType == "scalar" {
		var v [2]json.Number
		if err := json.Unmarshal(r.Data.Result, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
		return []apiSeries{{Value: v}}, nil
	}
	var out []apiSeries
	if err := json.Unmarshal(r.Data.Result, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	return out, nil
}

// queryValue returns the single value of an instant query at base, or -1
// when the answer is empty.
func queryValue(base, q string) (float64, error) {
	ss, err := queryAPI(base, q)
	if err != nil {
		return 0, err
	}
	switch len(ss) {
	case 0:
		return -1, nil
	case 1:
		return strconv.ParseFloat(ss[0].Value[1].String(), 64)
	}
	return 0, fmt.Errorf("%s: %d series", q, len(ss))
}
