package tail

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPoll is the poll interval of the tests.
const testPoll = 10 * time.Millisecond

// logWriter appends numbered lines "tag n" to a log file, as a program
// writing its log does (open, append, close), and remembers them.
type logWriter struct {
	t    testing.TB
	path string
	tag  string

	mu    sync.Mutex // guards n and lines
	n     int
	lines []string
}

func newWriter(t testing.TB, path, tag string) *logWriter {
	return &logWriter{t: t, path: path, tag: tag}
}

// write appends k lines.
func (w *logWriter) write(k int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b bytes.Buffer
	for range k {
		w.n++
		l := w.tag + " " + strconv.Itoa(w.n)
		w.lines = append(w.lines, l)
		b.WriteString(l + "\n")
	}
	w.append(b.Bytes())
}

// partial appends the start of the next line, without its end.
func (w *logWriter) partial() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.append([]byte(w.tag + " " + strconv.Itoa(w.n+1)))
}

// end ends the line partial began.
func (w *logWriter) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	w.lines = append(w.lines, w.tag+" "+strconv.Itoa(w.n))
	w.append([]byte("\n"))
}

// unterminated writes a line without its '\n' that the follower must give
// as a line once the file is rotated away.
func (w *logWriter) unterminated() {
	w.partial()
	w.mu.Lock()
	w.n++
	w.lines = append(w.lines, w.tag+" "+strconv.Itoa(w.n))
	w.mu.Unlock()
}

func (w *logWriter) append(b []byte) {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Error(err)
		return
	}
	if _, err := f.Write(b); err != nil {
		w.t.Error(err)
	}
	if err := f.Close(); err != nil {
		w.t.Error(err)
	}
}

// written returns the lines written so far.
func (w *logWriter) written() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lines)
}

// reader reads a Follower and keeps, as a caller does, the lines of each
// chunk and its position.
type reader struct {
	t       testing.TB
	opts    Options
	f       *Follower
	lines   []string
	skipped int
	pos     map[string]Position
	log     *bytes.Buffer
}

// newReader starts a Follower of globs with opts, polling every testPoll.
func newReader(t testing.TB, opts Options, globs ...string) *reader {
	t.Helper()
	opts.Globs = globs
	if opts.PollInterval == 0 {
		opts.PollInterval = testPoll
	}
	r := &reader{t: t, opts: opts, pos: map[string]Position{}, log: &bytes.Buffer{}}
	r.opts.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: r.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.start()
	t.Cleanup(func() { r.f.Close() })
	return r
}

// start makes a new Follower from the positions committed.
func (r *reader) start() {
	r.t.Helper()
	var cps []Position
	for _, p := range r.pos {
		cps = append(cps, p)
	}
	f, err := New(r.opts, cps)
	if err != nil {
		r.t.Fatal(err)
	}
	r.f = f
}

// restart closes the Follower and starts a new one from the positions
// committed, as after a crash.
func (r *reader) restart() {
	r.t.Helper()
	if err := r.f.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.start()
}

// next reads one chunk, waiting at most d; ok is false when none came.
func (r *reader) next(d time.Duration) (Chunk, bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c, err := r.f.Next(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return c, false
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.commit(c)
	return c, true
}

// commit counts the lines of c and keeps its position.
func (r *reader) commit(c Chunk) {
	r.t.Helper()
	if len(c.Data) > 0 && c.Data[len(c.Data)-1] != '\n' {
		r.t.Fatalf("chunk of %s does not end in a newline: %q", c.From, c.Data)
	}
	for l := range strings.SplitSeq(strings.TrimSuffix(string(c.Data), "\n"), "\n") {
		if len(c.Data) > 0 {
			r.lines = append(r.lines, l)
		}
	}
	r.skipped += c.Skipped
	r.pos[c.Pos.Path] = c.Pos
}

// read reads chunks until it has n lines in all, failing after 10s.
func (r *reader) read(n int) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.lines) < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("read %d lines, want %d; log:\n%s", len(r.lines), n, r.log)
		}
		r.next(time.Until(deadline))
	}
}

// idle checks that no line comes for a few polls.
func (r *reader) idle() {
	r.t.Helper()
	if c, ok := r.next(8 * testPoll); ok {
		r.t.Fatalf("unexpected chunk from %s: %q (skipped %d)", c.From, c.Data, c.Skipped)
	}
}

// check checks that the lines read are exactly the lines written, each once
// and in order per writer, and that no more come.
func (r *reader) check(ws ...*logWriter) {
	r.t.Helper()
	r.idle()
	var want []string
	for _, w := range ws {
		want = append(want, w.written()...)
	}
	r.checkLines(want)
}

// checkLines checks that the lines read are want, in want's order per tag.
func (r *reader) checkLines(want []string) {
	r.t.Helper()
	got := map[string][]string{}
	for _, l := range r.lines {
		tag, _, _ := strings.Cut(l, " ")
		got[tag] = append(got[tag], l)
	}
	exp := map[string][]string{}
	for _, l := range want {
		tag, _, _ := strings.Cut(l, " ")
		exp[tag] = append(exp[tag], l)
	}
	for tag := range joinKeys(got, exp) {
		if g, w := got[tag], exp[tag]; !slices.Equal(g, w) {
			r.t.Errorf("lines of %q: got %d, want %d; %s\nlog:\n%s", tag, len(g), len(w), diffLines(g, w), r.log)
		}
	}
}

func joinKeys(a, b map[string][]string) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// diffLines says where got first differs from want, and what is missing
// or repeated.
func diffLines(got, want []string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	var missing, dup []string
	for _, l := range want {
		if seen[l] == 0 {
			missing = append(missing, l)
		}
	}
	for l, n := range seen {
		if n > 1 {
			dup = append(dup, l)
		}
	}
	at := func(s []string) string {
		if i < len(s) {
			return s[i]
		}
		return "(end)"
	}
	return fmt.Sprintf("first difference at %d: got %q, want %q; missing %d %.10q; repeated %d %.10q",
		i, at(got), at(want), len(missing), missing, len(dup), dup)
}

// syncWriter makes a writer safe for concurrent use.
type syncWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// rename renames a file, marking the test failed on error.
func rename(t testing.TB, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Error(err)
		return
	}
}

// copyTruncate copies path to dst, then truncates path, as logrotate's
// copytruncate does.
func copyTruncate(t testing.TB, path, dst string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Error(err)
		return
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Error(err)
		return
	}
}

// gzipFile compresses path to path.gz and removes path, keeping its
// modification time, as gzip does.
func gzipFile(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Error(err)
		return
	}
	if err := os.WriteFile(path+".gz", z.Bytes(), 0o644); err != nil {
		t.Error(err)
		return
	}
	if err := os.Chtimes(path+".gz", fi.ModTime(), fi.ModTime()); err != nil {
		t.Error(err)
		return
	}
	if err := os.Remove(path); err != nil {
		t.Error(err)
		return
	}
}

// setMtime sets the modification time of path to ago before now, so that
// tests do not depend on the file system's clock granularity.
func setMtime(t testing.TB, path string, ago time.Duration) {
	t.Helper()
	m := time.Now().Add(-ago)
	if err := os.Chtimes(path, m, m); err != nil {
		t.Error(err)
		return
	}
}

// logPath returns the path of a log named name in a new temporary directory.
func logPath(t testing.TB, name string) string {
	return filepath.Join(t.TempDir(), name)
}
