package logs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/logs/format"
)

// refParse is `logs parse` as it was before the pipeline: one goroutine
// reading lines with a bufio.Reader, Aggregator.Line for each, and the
// writers of that time (ref_writers_test.go). It returns stdout, stderr
// (rate line made stable) and the error.
func refParse(t *testing.T, o *parseOptions, files []string, stdin []byte) (string, string, error) {
	t.Helper()
	fmtc, err := format.Compile(o.format.spec, format.Options{JSONFields: o.jsonFields.m})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	out := bufio.NewWriterSize(&stdout, 256<<10)
	w, err := newRefWriter(o.output.kind, out, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Job, cfg.Format, cfg.Rules, cfg.AutoTemplate = o.job, fmtc, o.rules.rules, !o.noAuto
	cfg.MaxPaths, cfg.Buckets, cfg.Referers, cfg.MaxReferers = o.maxPaths, o.buckets.b, o.referers, o.maxRefs
	cfg.TopClients = max(1000, 10*o.topIPs)
	if o.topIPs == 0 {
		cfg.TopClients = 0
	}
	cfg.Emit = w.batch
	agg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.header(cfg.Referers)
	var read atomic.Int64
	var samples []string
	var runErr error
	for _, name := range files {
		if runErr = refParseFile(name, bytes.NewReader(stdin), agg, &read, &samples, o.strict); runErr != nil {
			break
		}
	}
	if err := agg.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	out.Flush()
	summary(&stderr, agg, samples, o.topIPs, o.maxPaths, time.Second)
	return stdout.String(), rateLine.ReplaceAllString(stderr.String(), "rate: N lines/s"), runErr
}

func refParseFile(name string, stdin io.Reader, agg *Aggregator, read *atomic.Int64, samples *[]string, strict bool) error {
	var r io.Reader
	display := name
	if name == "-" {
		r, display = stdin, "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	r = &countingReader{r: r, n: read}
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", display, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	lr := refLineReader{r: br}
	for n := 1; ; n++ {
		line, long, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", display, err)
		}
		var reason error
		if long {
			agg.SkipLine()
			reason = fmt.Errorf("line longer than %d bytes", maxLine)
		} else if !agg.Line(line) {
			reason = agg.Err()
		}
		if reason != nil {
			if strict {
				return fmt.Errorf("%s:%d: %w", display, n, reason)
			}
			if len(*samples) < invalidSamples {
				*samples = append(*samples, fmt.Sprintf("%s:%d: %v", display, n, reason))
			}
		}
	}
}

type refLineReader struct {
	r   *bufio.Reader
	buf []byte
}

func (l *refLineReader) next() (line []byte, long bool, err error) {
	l.buf = l.buf[:0]
	for {
		b, err := l.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(l.buf)+len(b) > maxLine {
				long = true
			} else {
				l.buf = append(l.buf, b...)
			}
			continue
		}
		if err != nil && (err != io.EOF || len(b) == 0 && len(l.buf) == 0) {
			return nil, false, err
		}
		if long || len(l.buf)+len(b) > maxLine+1 {
			return nil, true, nil
		}
		if len(l.buf) > 0 {
			l.buf = append(l.buf, b...)
			b = l.buf
		}
		b = bytes.TrimSuffix(b, []byte{'\n'})
		b = bytes.TrimSuffix(b, []byte{'\r'})
		return b, false, nil
	}
}

// pipelineLog returns a generated media-nginx log of n lines with 10%
// garbage, and the lines that trouble a reader: CRLF and empty lines,
// lines just under, at and over maxLine, lines back in time, a target
// with no path, a malformed request line, and no newline at the end.
func pipelineLog(n, perSec int) []byte {
	var b bytes.Buffer
	genLog(&b, n, 5, 0.1, time.Date(2025, 11, 24, 0, 0, 0, 0, time.UTC), perSec, 3000)
	lines := bytes.SplitAfter(b.Bytes(), []byte{'\n'})
	valid := func(target, extra string) string {
		return `"10.1.2.3" "-" [24/Nov/2025:09:00:01 +0900] "GET ` + target + ` HTTP/1.1" 200 5 0.004 "https://r.example/x" "` + extra + "\"\n"
	}
	long := func(size int) string { // a valid line of size bytes with its newline
		l := valid("/long", "")
		return valid("/long", strings.Repeat("a", size-len(l)))
	}
	odd := []string{
		"\n",
		strings.TrimSuffix(valid("/crlf/1", ""), "\n") + "\r\n",
		long(maxLine),
		long(maxLine + 1),
		long(maxLine + 2),
		long(3 * maxLine),
		valid("http://example.com", ""),
		`"10.1.2.3" "-" [24/Nov/2025:09:00:01 +0900] "-" 400 0 0.000 "-" "-"` + "\n",
		valid("?q=1", ""),
		"\n",
	}
	var out []byte
	next := 0
	for i, l := range lines {
		if next < len(odd) && i == (next+1)*len(lines)/(len(odd)+1) {
			out = append(out, odd[next]...)
			next++
		}
		out = append(out, l...)
	}
	// no newline at the end
	return append(out, strings.TrimSuffix(valid("/last/123", "end"), "\n")...)
}

// TestPipelineMatchesReference: `logs parse` gives byte for byte the
// output, summary and error of the sequential reference, over inputs that
// span many chunks, for every output kind and with the options that
// change how lines are counted.
func TestPipelineMatchesReference(t *testing.T) {
	n := 60_000
	if raceEnabled {
		n = 15_000
	}
	dir := t.TempDir()
	log := pipelineLog(n, 37)
	plain := filepath.Join(dir, "access.log")
	if err := os.WriteFile(plain, log, 0o644); err != nil {
		t.Fatal(err)
	}
	// 400 lines a second: batches large enough to go to the output in parts.
	denseLog := pipelineLog(n/2, 400)
	dense := filepath.Join(dir, "dense.log")
	if err := os.WriteFile(dense, denseLog, 0o644); err != nil {
		t.Fatal(err)
	}
	if most := mostBatchLines(t, denseLog); most <= jobLines {
		t.Fatalf("the dense log's largest batch makes %d lines, not over a job's worth", most)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(log[:len(log)/3])
	zw.Close()
	gzFile := filepath.Join(dir, "access.log.1.gz")
	if err := os.WriteFile(gzFile, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin := log[len(log)/2:]

	type tc struct {
		name  string
		files []string
		set   func(o *parseOptions)
	}
	var cases []tc
	for _, kind := range Outputs() {
		cases = append(cases,
			tc{kind, []string{plain}, func(o *parseOptions) { o.output.kind = kind }},
			tc{kind + "/referers+files", []string{gzFile, plain, "-"}, func(o *parseOptions) { o.output.kind, o.referers = kind, true }},
			tc{kind + "/dense", []string{dense}, func(o *parseOptions) { o.output.kind, o.referers = kind, true }})
	}
	cases = append(cases,
		tc{"rules", []string{plain}, func(o *parseOptions) {
			o.output.kind = OutputProm
			for _, s := range []string{"/news/**=/news/*", "~^/api/v[0-9]+/users/=/api/users"} {
				r, err := ParseRule(s)
				if err != nil {
					t.Fatal(err)
				}
				o.rules.rules = append(o.rules.rules, r)
			}
		}},
		tc{"no-auto-template+cap", []string{plain}, func(o *parseOptions) {
			o.output.kind, o.noAuto, o.maxPaths = OutputJSON, true, 300
		}},
		tc{"cap", []string{plain}, func(o *parseOptions) { o.output.kind, o.maxPaths = OutputOpenTSDB, 20 }},
		tc{"strict", []string{plain}, func(o *parseOptions) { o.output.kind, o.strict = OutputProm, true }},
		tc{"missing file", []string{plain, filepath.Join(dir, "nope.log")}, func(o *parseOptions) { o.output.kind = OutputOpenTSDB }},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := defaultParseOptions()
			o.progress = "never"
			c.set(o)
			wantOut, wantErr, wantRun := refParse(t, o, c.files, stdin)
			var out, errb bytes.Buffer
			_, err := runParse(context.Background(), o, c.files, bytes.NewReader(stdin), &out, &errb)
			if fmt.Sprint(err) != fmt.Sprint(wantRun) {
				t.Errorf("error %v, want %v", err, wantRun)
			}
			if got := rateLine.ReplaceAllString(errb.String(), "rate: N lines/s"); got != wantErr {
				t.Errorf("stderr\n%s\nwant\n%s", got, wantErr)
			}
			if out.String() != wantOut {
				t.Errorf("stdout differs: %d bytes, want %d; first difference at %d", out.Len(), len(wantOut),
					firstDiff(out.String(), wantOut))
			}
		})
	}
}

// mostBatchLines returns how many lines of Prometheus output the largest
// batch of log makes, about.
func mostBatchLines(t *testing.T, log []byte) int {
	f, err := format.Compile("media-nginx", format.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Format, cfg.Referers = f, true
	most := 0
	cfg.Emit = func(b *Batch) error {
		most = max(most, 2*len(b.Requests)+(len(b.BucketBounds)+3)*len(b.Durations)+len(b.Referers))
		return nil
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bytes.Split(log, []byte{'\n'}) {
		a.Line(l)
	}
	a.Flush()
	return most
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestPipelineJSON: JSON lines whose values have escapes (which the parser
// unescapes into its own scratch space) count as the reference counts them.
func TestPipelineJSON(t *testing.T) {
	var b bytes.Buffer
	for i := range 20_000 {
		fmt.Fprintf(&b, `{"time_iso8601":"2025-11-24T09:%02d:%02d+09:00","remote_addr":"10.0.%d.1","request":"GET /a\/%d\u002fb\"%d?x=1 HTTP/1.1","status":%d,"body_bytes_sent":%d,"request_time":"0.%03d","http_referer":"https:\/\/r%d.example\/"}`+"\n",
			i/3600%60, i/60%60, i%7, i%50, i%3, 200+i%3, i, i%1000, i%4)
		if i%1000 == 0 {
			b.WriteString("{\"status\":\n")
		}
	}
	for _, kind := range Outputs() {
		t.Run(kind, func(t *testing.T) {
			o := defaultParseOptions()
			o.progress, o.output.kind, o.referers = "never", kind, true
			if err := o.format.Set("json"); err != nil {
				t.Fatal(err)
			}
			wantOut, wantErr, wantRun := refParse(t, o, []string{"-"}, b.Bytes())
			var out, errb bytes.Buffer
			_, err := runParse(context.Background(), o, []string{"-"}, bytes.NewReader(b.Bytes()), &out, &errb)
			if fmt.Sprint(err) != fmt.Sprint(wantRun) || wantRun != nil {
				t.Errorf("error %v, want %v", err, wantRun)
			}
			if got := rateLine.ReplaceAllString(errb.String(), "rate: N lines/s"); got != wantErr {
				t.Errorf("stderr\n%s\nwant\n%s", got, wantErr)
			}
			if out.String() != wantOut {
				t.Errorf("stdout differs at %d", firstDiff(out.String(), wantOut))
			}
		})
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

// TestPipelineWriteError: a failing output ends the run with its error,
// and every goroutine of the pipeline ends (TestMain checks for leaks).
func TestPipelineWriteError(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "access.log")
	if err := os.WriteFile(plain, pipelineLog(20_000, 37), 0o644); err != nil {
		t.Fatal(err)
	}
	o := defaultParseOptions()
	o.progress, o.output.kind = "never", OutputProm
	var errb bytes.Buffer
	_, err := runParse(context.Background(), o, []string{plain}, nil, &failWriter{n: 1 << 20}, &errb)
	if err == nil || err.Error() != "write output: disk full" {
		t.Fatalf("error %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := runParse(ctx, o, []string{plain}, nil, io.Discard, &errb); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
