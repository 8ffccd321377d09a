package opentsdb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// tsd is a loopback TCP server standing in for OpenTSDB: serve handles
// connection n (from 1); lines read are kept per connection.
type tsd struct {
	ln    net.Listener
	serve func(n int, c net.Conn, r *bufio.Reader, keep func(line string))
	wg    sync.WaitGroup

	mu    sync.Mutex // guards the fields below
	lines [][]string // by connection
	conns []net.Conn
}

// startTSD listens on addr ("127.0.0.1:0" for any port).
func startTSD(t *testing.T, addr string, serve func(n int, c net.Conn, r *bufio.Reader, keep func(string))) *tsd {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &tsd{ln: ln, serve: serve}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *tsd) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.lines = append(s.lines, nil)
		s.conns = append(s.conns, c)
		n := len(s.lines)
		s.mu.Unlock()
		keep := func(line string) {
			s.mu.Lock()
			s.lines[n-1] = append(s.lines[n-1], line)
			s.mu.Unlock()
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.serve(n, c, bufio.NewReader(c), keep)
		}()
	}
}

func (s *tsd) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// got returns the lines of each connection so far.
func (s *tsd) got() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]string, len(s.lines))
	for i, l := range s.lines {
		out[i] = append([]string(nil), l...)
	}
	return out
}

// readAll keeps every line until the connection ends.
func readAll(n int, c net.Conn, r *bufio.Reader, keep func(string)) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		keep(line)
	}
}

// hasLines returns a condition: connection n (from 1) got want lines.
func (s *tsd) hasLines(n, want int) func() error {
	return func() error {
		got := s.got()
		if len(got) < n {
			return fmt.Errorf("%d connections, want %d", len(got), n)
		}
		if len(got[n-1]) != want {
			return fmt.Errorf("connection %d: %d lines, want %d", n, len(got[n-1]), want)
		}
		return nil
	}
}

func newTestSender(t *testing.T, addr string, log *slog.Logger) (*Sender, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	s := New(Config{Name: "test", Addr: addr, Timeout: 5 * time.Second}, reg, log)
	t.Cleanup(func() { s.Close() })
	return s, reg
}

// counter returns the value of a counter labelled output="test" and pairs.
func counter(t *testing.T, reg *prometheus.Registry, name string, pairs ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"output": "test"}
	for i := 0; i < len(pairs); i += 2 {
		want[pairs[i]] = pairs[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

func sample(t int64, v float64, nameValues ...string) metricstore.Sample {
	return metricstore.Sample{Labels: metricstore.FromStrings(nameValues...), T: t, V: v}
}

// linesOf returns the lines of samples, as Line writes them.
func linesOf(samples []metricstore.Sample) []string {
	var out []string
	for _, s := range samples {
		if l := Line(nil, s); len(l) > 0 {
			out = append(out, string(l))
		}
	}
	return out
}

func equalLines(a, b []string) bool {
	return strings.Join(a, "") == strings.Join(b, "") && len(a) == len(b)
}

func TestSend(t *testing.T) {
	srv := startTSD(t, "127.0.0.1:0", readAll)
	s, reg := newTestSender(t, srv.ln.Addr().String(), nil)
	batch1 := []metricstore.Sample{
		sample(1700000000000, 1, "__name__", "http_requests_total", "job", "web", "code", "200"),
		sample(1700000000000, 0.25, "__name__", "load1", "job", "host"),
		sample(1700000000000, nanValue(), "__name__", "broken", "job", "host"),
		sample(1700000000500, inf(), "__name__", "broken", "job", "host"),
		sample(1700000000000, 1, "__name__", "lonely"),
	}
	batch2 := []metricstore.Sample{
		sample(1700000015250, 3, "__name__", "http_requests_total", "job", "web", "code", "200"),
	}
	for _, b := range [][]metricstore.Sample{batch1, batch2} {
		if err := s.Send(t.Context(), b); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	want := []string{
		"put http_requests_total 1700000000 1 code=200 job=web\n",
		"put load1 1700000000 0.25 job=host\n",
		"put http_requests_total 1700000015250 3 code=200 job=web\n",
	}
	testkit.Eventually(t, 5*time.Second, srv.hasLines(1, len(want)))
	got := srv.got()
	if len(got) != 1 {
		t.Errorf("%d connections, want 1 (persistent)", len(got))
	}
	if !equalLines(got[0], want) {
		t.Errorf("got %q\nwant %q", got[0], want)
	}
	for _, c := range []struct {
		name  string
		pairs []string
		want  float64
	}{
		{"dandan_opentsdb_samples_sent_total", nil, 3},
		{"dandan_opentsdb_errors_total", nil, 0},
		{"dandan_opentsdb_samples_skipped_total", []string{"reason", "non_finite"}, 2},
		{"dandan_opentsdb_samples_skipped_total", []string{"reason", "no_tags"}, 1},
	} {
		if got := counter(t, reg, c.name, c.pairs...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.pairs, got, c.want)
		}
	}
	// A batch of only skipped samples writes nothing.
	if err := s.Send(t.Context(), batch1[2:4]); err != nil {
		t.Fatal(err)
	}
}

func nanValue() float64 { var z float64; return z / z }
func inf() float64      { return 1 / func() float64 { return 0 }() }

// bigBatch returns n samples, far more bytes than the socket buffers hold,
// so that a server that stops reading makes the write fail or block.
func bigBatch(n int) []metricstore.Sample {
	out := make([]metricstore.Sample, n)
	for i := range out {
		out[i] = sample(1700000000000+int64(i), float64(i), "__name__", "bulk_metric_with_a_long_name", "job", "web",
			"instance", "host-0001.example.com:9100", "series", fmt.Sprint(i%1000))
	}
	return out
}

// TestSendServerClosesMidStream: the server reads some lines of a batch and
// closes; Send reconnects and writes the whole batch again.
func TestSendServerClosesMidStream(t *testing.T) {
	srv := startTSD(t, "127.0.0.1:0", func(n int, c net.Conn, r *bufio.Reader, keep func(string)) {
		if n == 1 {
			for range 100 {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				keep(line)
			}
			return // closes with unread data: the client sees a reset
		}
		readAll(n, c, r, keep)
	})
	s, reg := newTestSender(t, srv.ln.Addr().String(), nil)
	batch := bigBatch(100_000)
	if err := s.Send(t.Context(), batch); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := linesOf(batch)
	testkit.Eventually(t, 20*time.Second, srv.hasLines(2, len(want)))
	got := srv.got()
	if len(got) != 2 || !equalLines(got[0], want[:100]) || !equalLines(got[1], want) {
		t.Errorf("got %d connections; the second did not receive the whole batch in order", len(got))
	}
	if e := counter(t, reg, "dandan_opentsdb_errors_total"); e != 1 {
		t.Errorf("errors %v, want 1", e)
	}
	if sent := counter(t, reg, "dandan_opentsdb_samples_sent_total"); sent != float64(len(batch)) {
		t.Errorf("sent %v, want %d", sent, len(batch))
	}
}

// TestSendServerClosedIdle: the server closes the connection between two
// batches; the second goes whole on a new connection.
func TestSendServerClosedIdle(t *testing.T) {
	closeNow, closed := make(chan struct{}), make(chan struct{})
	srv := startTSD(t, "127.0.0.1:0", func(n int, c net.Conn, r *bufio.Reader, keep func(string)) {
		if n == 1 {
			line, _ := r.ReadString('\n')
			keep(line)
			<-closeNow
			c.Close()
			close(closed)
			return
		}
		readAll(n, c, r, keep)
	})
	s, reg := newTestSender(t, srv.ln.Addr().String(), nil)
	first := []metricstore.Sample{sample(1000, 1, "__name__", "a", "job", "x")}
	if err := s.Send(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	close(closeNow)
	<-closed
	second := []metricstore.Sample{sample(2000, 2, "__name__", "a", "job", "x"), sample(2000, 3, "__name__", "b", "job", "x")}
	if err := s.Send(t.Context(), second); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, srv.hasLines(2, 2))
	if got := srv.got(); !equalLines(got[0], linesOf(first)) || !equalLines(got[1], linesOf(second)) {
		t.Errorf("got %q", got)
	}
	if sent := counter(t, reg, "dandan_opentsdb_samples_sent_total"); sent != 3 {
		t.Errorf("sent %v, want 3", sent)
	}
}

// TestSendErrorReply: an error line of the server is logged and counted,
// and the batch is not sent again.
func TestSendErrorReply(t *testing.T) {
	srv := startTSD(t, "127.0.0.1:0", func(n int, c net.Conn, r *bufio.Reader, keep func(string)) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			keep(line)
			if strings.Contains(line, "bad") {
				fmt.Fprintf(c, "put: illegal argument: Invalid metric name (\"bad\")\n")
			}
		}
	})
	var logs bytes.Buffer
	s, reg := newTestSender(t, srv.ln.Addr().String(), slog.New(slog.NewTextHandler(&logs, nil)))
	batch := []metricstore.Sample{sample(1000, 1, "__name__", "good", "job", "x"), sample(1000, 1, "__name__", "bad", "job", "x")}
	if err := s.Send(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	// The reply may come after Send's short wait; the next Send reads it.
	if counter(t, reg, "dandan_opentsdb_errors_total") == 0 {
		if err := s.Send(t.Context(), batch[:1]); err != nil {
			t.Fatal(err)
		}
	}
	if e := counter(t, reg, "dandan_opentsdb_errors_total"); e != 1 {
		t.Errorf("errors %v, want 1", e)
	}
	if !strings.Contains(logs.String(), `msg="opentsdb server refused a line" addr=`) ||
		!strings.Contains(logs.String(), `err="put: illegal argument: Invalid metric name (\"bad\")"`) {
		t.Errorf("log: %s", logs.String())
	}
	if got := srv.got(); len(got) != 1 {
		t.Errorf("%d connections, want 1", len(got))
	}
}

// TestSendReconnects: the server is down at first; Send retries with
// backoff and writes once it is up.
func TestSendReconnects(t *testing.T) {
	addr := testkit.FreeAddr(t)
	s, reg := newTestSender(t, addr, nil)
	batch := []metricstore.Sample{sample(1000, 1, "__name__", "a", "job", "x")}

	// While nothing listens, Send gives up when its context ends.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := s.Send(ctx, batch)
	// The last failure is "connection refused", or the dial's own
	// timeout when the context ends during it (a busy machine).
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") && !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("Send: %v", err)
	}
	if e := counter(t, reg, "dandan_opentsdb_errors_total"); e < 1 {
		t.Errorf("errors %v, want at least one failed try", e)
	}

	done := make(chan error, 1)
	go func() { done <- s.Send(t.Context(), batch) }()
	before := counter(t, reg, "dandan_opentsdb_errors_total")
	testkit.Eventually(t, 5*time.Second, func() error {
		if e := counter(t, reg, "dandan_opentsdb_errors_total"); e < before+2 {
			return fmt.Errorf("errors %v", e)
		}
		return nil
	})
	srv := startTSD(t, addr, readAll)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, srv.hasLines(1, 1))
	if sent := counter(t, reg, "dandan_opentsdb_samples_sent_total"); sent != 1 {
		t.Errorf("sent %v", sent)
	}
}

// TestSendCancelBlockedWrite: a server that does not read blocks the
// write; cancelling the context ends Send at once.
func TestSendCancelBlockedWrite(t *testing.T) {
	release := make(chan struct{})
	srv := startTSD(t, "127.0.0.1:0", func(n int, c net.Conn, r *bufio.Reader, keep func(string)) {
		if n == 1 {
			<-release
			return
		}
		readAll(n, c, r, keep)
	})
	defer close(release)
	s, _ := newTestSender(t, srv.ln.Addr().String(), nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, bigBatch(200_000)) }()
	testkit.Eventually(t, 5*time.Second, func() error {
		if len(srv.got()) == 0 {
			return errors.New("not connected")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send still blocked 5s after the cancel")
	}
	// The next batch goes whole on a new connection.
	batch := []metricstore.Sample{sample(1000, 1, "__name__", "a", "job", "x")}
	if err := s.Send(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, srv.hasLines(2, 1))
}
