package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

const (
	// readAhead is how much a Reader reads from a segment at once.
	readAhead = 128 << 10
	// recentLen is how many delivered records a Reader remembers, so that
	// acknowledging one of them needs no read.
	recentLen = 64
)

// Reader reads the journal for one consumer. Next and Seek may be called
// from one goroutine while Ack, AckWith, Acked and Inflight are called from
// others.
type Reader struct {
	j       *Journal
	c       *consumer     // its state is guarded by j.mu
	closing chan struct{} // closed by Close

	// mu guards the fields below; Next releases it while it waits.
	mu     sync.Mutex
	closed bool
	next   Pos  // where the next record starts
	skip   bool // the record at next is to be skipped (Seek)
	f      *os.File
	fnum   uint64 // segment f reads
	buf    []byte // bytes of f from bufOff
	bufOff int64
	recent [recentLen]delivered // ring of the last records returned by Next
	nrec   int                  // records returned by Next, ever
}

// delivered is what Ack needs to know of a record.
type delivered struct {
	pos    Pos
	next   int64  // offset just after it
	seq    uint64 // its number
	cumEnd uint64 // running sample total through it
}

func newReader(j *Journal, c *consumer) *Reader {
	return &Reader{
		j:       j,
		c:       c,
		closing: make(chan struct{}),
		next:    Pos{Segment: c.state.Acked.Segment, Offset: c.state.Next},
	}
}

// Name returns the consumer's name.
func (r *Reader) Name() string { return r.c.name }

// TryNext is Next without waiting: it returns a nil record when there is
// no record after the reader's position yet.
func (r *Reader) TryNext() (rec []byte, pos Pos, samples int, err error) {
	rec, pos, samples, err = r.Next(doneCtx)
	if errors.Is(err, context.Canceled) {
		return nil, Pos{}, 0, nil
	}
	return rec, pos, samples, err
}

// doneCtx is a context that is done already: Next with it never waits.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Next returns the record after the reader's position, its position and
// its sample count, and moves past it. It blocks until such a record is
// appended, ctx is done (returning ctx.Err(); a record already there is returned
// even then) or the reader or journal is
// closed (ErrClosed). A reader whose records were deleted by the size bound
// goes on at the oldest record on disk. The returned slice is the caller's.
func (r *Reader) Next(ctx context.Context) (rec []byte, pos Pos, samples int, err error) {
	j := r.j
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.closed {
			return nil, Pos{}, 0, ErrClosed
		}
		j.mu.Lock()
		if j.closed {
			j.mu.Unlock()
			return nil, Pos{}, 0, ErrClosed
		}
		s, active := j.segAtOrAfter(r.next.Segment)
		if s != nil && s.num != r.next.Segment {
			r.next, r.skip = Pos{Segment: s.num, Offset: segHeaderSize}, false
		}
		r.next.Offset = max(r.next.Offset, segHeaderSize)
		if s == nil || r.next.Offset >= s.end {
			if s != nil && !active {
				r.next = Pos{Segment: s.num + 1, Offset: segHeaderSize}
				j.mu.Unlock()
				continue
			}
			appended := j.appended
			j.mu.Unlock()
			if err := ctx.Err(); err != nil {
				return nil, Pos{}, 0, err
			}
			r.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-appended:
			case <-j.done:
			case <-r.closing:
			}
			r.mu.Lock()
			continue
		}
		end := s.end
		j.mu.Unlock()

		h, rec, err := r.read(s.num, r.next.Offset, end)
		if errors.Is(err, fs.ErrNotExist) {
			j.mu.Lock()
			gone, _ := j.segAtOrAfter(s.num)
			j.mu.Unlock()
			if gone != s {
				continue // deleted since; the list has moved on
			}
		}
		if errors.Is(err, errCorrupt) && !active {
			j.log.Warn("corrupt journal record, skipping the rest of its segment",
				"file", segmentPath(j.dir, s.num), "offset", r.next.Offset, "err", err)
			r.next = Pos{Segment: s.num + 1, Offset: segHeaderSize}
			continue
		}
		if err != nil {
			return nil, Pos{}, 0, fmt.Errorf("read journal %s at %d: %w", segmentPath(j.dir, s.num), r.next.Offset, err)
		}
		pos := r.next
		r.next.Offset += h.size()
		if r.skip {
			r.skip = false
			continue
		}
		r.recent[r.nrec%recentLen] = delivered{pos: pos, next: r.next.Offset, seq: h.seq, cumEnd: h.cumEnd()}
		r.nrec++
		return rec, pos, int(h.samples), nil
	}
}

// read reads and checks the record at off in segment num, which holds valid
// records up to end, and returns a copy of its payload.
func (r *Reader) read(num uint64, off, end int64) (recHeader, []byte, error) {
	if r.f == nil || r.fnum != num {
		r.closeFile()
		f, err := os.Open(segmentPath(r.j.dir, num))
		if err != nil {
			return recHeader{}, nil, err
		}
		r.f, r.fnum = f, num
	}
	if off+recHeaderSize > end {
		return recHeader{}, nil, fmt.Errorf("%w: header past the end", errCorrupt)
	}
	hb, err := r.bytes(off, recHeaderSize, end)
	if err != nil {
		return recHeader{}, nil, err
	}
	h, err := parseHeader(hb)
	if err != nil {
		return h, nil, err
	}
	if off+h.size() > end {
		return h, nil, fmt.Errorf("%w: length %d past the end", errCorrupt, h.length)
	}
	b, err := r.bytes(off, h.size(), end)
	if err != nil {
		return h, nil, err
	}
	if err := h.checkCRC(b); err != nil {
		return h, nil, err
	}
	return h, bytes.Clone(b[recHeaderSize:]), nil
}

// bytes returns n bytes of the open segment at off, from the read-ahead
// buffer when it holds them. Valid records never change, so the buffer
// stays right until the file does.
func (r *Reader) bytes(off, n, end int64) ([]byte, error) {
	if off >= r.bufOff && off+n <= r.bufOff+int64(len(r.buf)) {
		return r.buf[off-r.bufOff:][:n], nil
	}
	want := min(max(n, readAhead), end-off)
	r.buf = grow(r.buf[:0], int(want))
	r.bufOff = off
	if _, err := r.f.ReadAt(r.buf, off); err != nil {
		r.buf = r.buf[:0]
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: segment shorter than expected", errCorrupt)
		}
		return nil, err
	}
	return r.buf[:n], nil
}

// closeFile closes the open segment. r.mu is held.
func (r *Reader) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	r.buf = r.buf[:0]
}

// Seek makes Next return the records after pos, typically to retry the
// records after the last acknowledged one. pos is a position returned by
// Next, the zero Pos (the oldest record on disk) or Pos{Segment: n} (the
// first record of segment n). Acknowledgements are not changed.
func (r *Reader) Seek(pos Pos) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next = pos
	r.skip = pos.Offset >= segHeaderSize
}

// Ack acknowledges every record up to and including pos, a position
// returned by Next: the consumer will not see them again, even after a
// restart. Acknowledging a position at or before the acknowledged one does
// nothing. Segments every consumer has acknowledged are deleted. Ack clears
// the in-flight mark once pos reaches it.
func (r *Reader) Ack(pos Pos) error { return r.ack(pos, nil) }

// AckWith acknowledges like Ack and, in the same atomic write, records
// inflightEnd, the position of the last record a sender is about to send;
// the zero Pos clears the mark. A sender calls AckWith(acked, end) before
// sending the records in (acked, end] and Ack(end) once they are accepted.
// After a restart, Inflight returns end and the sender first resends exactly
// those records (Next from the acknowledged position up to end) as one
// batch, so a receiver that had half-accepted them sees the same batch
// again, then goes on as usual.
func (r *Reader) AckWith(pos, inflightEnd Pos) error { return r.ack(pos, &inflightEnd) }

func (r *Reader) ack(pos Pos, inflight *Pos) error {
	j := r.j
	r.mu.Lock()
	closed := r.closed
	d, known := r.lookup(pos)
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	st := r.c.state
	if st.Acked.Less(pos) {
		if !known {
			var err error
			if d, err = j.recordInfo(pos); err != nil {
				return fmt.Errorf("ack %s for %s: %w", pos, r.c.name, err)
			}
		}
		st.Acked, st.Next, st.Seq, st.Samples = d.pos, d.next, d.seq, d.cumEnd
	}
	if inflight != nil {
		st.Inflight = *inflight
	}
	if !st.Acked.Less(st.Inflight) {
		st.Inflight = Pos{} // nothing in flight after the acknowledged records
	}
	if st == r.c.state {
		return nil
	}
	if err := j.saveConsumer(r.c.name, st); err != nil {
		return fmt.Errorf("ack %s for %s: %w", pos, r.c.name, err)
	}
	r.c.state = st
	j.collect()
	return nil
}

// lookup finds pos among the records Next returned lately. r.mu is held.
func (r *Reader) lookup(pos Pos) (delivered, bool) {
	for i := range min(r.nrec, recentLen) {
		d := r.recent[(r.nrec-1-i)%recentLen]
		if d.pos == pos {
			return d, true
		}
	}
	return delivered{}, false
}

// recordInfo reads the record at pos from disk. j.mu is held.
func (j *Journal) recordInfo(pos Pos) (delivered, error) {
	s, _ := j.segAtOrAfter(pos.Segment)
	if s == nil || s.num != pos.Segment {
		return delivered{}, errors.New("no such segment")
	}
	f, err := os.Open(segmentPath(j.dir, s.num))
	if err != nil {
		return delivered{}, err
	}
	defer f.Close()
	h, _, err := readRecordAt(f, pos.Offset, s.end)
	if err != nil {
		return delivered{}, fmt.Errorf("no record there: %w", err)
	}
	if h.seq < s.firstSeq || h.seq >= s.endSeq() {
		return delivered{}, fmt.Errorf("no record there: %w: number %d outside the segment", errCorrupt, h.seq)
	}
	return delivered{pos: pos, next: pos.Offset + h.size(), seq: h.seq, cumEnd: h.cumEnd()}, nil
}

// Acked returns the position of the last acknowledged record, or
// Pos{Segment: n} when everything before segment n is acknowledged (or was
// dropped) and nothing in it yet.
func (r *Reader) Acked() Pos {
	r.j.mu.Lock()
	defer r.j.mu.Unlock()
	return r.c.state.Acked
}

// Inflight returns the in-flight mark set by AckWith: the position of the
// last record of the range after Acked that a sender was sending, or the
// zero Pos when there is none.
func (r *Reader) Inflight() Pos {
	r.j.mu.Lock()
	defer r.j.mu.Unlock()
	return r.c.state.Inflight
}

// Close releases the consumer's name for another Reader; a Next waiting in
// another goroutine returns ErrClosed. The consumer stays registered, its
// position kept (see Journal.RemoveConsumer).
func (r *Reader) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.closing)
	r.closeFile()
	r.mu.Unlock()
	r.j.mu.Lock()
	if r.c.reader == r {
		r.c.reader = nil
	}
	r.j.mu.Unlock()
	return nil
}
