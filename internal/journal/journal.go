package journal

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

// Defaults for the zero Options.
const (
	DefaultSegmentBytes = 8 << 20
	DefaultMaxBytes     = 256 << 20
	// minSegmentBytes keeps segments large enough to hold a useful record.
	minSegmentBytes = 256
)

// ErrClosed is returned by the methods of a closed Journal or Reader.
var ErrClosed = errors.New("journal closed")

// ErrTooLarge is returned by Append for a record that does not fit in a
// segment (Options.SegmentBytes, less 40 bytes of headers).
var ErrTooLarge = errors.New("record too large")

// Options tune a Journal. The zero value is valid.
type Options struct {
	// SegmentBytes is the size past which a new segment file starts; 8 MiB
	// when 0. It also bounds a record: header and payload fit in a segment.
	SegmentBytes int64
	// MaxBytes bounds the bytes of all segments; 256 MiB when 0, and at
	// least twice SegmentBytes. Before an append would pass it, the oldest
	// segments are deleted, acknowledged or not; what each consumer had not
	// acknowledged in them is counted as dropped.
	MaxBytes int64
	// Sync fsyncs every append, new segment and consumer file, for records
	// that survive power loss. Without it records survive a kill of the
	// process but not of the machine.
	Sync bool
	// Logger receives warnings about recovered corruption and dropped
	// records; nothing is logged when nil.
	Logger *slog.Logger
	// OnDrop, when set, is called each time the size bound deletes records
	// that consumer had not acknowledged, with their number and samples.
	// It is called without locks held, from Open (before it returns) or
	// Append.
	OnDrop func(consumer string, records, samples int64)
}

// Pos is the position of a record: its segment and its byte offset there.
// Positions are comparable and ordered like the records. The zero Pos is
// before every record; Pos{Segment: n} is before every record of segment n.
type Pos struct {
	Segment uint64 `json:"segment"`
	Offset  int64  `json:"offset"`
}

// Compare returns -1, 0 or +1 as p is before, at or after q.
func (p Pos) Compare(q Pos) int {
	if c := cmp.Compare(p.Segment, q.Segment); c != 0 {
		return c
	}
	return cmp.Compare(p.Offset, q.Offset)
}

// Less reports whether p is before q.
func (p Pos) Less(q Pos) bool { return p.Compare(q) < 0 }

// IsZero reports whether p is the zero Pos.
func (p Pos) IsZero() bool { return p == Pos{} }

// String formats p as segment:offset.
func (p Pos) String() string {
	return strconv.FormatUint(p.Segment, 10) + ":" + strconv.FormatInt(p.Offset, 10)
}

// Journal is an append-only log of records in segment files under one
// directory, read by named consumers. Append is meant for one goroutine
// (concurrent calls are serialized); Readers, Stats and Last may be used
// from any goroutine.
type Journal struct {
	dir  string
	opts Options
	log  *slog.Logger
	lock *os.File

	// writeMu serializes appends and guards the fields below.
	writeMu sync.Mutex
	wf      *os.File // the active (last) segment
	wbuf    []byte   // encoding buffer
	werr    error    // sticky: the active segment is in an unknown state

	// mu guards the fields below and each consumer's state.
	mu        sync.Mutex
	segs      []*segment // oldest first; the last is the active one
	bytes     int64      // sum of segs' sizes
	nextSeq   uint64     // number of the next record
	cum       uint64     // samples in all records so far
	consumers map[string]*consumer
	appended  chan struct{} // closed and replaced by each append
	closed    bool
	done      chan struct{} // closed by Close
}

// Open opens the journal in dir, creating dir when missing. It checks every
// record of every segment: the last segment is truncated, with a warning,
// before its first incomplete or corrupt record (a partial write, a bad
// checksum); corruption inside an older segment ends that segment there,
// with a warning, and reading goes on with the next. Consumers whose records were deleted by the
// size bound while the journal was not open are counted as having dropped
// them. Only one Journal may have dir open at a time.
func Open(dir string, opts Options) (*Journal, error) {
	if opts.SegmentBytes == 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentBytes < minSegmentBytes {
		return nil, fmt.Errorf("open journal %s: segment size %d below %d bytes", dir, opts.SegmentBytes, minSegmentBytes)
	}
	if opts.MaxBytes < 2*opts.SegmentBytes {
		return nil, fmt.Errorf("open journal %s: max size %d below twice the segment size %d", dir, opts.MaxBytes, opts.SegmentBytes)
	}
	j := &Journal{
		dir:       dir,
		opts:      opts,
		log:       opts.Logger,
		consumers: make(map[string]*consumer),
		appended:  make(chan struct{}),
		done:      make(chan struct{}),
	}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(dir, consumersDir), 0o755); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j.lock = lock
	drops, err := j.recover()
	if err != nil {
		j.closeFiles()
		return nil, fmt.Errorf("open journal %s: %w", dir, err)
	}
	j.fireDrops(drops)
	return j, nil
}

// recover loads the consumers and segments and opens the active segment.
func (j *Journal) recover() ([]drop, error) {
	if err := j.loadConsumers(); err != nil {
		return nil, err
	}
	if err := j.loadSegments(); err != nil {
		return nil, err
	}
	last := j.segs[len(j.segs)-1]
	f, err := os.OpenFile(segmentPath(j.dir, last.num), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(last.size, 0); err != nil {
		f.Close()
		return nil, err
	}
	j.wf = f

	j.mu.Lock()
	defer j.mu.Unlock()
	drops := j.reconcileConsumers()
	j.collect()
	drops = append(drops, j.enforceBound(0)...)
	return drops, nil
}

// loadSegments scans the segment files, repairs the tail and leaves at least
// one segment, the active one, in j.segs.
func (j *Journal) loadSegments() error {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return err
	}
	var nums []uint64
	for _, e := range entries {
		if num, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			nums = append(nums, num)
		}
	}
	slices.Sort(nums)
	for i, num := range nums {
		path := segmentPath(j.dir, num)
		res, err := scanFile(path, num)
		if err != nil {
			return err
		}
		if res.problem != nil && i < len(nums)-1 {
			j.log.Warn("corrupt journal segment, skipping its rest",
				"file", path, "err", res.problem, "bytes", res.seg.size-res.seg.end)
		}
		j.segs = append(j.segs, &res.seg)
	}
	// A crash between creating a segment and writing its first record
	// leaves an empty last segment; a fully torn one is empty too. The
	// segment before it is the active one again.
	for len(j.segs) > 1 && j.segs[len(j.segs)-1].records == 0 {
		s := j.segs[len(j.segs)-1]
		path := segmentPath(j.dir, s.num)
		if s.size > segHeaderSize {
			j.log.Warn("journal segment has no complete record, removing it", "file", path, "bytes", s.size)
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		j.segs = j.segs[:len(j.segs)-1]
	}
	if len(j.segs) == 0 {
		num := uint64(1)
		for _, c := range j.consumers {
			num = max(num, c.state.Acked.Segment+1)
		}
		j.segs = append(j.segs, &segment{num: num, lastPos: Pos{Segment: num}})
	}
	last := j.segs[len(j.segs)-1]
	if err := j.repairTail(last); err != nil {
		return err
	}

	// Numbering continues after the newest record or, with none on disk,
	// after what the consumers have seen.
	for _, s := range slices.Backward(j.segs) {
		if s.records > 0 {
			j.nextSeq, j.cum = s.endSeq(), s.endCum()
			break
		}
	}
	if j.nextSeq == 0 {
		j.nextSeq = 1
		for _, c := range j.consumers {
			j.nextSeq = max(j.nextSeq, c.state.Seq+1)
			j.cum = max(j.cum, c.state.Samples)
		}
	}
	// An empty segment takes the numbers of the records after it.
	seq, cum := j.nextSeq, j.cum
	for _, s := range slices.Backward(j.segs) {
		if s.records == 0 {
			s.firstSeq, s.firstCum = seq, cum
		}
		seq, cum = s.firstSeq, s.firstCum
	}
	for _, s := range j.segs {
		j.bytes += s.size
	}
	return nil
}

// scanFile scans the segment file at path.
func scanFile(path string, num uint64) (scanResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return scanResult{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return scanResult{}, err
	}
	return scanSegment(f, num, fi.Size())
}

// repairTail cuts the last segment after its last complete record, or
// (re)writes its header when it has none.
func (j *Journal) repairTail(s *segment) error {
	path := segmentPath(j.dir, s.num)
	if s.end >= segHeaderSize && s.size == s.end {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if s.end < segHeaderSize {
		if s.size > 0 {
			j.log.Warn("journal segment header damaged, rewriting it", "file", path, "bytes", s.size)
		}
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.WriteAt(segmentHeader(), 0); err != nil {
			return err
		}
		s.end = segHeaderSize
	} else {
		j.log.Warn("torn journal tail, truncating it", "file", path,
			"bytes", s.size-s.end, "offset", s.end)
		if err := f.Truncate(s.end); err != nil {
			return err
		}
	}
	s.size = s.end
	if err := j.syncFile(f); err != nil {
		return err
	}
	return j.syncDir()
}

// Append writes rec, which holds samples samples, as one record with a
// single write of header and payload, and returns its position. Once Append
// returns, the record survives a kill of the process (with Options.Sync,
// also power loss) and readers waiting in Next see it. When the size bound
// would be passed, the oldest segments are deleted first. After a failed
// write the segment is cut back, so a later Append may succeed.
func (j *Journal) Append(rec []byte, samples int) (Pos, error) {
	if samples < 0 || samples > math.MaxUint32 {
		return Pos{}, fmt.Errorf("append: sample count %d out of range", samples)
	}
	size := recHeaderSize + int64(len(rec))
	if size > j.opts.SegmentBytes-segHeaderSize {
		return Pos{}, fmt.Errorf("append %d bytes: %w for segment size %d", len(rec), ErrTooLarge, j.opts.SegmentBytes)
	}
	pos, drops, err := j.append(rec, samples, size)
	j.fireDrops(drops)
	return pos, err
}

// append is Append under j.writeMu; it returns the losses to report once the
// lock is released.
func (j *Journal) append(rec []byte, samples int, size int64) (Pos, []drop, error) {
	j.writeMu.Lock()
	defer j.writeMu.Unlock()
	if j.werr != nil {
		return Pos{}, nil, j.werr
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return Pos{}, nil, ErrClosed
	}
	s := j.segs[len(j.segs)-1]
	roll := s.records > 0 && s.size+size > j.opts.SegmentBytes
	j.mu.Unlock()
	if roll {
		var err error
		if s, err = j.roll(s); err != nil {
			return Pos{}, nil, fmt.Errorf("append: %w", err)
		}
	}

	j.mu.Lock()
	drops := j.enforceBound(size)
	off, seq, cum := s.size, j.nextSeq, j.cum
	j.mu.Unlock()

	j.wbuf = appendRecord(j.wbuf[:0], rec, seq, cum, uint32(samples))
	if err := j.write(off); err != nil {
		return Pos{}, drops, fmt.Errorf("append to %s: %w", segmentPath(j.dir, s.num), err)
	}

	pos := Pos{Segment: s.num, Offset: off}
	j.mu.Lock()
	s.size += size
	s.end = s.size
	s.records++
	s.samples += int64(samples)
	s.lastPos = pos
	j.bytes += size
	j.nextSeq++
	j.cum += uint64(samples)
	close(j.appended)
	j.appended = make(chan struct{})
	j.mu.Unlock()
	return pos, drops, nil
}

// write writes j.wbuf at off, the end of the active segment, and cuts the
// segment back to off when that fails.
func (j *Journal) write(off int64) error {
	_, err := j.wf.Write(j.wbuf)
	if err == nil && j.opts.Sync {
		if err = j.wf.Sync(); err != nil {
			// After a failed fsync the page cache cannot be trusted.
			j.werr = fmt.Errorf("journal unusable after failed sync: %w", err)
		}
	}
	if err == nil {
		return nil
	}
	if terr := j.wf.Truncate(off); terr != nil {
		j.werr = fmt.Errorf("journal unusable after failed write: %w", errors.Join(err, terr))
	} else if _, serr := j.wf.Seek(off, 0); serr != nil {
		j.werr = fmt.Errorf("journal unusable after failed write: %w", errors.Join(err, serr))
	}
	return err
}

// roll starts segment s.num+1 and makes it the active one. j.writeMu is held.
func (j *Journal) roll(s *segment) (*segment, error) {
	num := s.num + 1
	path := segmentPath(j.dir, num)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	err = writeAll(f, segmentHeader())
	if err == nil {
		err = j.syncFile(f)
	}
	if err == nil {
		err = j.syncDir()
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := j.wf.Close(); err != nil {
		j.log.Warn("closing journal segment failed", "file", segmentPath(j.dir, s.num), "err", err)
	}
	j.wf = f
	j.mu.Lock()
	defer j.mu.Unlock()
	ns := &segment{
		num:      num,
		size:     segHeaderSize,
		end:      segHeaderSize,
		firstSeq: j.nextSeq,
		firstCum: j.cum,
		lastPos:  Pos{Segment: num},
	}
	j.segs = append(j.segs, ns)
	j.bytes += ns.size
	j.collect()
	return ns, nil
}

// writeAll writes b to f; os.File.Write already writes all or fails.
func writeAll(f *os.File, b []byte) error {
	_, err := f.Write(b)
	return err
}

// Last returns the newest record and its position, ok false when the
// journal holds none. The agent restores its state from it on start.
func (j *Journal) Last() (rec []byte, pos Pos, ok bool, err error) {
	j.writeMu.Lock()
	defer j.writeMu.Unlock()
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil, Pos{}, false, ErrClosed
	}
	s := j.segs[len(j.segs)-1]
	pos, end, n := s.lastPos, s.end, s.records
	j.mu.Unlock()
	if n == 0 {
		return nil, Pos{}, false, nil
	}
	_, rec, err = readRecordAt(j.wf, pos.Offset, end)
	if err != nil {
		return nil, Pos{}, false, fmt.Errorf("read last record of %s: %w", segmentPath(j.dir, pos.Segment), err)
	}
	return rec, pos, true, nil
}

// Stats is a snapshot of a journal.
type Stats struct {
	Bytes     int64 // in all segment files
	Segments  int
	Records   int64                    // on disk
	Samples   int64                    // in the records on disk
	Last      Pos                      // of the newest record; zero when there is none
	Consumers map[string]ConsumerStats // by name
}

// ConsumerStats describes one consumer in Stats.
type ConsumerStats struct {
	Name     string
	Open     bool // a Reader is registered under the name
	Acked    Pos
	Inflight Pos // see Reader.AckWith
	// Pending is what is on disk after Acked.
	PendingRecords, PendingSamples, PendingBytes int64
	// Dropped is what the size bound deleted before the consumer
	// acknowledged it, since Open.
	DroppedRecords, DroppedSamples int64
	// DroppedTotal is Dropped over the consumer's whole life, persisted.
	DroppedRecordsTotal, DroppedSamplesTotal int64
}

// Stats returns the journal's sizes and each consumer's backlog and losses.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := Stats{Bytes: j.bytes, Segments: len(j.segs), Consumers: make(map[string]ConsumerStats, len(j.consumers))}
	for _, s := range j.segs {
		st.Records += s.records
		st.Samples += s.samples
	}
	if last := j.segs[len(j.segs)-1]; last.records > 0 {
		st.Last = last.lastPos
	}
	for _, c := range j.consumers {
		cs := ConsumerStats{
			Name:                c.name,
			Open:                c.reader != nil,
			Acked:               c.state.Acked,
			Inflight:            c.state.Inflight,
			DroppedRecords:      c.droppedRecords,
			DroppedSamples:      c.droppedSamples,
			DroppedRecordsTotal: c.state.DroppedRecords,
			DroppedSamplesTotal: c.state.DroppedSamples,
		}
		for _, s := range j.segs {
			recs, samples := unacked(s, c.state)
			cs.PendingRecords += recs
			cs.PendingSamples += samples
			switch {
			case s.num == c.state.Acked.Segment:
				cs.PendingBytes += max(0, s.end-max(c.state.Next, segHeaderSize))
			case s.num > c.state.Acked.Segment:
				cs.PendingBytes += max(0, s.end-segHeaderSize)
			}
		}
		st.Consumers[c.name] = cs
	}
	return st
}

// unacked returns the records and samples of s after the consumer's
// acknowledged position.
func unacked(s *segment, st consumerState) (records, samples int64) {
	if s.records == 0 {
		return 0, 0
	}
	from := max(st.Seq+1, s.firstSeq)
	if from >= s.endSeq() {
		return 0, 0
	}
	return int64(s.endSeq() - from), int64(s.endCum() - max(st.Samples, s.firstCum))
}

// collect deletes the oldest segments every consumer has acknowledged,
// never the active one. j.mu is held.
func (j *Journal) collect() {
	for len(j.segs) > 1 {
		s := j.segs[0]
		for _, c := range j.consumers {
			if c.state.Acked.Less(s.lastPos) {
				return
			}
		}
		j.removeOldest()
	}
}

// drop is a loss to report through Options.OnDrop.
type drop struct {
	consumer         string
	records, samples int64
}

// enforceBound deletes the oldest segments until incoming more bytes fit
// under Options.MaxBytes, counting what each consumer loses. j.mu is held.
func (j *Journal) enforceBound(incoming int64) []drop {
	var drops []drop
	for len(j.segs) > 1 && j.bytes+incoming > j.opts.MaxBytes {
		s, next := j.segs[0], j.segs[1]
		path := segmentPath(j.dir, s.num)
		for _, name := range slices.Sorted(maps.Keys(j.consumers)) {
			c := j.consumers[name]
			recs, samples := unacked(s, c.state)
			if recs == 0 {
				continue
			}
			j.log.Warn("journal full, dropping records not yet acknowledged",
				"file", path, "consumer", name, "records", recs, "samples", samples)
			st := c.state
			st.Acked, st.Next = Pos{Segment: next.num}, segHeaderSize
			st.Seq, st.Samples = next.firstSeq-1, next.firstCum
			if !st.Acked.Less(st.Inflight) {
				st.Inflight = Pos{}
			}
			st.DroppedRecords += recs
			st.DroppedSamples += samples
			c.droppedRecords += recs
			c.droppedSamples += samples
			if err := j.saveConsumer(name, st); err != nil {
				// Open counts the loss again from the record numbers.
				j.log.Warn("saving journal consumer failed", "consumer", name, "err", err)
			}
			c.state = st
			drops = append(drops, drop{name, recs, samples})
		}
		j.removeOldest()
	}
	return drops
}

// removeOldest deletes the oldest segment. j.mu is held.
func (j *Journal) removeOldest() {
	s := j.segs[0]
	path := segmentPath(j.dir, s.num)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		j.log.Warn("removing journal segment failed", "file", path, "err", err)
	}
	j.segs = slices.Delete(j.segs, 0, 1)
	j.bytes -= s.size
}

// fireDrops reports drops through Options.OnDrop; no lock is held.
func (j *Journal) fireDrops(drops []drop) {
	if j.opts.OnDrop == nil {
		return
	}
	for _, d := range drops {
		j.opts.OnDrop(d.consumer, d.records, d.samples)
	}
}

// segAtOrAfter returns the first segment numbered num or later and whether it
// is the active one; nil when there is none. j.mu is held.
func (j *Journal) segAtOrAfter(num uint64) (*segment, bool) {
	i, _ := slices.BinarySearchFunc(j.segs, num, func(s *segment, n uint64) int { return cmp.Compare(s.num, n) })
	if i == len(j.segs) {
		return nil, false
	}
	return j.segs[i], i == len(j.segs)-1
}

// Close closes the journal: Readers waiting in Next return ErrClosed, the
// active segment is synced to disk and the directory lock is released.
func (j *Journal) Close() error {
	j.writeMu.Lock()
	defer j.writeMu.Unlock()
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	close(j.done)
	var readers []*Reader
	for _, c := range j.consumers {
		if c.reader != nil {
			readers = append(readers, c.reader)
		}
	}
	j.mu.Unlock()
	for _, r := range readers {
		r.mu.Lock()
		r.closeFile()
		r.mu.Unlock()
	}
	err := j.wf.Sync()
	if err == nil {
		err = j.syncDir()
	}
	if cerr := j.closeFiles(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close journal %s: %w", j.dir, err)
	}
	return nil
}

// closeFiles closes the active segment and releases the lock.
func (j *Journal) closeFiles() error {
	var errs []error
	if j.wf != nil {
		errs = append(errs, j.wf.Close())
	}
	if j.lock != nil {
		errs = append(errs, j.lock.Close())
	}
	return errors.Join(errs...)
}

// syncFile fsyncs f when Options.Sync is set.
func (j *Journal) syncFile(f *os.File) error {
	if !j.opts.Sync {
		return nil
	}
	return f.Sync()
}

// syncDir fsyncs the directory (new and removed names) when Options.Sync is
// set.
func (j *Journal) syncDir() error {
	if !j.opts.Sync {
		return nil
	}
	return syncPath(j.dir)
}

// syncPath fsyncs the file or directory at path.
func syncPath(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
