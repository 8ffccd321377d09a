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
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dandan-sre/dandan/internal/logs/format"
)

// The pipeline of `dandan logs parse` spreads the work over the cores
// while keeping the output exactly that of one Aggregator fed line by
// line:
//
//   - a reader goroutine reads the files in order into chunks of whole
//     lines, each handed to the workers and queued in order for the main
//     goroutine;
//   - workers parse chunks into compact records (lines parse
//     independently) and, when there are no path rules, template their
//     paths and hash what the Aggregator looks up (the template of a raw
//     path depends on nothing else; rules, costly to match, are matched
//     once per raw path in the Aggregator's cache instead);
//   - the main goroutine takes the parsed chunks in order and counts their
//     records in the Aggregator (template ids, the path cap, series and
//     seconds depend on the lines before, so this stays on one
//     goroutine); each second's Batch is copied into a snapshot with the
//     text of its series, and snapshots are gathered into output jobs;
//   - workers format output jobs into lines;
//   - a writer goroutine writes the formatted jobs in order.
//
// Memory stays bounded: a fixed number of chunks and jobs circulate
// through free lists.

const (
	chunkSize = 256 << 10 // bytes of input per chunk; longer lines grow it up to maxLine
	jobLines  = 1024      // about how many output lines make an output job
)

// Kinds of records.
const (
	recValid = iota
	recInvalid
	recLong // longer than maxLine: dropped unparsed
)

// rec is a parsed line: the fields the Aggregator counts, byte values as
// spans of the chunk.
type rec struct {
	time, bytes, duration int64
	// With templating in the workers (pipeline.templ), target is the
	// template, templHash its templateHash, pathHash the pathHash of the
	// raw path and pathKind says how the path counts (pathOther…).
	templHash, pathHash             uint64
	clientHash                      uint64 // of client, when not empty
	client, method, target, referer span
	// status is the status code of a valid line, and of an invalid one
	// the index of its reason in chunk.reasons, or -1.
	status   int32
	kind     uint8
	pathKind uint8
	// pathSeen says the worker templated the raw path for an earlier
	// line already, whose pathHash the Aggregator counts in the distinct
	// paths: this one need not be.
	pathSeen bool
}

// span is a byte range of a chunk's buf, or with extBit of its ext.
type span struct{ off, n uint32 }

const extBit = 1 << 31

// chunk is a run of whole lines of one file and what the workers made
// of them.
type chunk struct {
	file    int    // index of the file in the run
	buf     []byte // the lines, each with its newline but maybe the last of the file
	long    bool   // instead of lines: one line longer than maxLine, dropped
	err     error  // an error that ends the input after these lines
	recs    []rec
	ext     []byte   // values that the parser did not take from buf (JSON escapes)
	reasons []string // why the first invalid lines are invalid
	done    chan struct{}
}

func (c *chunk) text(s span) []byte {
	if s.n == 0 {
		return nil
	}
	if s.off&extBit != 0 {
		o := s.off &^ extBit
		return c.ext[o : o+s.n]
	}
	return c.buf[s.off : s.off+s.n]
}

// spanOf returns the span of v, a value of line, which starts at base in
// c.buf; a value that is not in the line is copied to c.ext.
func (c *chunk) spanOf(line []byte, base int, v []byte) span {
	if len(v) == 0 {
		return span{}
	}
	// v is line[i:i+len(v)] when it shares line's memory.
	if i := cap(line) - cap(v); i >= 0 && i+len(v) <= len(line) && &line[i] == &v[0] {
		return span{uint32(base + i), uint32(len(v))}
	}
	off := len(c.ext)
	c.ext = append(c.ext, v...)
	return span{uint32(off) | extBit, uint32(len(v))}
}

// outJob is a run of snapshots to format and write.
type outJob struct {
	snaps []snapshot
	n     int // snapshots in use
	lines int
	out   []byte
	done  chan struct{}
}

// pipeline is one run of `logs parse` over its files.
type pipeline struct {
	files  []string
	stdin  io.Reader
	read   *atomic.Int64
	fmt    *format.Format
	kind   string
	now    func() time.Time
	out    *bufio.Writer // holds the header; flushed before the first job
	dst    io.Writer     // what out writes to: jobs are written to it directly
	strict bool
	// templ, when not nil, templates paths in the workers: it has no
	// rules (rules are matched once per distinct raw path, in the
	// Aggregator's cache, rather than on every line).
	templ *paths
	texts formatter // prepares every snapshot, on the main goroutine

	stop       chan struct{} // closed when the run ends: the reader and workers quit
	freeChunks chan *chunk
	parseQ     chan *chunk // to the workers
	orderQ     chan *chunk // to the main goroutine, in input order
	freeJobs   chan *outJob
	fmtQ       chan *outJob // to the workers
	writeQ     chan *outJob // to the writer, in order
	cur        *outJob      // the job being filled

	readerDone chan struct{}
	writerDone chan struct{}
	workers    sync.WaitGroup
	werr       error // the first write error; read after writerDone
	failed     atomic.Bool
}

func newPipeline(files []string, stdin io.Reader, read *atomic.Int64, f *format.Format, kind string, out *bufio.Writer, dst io.Writer, strict bool, rules []Rule, auto bool) *pipeline {
	n := runtime.GOMAXPROCS(0)
	nChunks, nJobs := 2*n+2, n+2
	pl := &pipeline{files: files, stdin: stdin, read: read, fmt: f, kind: kind, now: time.Now, out: out, dst: dst, strict: strict,
		stop: make(chan struct{}), freeChunks: make(chan *chunk, nChunks), parseQ: make(chan *chunk, nChunks),
		orderQ: make(chan *chunk, nChunks), freeJobs: make(chan *outJob, nJobs), fmtQ: make(chan *outJob, nJobs),
		writeQ: make(chan *outJob, nJobs), readerDone: make(chan struct{}), writerDone: make(chan struct{})}
	if len(rules) == 0 {
		pl.templ = &paths{auto: auto}
	}
	for range nChunks {
		pl.freeChunks <- &chunk{buf: make([]byte, 0, chunkSize), done: make(chan struct{}, 1)}
	}
	for range nJobs {
		pl.freeJobs <- &outJob{done: make(chan struct{}, 1)}
	}
	return pl
}

// start starts the reader, the workers and the writer.
func (pl *pipeline) start() error {
	var err error
	if pl.texts, err = newFormatter(pl.kind, pl.now); err != nil {
		return err
	}
	fs := make([]formatter, runtime.GOMAXPROCS(0))
	for i := range fs {
		f, err := newFormatter(pl.kind, pl.now)
		if err != nil {
			return err
		}
		fs[i] = f
	}
	go pl.reader()
	for _, f := range fs {
		pl.workers.Add(1)
		go pl.worker(f)
	}
	go pl.writer()
	return nil
}

// emit is the Aggregator's Config.Emit: it copies b into the current
// job. A large batch goes in parts, so that no job's output grows much
// past jobLines lines (the OpenTSDB output, which adds up series of a
// batch and is small, takes batches whole).
func (pl *pipeline) emit(b *Batch) error {
	nb := len(b.BucketBounds) + 3 // lines per histogram
	if pl.kind == OutputOpenTSDB || 2*len(b.Requests)+nb*len(b.Durations)+len(b.Referers) <= jobLines {
		pl.snapshot().take(b)
		pl.added()
		return nil
	}
	pl.parts(b, secReqs, len(b.Requests), 1)
	pl.parts(b, secHists, len(b.Durations), nb)
	pl.parts(b, secBytes, len(b.Requests), 1)
	pl.parts(b, secRefs, len(b.Referers), 1)
	pl.snapshot().takePart(b, secJob, 0, 0)
	pl.added()
	return nil
}

// parts adds section sec of b, of n series of per lines each, in parts.
func (pl *pipeline) parts(b *Batch, sec uint8, n, per int) {
	step := max(1, jobLines/per)
	for lo := 0; lo < n; lo += step {
		pl.snapshot().takePart(b, sec, lo, min(n, lo+step))
		pl.added()
	}
}

// snapshot returns the next snapshot of the current job.
func (pl *pipeline) snapshot() *snapshot {
	if pl.cur == nil {
		pl.cur = <-pl.freeJobs
	}
	j := pl.cur
	if j.n == len(j.snaps) {
		j.snaps = append(j.snaps, snapshot{})
	}
	return &j.snaps[j.n]
}

// added prepares the snapshot that snapshot returned, counts it in the
// current job and dispatches the job when it is full.
func (pl *pipeline) added() {
	j := pl.cur
	s := &j.snaps[j.n]
	pl.texts.prepare(s)
	j.n++
	j.lines += s.lines
	if j.lines >= jobLines {
		pl.dispatch()
	}
}

// dispatch sends the current job to be formatted and written.
func (pl *pipeline) dispatch() {
	if j := pl.cur; j != nil && j.n > 0 {
		pl.fmtQ <- j
		pl.writeQ <- j
		pl.cur = nil
	}
}

// run feeds the parsed lines to agg in order, and returns the invalid
// lines' samples for the summary and the error that ended the run.
func (pl *pipeline) run(ctx context.Context, agg *Aggregator) (samples []string, err error) {
	file, n := -1, 0
	display := ""
	for c := range pl.orderQ {
		if err := ctx.Err(); err != nil {
			return samples, err
		}
		<-c.done
		if c.file != file {
			file, n = c.file, 0
			display = pl.files[file]
			if display == "-" {
				display = "stdin"
			}
		}
		for i := range c.recs {
			r := &c.recs[i]
			n++
			agg.lines++
			if r.kind == recValid {
				f := format.Fields{Time: r.time, Client: c.text(r.client), Method: c.text(r.method), Target: c.text(r.target),
					Status: int(r.status), Bytes: r.bytes, Duration: r.duration, Referer: c.text(r.referer)}
				if pl.templ != nil {
					agg.countTemplated(&f, r.pathKind, f.Target, r.templHash, r.pathHash, r.clientHash, r.pathSeen)
				} else {
					agg.count(&f)
				}
				continue
			}
			agg.invalid++
			if !pl.strict && len(samples) >= invalidSamples {
				continue
			}
			var reason error
			switch {
			case r.kind == recLong:
				reason = fmt.Errorf("line longer than %d bytes", maxLine)
			case r.status >= 0:
				reason = errors.New(c.reasons[r.status])
			default:
				reason = errors.New("invalid line") // not reached: a chunk keeps the reasons of its first invalid lines
			}
			if pl.strict {
				return samples, fmt.Errorf("%s:%d: %w", display, n, reason)
			}
			samples = append(samples, fmt.Sprintf("%s:%d: %v", display, n, reason))
		}
		if c.err != nil {
			return samples, c.err
		}
		pl.freeChunks <- c
		if pl.failed.Load() {
			return samples, nil // the writer's error is reported by finish
		}
	}
	return samples, nil
}

// finish writes what is left, stops the goroutines and returns the first
// write error. complete says the reader reached the end of the input (it
// is not waited for otherwise: it may be blocked reading stdin).
func (pl *pipeline) finish(complete bool) error {
	pl.dispatch()
	close(pl.fmtQ)
	close(pl.writeQ)
	<-pl.writerDone
	close(pl.stop)
	pl.workers.Wait()
	if complete {
		<-pl.readerDone
	}
	return pl.werr
}

// worker parses chunks and formats jobs until both queues close or the
// run stops.
func (pl *pipeline) worker(f formatter) {
	defer pl.workers.Done()
	p := pl.fmt.NewParser()
	var tc *templateCache
	if pl.templ != nil {
		tc = &templateCache{p: pl.templ}
	}
	parseQ, fmtQ := pl.parseQ, pl.fmtQ
	for parseQ != nil || fmtQ != nil {
		select {
		case c, ok := <-parseQ:
			if !ok {
				parseQ = nil
				continue
			}
			parseChunk(p, tc, c)
			c.done <- struct{}{}
		case j, ok := <-fmtQ:
			if !ok {
				fmtQ = nil
				continue
			}
			j.out = j.out[:0]
			for i := range j.snaps[:j.n] {
				j.out = f.format(j.out, &j.snaps[i])
			}
			j.done <- struct{}{}
		case <-pl.stop:
			return
		}
	}
}

// parseChunk parses the lines of c into c.recs, and templates their paths
// when tc is not nil.
func parseChunk(p *format.Parser, tc *templateCache, c *chunk) {
	c.recs, c.ext, c.reasons = c.recs[:0], c.ext[:0], c.reasons[:0]
	if c.long {
		c.recs = append(c.recs, rec{kind: recLong})
		return
	}
	var f format.Fields
	buf := c.buf
	for off := 0; off < len(buf); {
		end, next := len(buf), len(buf)
		if i := bytes.IndexByte(buf[off:], '\n'); i >= 0 {
			end, next = off+i, off+i+1
		}
		line := buf[off:end]
		base := off
		off = next
		if next-base > maxLine+1 {
			c.recs = append(c.recs, rec{kind: recLong})
			continue
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if !p.Parse(line, &f) {
			r := rec{kind: recInvalid, status: -1}
			if len(c.reasons) < invalidSamples {
				r.status = int32(len(c.reasons))
				c.reasons = append(c.reasons, p.Err().Error())
			}
			c.recs = append(c.recs, r)
			continue
		}
		r := rec{time: f.Time, bytes: f.Bytes, duration: f.Duration, status: int32(f.Status),
			client: c.spanOf(line, base, f.Client), method: c.spanOf(line, base, f.Method),
			referer: c.spanOf(line, base, f.Referer)}
		switch {
		case tc == nil:
			r.target = c.spanOf(line, base, f.Target)
		case len(f.Target) == 0 || len(f.Method) == 0 && f.Target[0] != '/':
			r.pathKind = pathOther // as Aggregator.count decides
		default:
			raw := cleanPath(f.Target)
			if len(raw) == 0 {
				r.pathKind = pathEmpty
				break
			}
			r.pathKind, r.pathHash = pathTemplate, pathHash(raw)
			off := len(c.ext)
			c.ext, r.templHash, r.pathSeen = tc.template(c.ext, raw, r.pathHash)
			r.target = span{uint32(off) | extBit, uint32(len(c.ext) - off)}
		}
		if tc != nil && len(f.Client) > 0 {
			r.clientHash = clientHash(f.Client)
		}
		c.recs = append(c.recs, r)
	}
}

// templateCache templates raw paths in a worker (with no rules: see
// pipeline.templ) and remembers the templates of recent ones in a
// direct-mapped table by pathHash, raw paths and templates in an arena;
// when the arena is full it starts over. Most lines repeat a recent path.
type templateCache struct {
	p     *paths
	slots []templateSlot
	arena []byte
}

type templateSlot struct {
	hash       uint64 // pathHash of the raw path; 0 when free
	th         uint64 // templateHash of the template
	off        uint32 // in arena: the raw path, then the template
	raw, templ uint16 // their lengths
}

const (
	templateSlots = 2048
	templateArena = 128 << 10
)

// template appends the template of raw, whose pathHash is h, to dst, and
// returns it with the template's hash and whether raw was in the cache.
func (tc *templateCache) template(dst, raw []byte, h uint64) ([]byte, uint64, bool) {
	if tc.slots == nil {
		tc.slots = make([]templateSlot, templateSlots)
		tc.arena = make([]byte, 0, templateArena)
	}
	s := &tc.slots[h&(templateSlots-1)]
	if s.hash == h && h != 0 && int(s.raw) == len(raw) && string(tc.arena[s.off:s.off+uint32(s.raw)]) == string(raw) {
		t := s.off + uint32(s.raw)
		return append(dst, tc.arena[t:t+uint32(s.templ)]...), s.th, true
	}
	off := len(dst)
	dst = tc.p.template(dst, raw)
	tmpl := dst[off:]
	th := templateHash(tmpl)
	if n := len(raw) + len(tmpl); h != 0 && len(raw) <= cacheMaxKey && len(tmpl) <= maxTemplate {
		if len(tc.arena)+n > cap(tc.arena) {
			clear(tc.slots)
			tc.arena = tc.arena[:0]
		}
		*s = templateSlot{hash: h, th: th, off: uint32(len(tc.arena)), raw: uint16(len(raw)), templ: uint16(len(tmpl))}
		tc.arena = append(tc.arena, raw...)
		tc.arena = append(tc.arena, tmpl...)
	}
	return dst, th, false
}

// writer writes the formatted jobs in order and frees them.
func (pl *pipeline) writer() {
	defer close(pl.writerDone)
	for j := range pl.writeQ {
		<-j.done
		if pl.werr == nil && pl.out.Buffered() > 0 {
			pl.werr = pl.out.Flush()
		}
		if pl.werr == nil {
			_, pl.werr = pl.dst.Write(j.out)
		}
		if pl.werr != nil {
			pl.failed.Store(true)
		}
		j.n, j.lines = 0, 0
		if cap(j.out) > 4*jobLines*128 {
			j.out = nil // after a batch of very long lines
		}
		pl.freeJobs <- j
	}
}

// getChunk returns a free chunk, or nil when the run has stopped.
func (pl *pipeline) getChunk() *chunk {
	select {
	case c := <-pl.freeChunks:
		if cap(c.buf) > 2*chunkSize {
			c.buf = make([]byte, 0, chunkSize) // after a long line
		}
		c.buf, c.long, c.err = c.buf[:0], false, nil
		return c
	case <-pl.stop:
		return nil
	}
}

func (pl *pipeline) send(c *chunk) {
	pl.parseQ <- c
	pl.orderQ <- c
}

// reader reads the files in order into chunks.
func (pl *pipeline) reader() {
	defer close(pl.readerDone)
	defer close(pl.orderQ)
	defer close(pl.parseQ)
	var carry []byte
	for i := range pl.files {
		var err error
		carry, err = pl.readFile(i, carry[:0])
		if err == errStopped {
			return
		}
		if err != nil {
			if c := pl.getChunk(); c != nil {
				c.file, c.err = i, err
				pl.send(c)
			}
			return
		}
	}
}

// errStopped says the reader is to stop: the run stopped, or a chunk
// already carries the error that ends the input.
var errStopped = errors.New("stopped")

// readFile reads file i into chunks; carry is scratch space for the part
// of a line that spans two chunks.
func (pl *pipeline) readFile(i int, carry []byte) ([]byte, error) {
	name := pl.files[i]
	var r io.Reader
	display := name
	if name == "-" {
		r, display = pl.stdin, "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return carry, err
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(&countingReader{r: r, n: pl.read}, 64<<10)
	src := io.Reader(br)
	// Chunks are read full, but from a pipe each takes what has come.
	fill := name != "-"
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return carry, fmt.Errorf("%s: %w", display, err)
		}
		defer zr.Close()
		src, fill = zr, true
	}
	for {
		c := pl.getChunk()
		if c == nil {
			return carry, errStopped
		}
		c.file = i
		c.buf = append(c.buf, carry...)
		carry = carry[:0]
		var rerr error
		eof := false
		for {
			for len(c.buf) < cap(c.buf) {
				n, err := src.Read(c.buf[len(c.buf):cap(c.buf)])
				c.buf = c.buf[:len(c.buf)+n]
				if err == io.EOF {
					eof = true
					break
				}
				if err != nil {
					rerr = err
					break
				}
				if !fill && n > 0 && bytes.IndexByte(c.buf[len(c.buf)-n:], '\n') >= 0 {
					break
				}
			}
			if eof {
				break
			}
			if j := bytes.LastIndexByte(c.buf, '\n'); j >= 0 {
				// Whole lines only; the rest starts the next chunk (after
				// a read error, it is dropped).
				carry = append(carry, c.buf[j+1:]...)
				c.buf = c.buf[:j+1]
				break
			}
			if rerr != nil {
				c.buf = c.buf[:0]
				break
			}
			if len(c.buf) <= maxLine+1 {
				// A line longer than the chunk: grow it.
				c.buf = slices.Grow(c.buf, cap(c.buf))
				continue
			}
			// A line longer than maxLine: drop it up to its newline.
			c.buf, c.long = c.buf[:0], true
			for {
				n, err := src.Read(c.buf[:cap(c.buf)])
				if j := bytes.IndexByte(c.buf[:n], '\n'); j >= 0 {
					carry = append(carry, c.buf[j+1:n]...)
					break
				}
				if err == io.EOF {
					eof = true
					break
				}
				if err != nil {
					rerr = err
					c.long = false
					break
				}
			}
			c.buf = c.buf[:0]
			break
		}
		if rerr != nil {
			c.err = fmt.Errorf("read %s: %w", display, rerr)
			pl.send(c)
			return carry, errStopped
		}
		if len(c.buf) == 0 && !c.long {
			pl.freeChunks <- c
		} else {
			pl.send(c)
		}
		if eof {
			return carry, nil
		}
	}
}
