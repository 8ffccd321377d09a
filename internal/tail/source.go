package tail

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// source is one file being read for a followed path: the file at the path,
// or a rotated one being finished.
type source struct {
	name     string   // file name, for Chunk.From
	f        *os.File // held open: a renamed or deleted file stays readable
	zr       *gzip.Reader
	gz       bool
	id       fileID
	fp       fingerprint
	off      int64  // consumed: just after the last line handed out
	readOff  int64  // read up to; uncompressed for gz
	carry    []byte // bytes read after off, when not skipping: a partial line
	skipping bool   // dropping a line longer than MaxLine up to its '\n'
	lines    int64  // lines consumed, when linesKnown
	known    bool   // lines is known: reading started at 0
	rotated  bool   // no longer at the followed path: finish it
	copy     bool   // a copy made by copytruncate: complete
	size     int64  // size at the last poll (compressed for gz)
	mod      time.Time
	quiet    int  // polls the rotated file stayed unchanged
	eof      bool // the last read reached the end
	recheck  bool // found truncated by a read: the next poll looks at it
	broken   bool // a read failed for good
}

// fileID is a file's identity: device and inode.
type fileID struct{ dev, ino uint64 }

// fingerprint is the SHA-256 of a file's first n bytes.
type fingerprint struct {
	sum [sha256.Size]byte
	n   int
	hex string
}

// newFingerprint returns the fingerprint of b.
func newFingerprint(b []byte) fingerprint {
	s := sha256.Sum256(b)
	return fingerprint{sum: s, n: len(b), hex: hex.EncodeToString(s[:])}
}

// parseFingerprint returns the fingerprint of a checkpoint.
func parseFingerprint(p Position) (fingerprint, error) {
	b, err := hex.DecodeString(p.Fingerprint)
	if err != nil || len(b) != sha256.Size || p.FPLen < 0 || p.FPLen > FingerprintLen {
		return fingerprint{}, fmt.Errorf("bad fingerprint %q of %d bytes", p.Fingerprint, p.FPLen)
	}
	fp := fingerprint{n: p.FPLen, hex: p.Fingerprint}
	copy(fp.sum[:], b)
	return fp, nil
}

// matches reports whether head, a file's first bytes, starts with the
// bytes fp was made of. Every head starts with no bytes.
func (fp fingerprint) matches(head []byte) bool {
	return fp.n == 0 || len(head) >= fp.n && sha256.Sum256(head[:fp.n]) == fp.sum
}

// readHead reads the first FingerprintLen bytes of f (decompressed when
// gz) into buf and returns them, with the modification time of the gzip
// header when gz and set.
func readHead(f *os.File, gz bool, buf []byte) ([]byte, time.Time, error) {
	var r io.Reader = io.NewSectionReader(f, 0, 1<<62)
	var mod time.Time
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, mod, err
		}
		r, mod = zr, zr.ModTime
	}
	n, err := io.ReadFull(r, buf[:FingerprintLen])
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return buf[:n], mod, err
}

// isGz reports whether name is a gzip file.
func isGz(name string) bool { return strings.HasSuffix(name, ".gz") }

// openSource opens name for reading from off. It returns nil, nil when the
// file is empty: an empty file has no identity yet.
func (f *Follower) openSource(name string, off int64) (*source, error) {
	file, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	s, err := f.newSource(name, file, off)
	if s == nil {
		file.Close()
	}
	return s, err
}

// newSource makes a source of file, read from off.
func (f *Follower) newSource(name string, file *os.File, off int64) (*source, error) {
	fi, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return nil, nil
	}
	s := &source{name: name, f: file, gz: isGz(name), id: idOf(fi), size: fi.Size(), mod: fi.ModTime()}
	head, _, err := readHead(file, s.gz, f.head)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	s.fp = newFingerprint(head)
	if s.gz {
		s.rotated = true
		if s.zr, err = gzip.NewReader(io.NewSectionReader(file, 0, 1<<62)); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		n, err := io.CopyN(io.Discard, s.zr, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if n < off {
			return nil, fmt.Errorf("read %s: %d bytes uncompressed, fewer than offset %d", name, n, off)
		}
	}
	s.off, s.readOff = off, off
	s.known = off == 0
	return s, nil
}

// close closes s's file.
func (s *source) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// position returns where reading s got to, as a checkpoint of path.
func (s *source) position(path string) Position {
	return Position{Path: path, Dev: s.id.dev, Ino: s.id.ino, Fingerprint: s.fp.hex, FPLen: s.fp.n, Offset: s.off}
}

// finished reports whether s, rotated and read to its end, can be let go.
func (s *source) finished() bool {
	return s.rotated && s.eof && (s.gz || s.copy || s.broken || s.quiet >= quietPolls)
}

// readAt reads s from readOff into p, filling p unless the end comes.
func (s *source) readAt(p []byte) (int, error) {
	if s.zr == nil {
		if len(p) == 0 {
			return 0, io.EOF
		}
		return s.f.ReadAt(p, s.readOff)
	}
	n := 0
	for n < len(p) {
		m, err := s.zr.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// read returns the next chunk of s, if lines are there now.
func (f *Follower) read(fl *follow, s *source) (Chunk, bool) {
	maxLine := f.opts.MaxLine
	buf := append(f.buf[:0], s.carry...)
	s.carry = s.carry[:0]
	skipped := 0
	for {
		if !s.skipping && bytes.IndexByte(buf, '\n') >= 0 {
			drop, n, data, rest := cut(buf, maxLine)
			skipped += n
			s.lines += int64(n)
			s.off += int64(drop)
			if len(data) > 0 {
				s.carry = append(s.carry, rest...)
				var first int64
				if s.known {
					first = s.lines + 1
				}
				s.lines += int64(bytes.Count(data, []byte{'\n'}))
				s.off += int64(len(data))
				return f.chunk(fl, s, data, first, skipped), true
			}
			buf = rest
			continue
		}
		if !s.skipping && len(buf) > maxLine {
			s.skipping = true
			buf = buf[:0]
		}
		if s.eof || s.f == nil {
			s.carry = append(s.carry, buf...)
			if skipped > 0 {
				return f.chunk(fl, s, nil, 0, skipped), true
			}
			return Chunk{}, false
		}
		if cap(buf) < cap(f.buf) { // buf starts past f.buf's start: make room
			buf = f.buf[:copy(f.buf[:len(buf)], buf)]
		}
		p := buf[len(buf) : len(buf)+f.opts.ChunkSize]
		if !s.gz {
			// Read no further than the size of the last poll, which made
			// sure the file was not truncated.
			p = p[:min(int64(len(p)), max(s.size-s.readOff, 0))]
		}
		n, err := s.readAt(p)
		if n > 0 && !f.sameHead(s) && !s.rotated {
			// The file at the path was truncated since the last poll, and
			// written again: what was read may be new lines at old
			// offsets. The poll handles the truncation.
			f.log.Debug("file truncated while read, waiting for the next poll", "file", s.name)
			n, err = 0, nil
			s.eof, s.recheck = true, true
		}
		start := s.readOff
		s.readOff += int64(n)
		if err != nil || n == 0 {
			s.eof = true
			if err != nil && !errors.Is(err, io.EOF) {
				f.log.Warn("read failed", "file", s.name, "err", err)
				s.broken = true
			}
		}
		if !s.skipping {
			buf = buf[:len(buf)+n]
			continue
		}
		i := bytes.IndexByte(buf[len(buf):len(buf)+n], '\n')
		if i < 0 {
			continue
		}
		s.skipping = false
		skipped++
		s.lines++
		s.off = start + int64(i) + 1
		buf = buf[len(buf)+i+1 : len(buf)+n]
	}
}

// sameHead reports whether s, a plain file, still starts with the bytes of
// its fingerprint, which it extends to the bytes there now: a file found
// empty when it was truncated, then written to, gets one, so that its
// compressed copy is known for it. A rotated file is not truncated: its
// head is read only while its fingerprint is short.
func (f *Follower) sameHead(s *source) bool {
	if s.gz || s.f == nil || s.rotated && s.fp.n >= FingerprintLen {
		return true
	}
	head, _, err := readHead(s.f, false, f.head)
	if err != nil || !s.fp.matches(head) {
		return false
	}
	if len(head) > s.fp.n {
		s.fp = newFingerprint(head)
	}
	return true
}

// cut splits buf, which starts at a line and holds at least one '\n', into
// the lines longer than maxLine at its start (drop bytes, n lines), the run
// of lines after them (data) and the rest, which starts at a line.
func cut(buf []byte, maxLine int) (drop, n int, data, rest []byte) {
	if len(buf) <= maxLine {
		i := bytes.LastIndexByte(buf, '\n')
		return 0, 0, buf[:i+1], buf[i+1:]
	}
	end := 0
	for {
		i := bytes.IndexByte(buf[end:], '\n')
		if i < 0 {
			break
		}
		if i > maxLine {
			if end > drop {
				break
			}
			n++
			drop = end + i + 1
		}
		end += i + 1
	}
	return drop, n, buf[drop:end], buf[end:]
}

// finish returns the last line of the rotated s, whose end has no '\n',
// and marks s as read to its end.
func (f *Follower) finish(fl *follow, s *source) (Chunk, bool) {
	switch {
	case s.skipping:
		s.skipping = false
		s.lines++
		s.off = s.readOff
		return f.chunk(fl, s, nil, 0, 1), true
	case len(s.carry) > 0:
		data := append(append(f.buf[:0], s.carry...), '\n')
		s.carry = s.carry[:0]
		var first int64
		if s.known {
			first = s.lines + 1
		}
		s.lines++
		s.off = s.readOff
		return f.chunk(fl, s, data, first, 0), true
	}
	return Chunk{}, false
}

// pollRotated notes whether the rotated s changed since the last poll.
func (f *Follower) pollRotated(s *source) {
	if s.f == nil || s.gz {
		return
	}
	fi, err := s.f.Stat()
	if err != nil {
		s.broken = true
		return
	}
	if fi.Size() == s.size && fi.ModTime().Equal(s.mod) {
		s.quiet++
		return
	}
	s.quiet = 0
	s.size, s.mod = fi.Size(), fi.ModTime()
	if s.size > s.readOff {
		s.eof = false
	}
}

// pollLive looks at the file at fl's path, which is s: growth, truncation.
func (f *Follower) pollLive(fl *follow, s *source, fi os.FileInfo) {
	size, mod := fi.Size(), fi.ModTime()
	if size == s.size && mod.Equal(s.mod) && s.fp.n > 0 && !s.recheck {
		return
	}
	truncated := size < s.size || size < s.readOff
	if !truncated {
		head, _, err := readHead(s.f, false, f.head)
		switch {
		case err != nil:
			f.log.Warn("read failed", "file", s.name, "err", err)
			return
		case !s.fp.matches(head):
			truncated = true
		case len(head) > s.fp.n:
			s.fp = newFingerprint(head)
		}
	}
	s.size, s.mod, s.recheck = size, mod, false
	if truncated {
		f.truncated(fl, s)
	}
	if s.size > s.readOff {
		s.eof = false
	}
}

// truncated handles the truncation of s, the file at fl's path: the lines
// written after the last read are looked for in a copy (copytruncate),
// then s is read again from its start.
func (f *Follower) truncated(fl *follow, s *source) {
	var c *source
	complete := s.fp.n == 0 // it was empty when last seen: nothing was read of it
	if !complete {
		c, complete = f.findCopy(fl, s)
	}
	switch {
	case c != nil:
		f.log.Debug("file truncated, finishing its copy first", "file", s.name, "copy", c.name)
		fl.srcs = append(fl.srcs[:len(fl.srcs)-1], c, s)
	case complete:
		f.log.Debug("file truncated after it was read to its end, reading it again from its start", "file", s.name, "bytes", s.off)
	default:
		f.log.Warn("file truncated, reading it again from its start", "file", s.name, "bytes", s.off)
	}
	s.off, s.readOff, s.lines, s.known = 0, 0, 0, true
	s.carry, s.skipping, s.eof = s.carry[:0], false, false
	s.fp = fingerprint{}
	if head, _, err := readHead(s.f, false, f.head); err == nil && len(head) > 0 {
		s.fp = newFingerprint(head)
	}
}

// open starts reading the file at fl's path: from its start, or from the
// start of its last line when atEnd. after says it replaces a rotated file,
// so that files rotated between two polls are looked for.
func (f *Follower) open(fl *follow, after, atEnd bool) {
	file, err := os.Open(fl.path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			f.log.Warn("open failed", "file", fl.path, "err", err)
		}
		return
	}
	s, err := f.newSource(fl.path, file, 0)
	if s == nil || err != nil {
		file.Close()
		if err != nil {
			f.log.Warn("open failed", "file", fl.path, "err", err)
		}
		return
	}
	if atEnd {
		f.seekEnd(s)
	}
	if after && fl.prev != nil {
		fl.srcs = append(fl.srcs, f.between(fl, *fl.prev, s)...)
	}
	fl.prev = nil
	fl.srcs = append(fl.srcs, s)
}

// seekEnd moves s to the start of its last line, complete or not, so that
// a line being written is read whole; to its end if that line is too long.
func (f *Follower) seekEnd(s *source) {
	n := min(s.size, int64(f.opts.MaxLine)+1)
	b := f.buf[:n]
	if _, err := s.f.ReadAt(b, s.size-n); err != nil && !errors.Is(err, io.EOF) {
		f.log.Warn("read failed", "file", s.name, "err", err)
	}
	switch i := bytes.LastIndexByte(b, '\n'); {
	case i >= 0:
		s.off = s.size - n + int64(i) + 1
	case n == s.size:
		s.off = 0
	default:
		s.off, s.skipping = s.size, true
	}
	s.readOff, s.known = s.off, s.off == 0
}
