package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The on-disk format; doc.go describes it.
const (
	segMagic      = "DJNL"
	segVersion    = 1
	segHeaderSize = 8
	recHeaderSize = 32
	segSuffix     = ".seg"
	// maxPayload bounds the length field read from disk, so that a corrupt
	// length is not taken for a huge record.
	maxPayload = 1 << 30
)

// castagnoli is the CRC32-C table; it is never written after creation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a record that fails its checks.
var errCorrupt = errors.New("corrupt record")

// recHeader is a decoded record header.
type recHeader struct {
	length  uint32
	crc     uint32
	seq     uint64 // record number
	cum     uint64 // samples in all records before this one
	samples uint32
}

// size is the record's size on disk, header included.
func (h recHeader) size() int64 { return recHeaderSize + int64(h.length) }

// cumEnd is the running sample total through this record.
func (h recHeader) cumEnd() uint64 { return h.cum + uint64(h.samples) }

// appendRecord appends the encoded record to buf.
func appendRecord(buf, payload []byte, seq, cum uint64, samples uint32) []byte {
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	buf = binary.LittleEndian.AppendUint32(buf, 0) // CRC, below
	buf = binary.LittleEndian.AppendUint64(buf, seq)
	buf = binary.LittleEndian.AppendUint64(buf, cum)
	buf = binary.LittleEndian.AppendUint32(buf, samples)
	buf = binary.LittleEndian.AppendUint32(buf, 0)
	buf = append(buf, payload...)
	crc := crc32.Checksum(buf[start+8:], castagnoli)
	binary.LittleEndian.PutUint32(buf[start+4:], crc)
	return buf
}

// parseHeader decodes a record header and checks the fields it can check
// without the payload.
func parseHeader(b []byte) (recHeader, error) {
	h := recHeader{
		length:  binary.LittleEndian.Uint32(b[0:]),
		crc:     binary.LittleEndian.Uint32(b[4:]),
		seq:     binary.LittleEndian.Uint64(b[8:]),
		cum:     binary.LittleEndian.Uint64(b[16:]),
		samples: binary.LittleEndian.Uint32(b[24:]),
	}
	switch {
	case binary.LittleEndian.Uint32(b[28:]) != 0:
		return h, fmt.Errorf("%w: reserved field set", errCorrupt)
	case h.length > maxPayload:
		return h, fmt.Errorf("%w: length %d", errCorrupt, h.length)
	case h.seq == 0:
		return h, fmt.Errorf("%w: record number 0", errCorrupt)
	}
	return h, nil
}

// checkCRC reports whether rec, a whole record (header and payload), matches
// the CRC in h.
func (h recHeader) checkCRC(rec []byte) error {
	if crc32.Checksum(rec[8:], castagnoli) != h.crc {
		return fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	return nil
}

// readRecordAt reads and checks the record at off, which must end by end.
func readRecordAt(f io.ReaderAt, off, end int64) (recHeader, []byte, error) {
	if off < segHeaderSize || off+recHeaderSize > end {
		return recHeader{}, nil, fmt.Errorf("%w: offset %d outside the segment's %d bytes", errCorrupt, off, end)
	}
	var hb [recHeaderSize]byte
	if _, err := f.ReadAt(hb[:], off); err != nil {
		return recHeader{}, nil, err
	}
	h, err := parseHeader(hb[:])
	if err != nil {
		return h, nil, err
	}
	if off+h.size() > end {
		return h, nil, fmt.Errorf("%w: length %d past the end of the segment", errCorrupt, h.length)
	}
	rec := make([]byte, h.size())
	copy(rec, hb[:])
	if _, err := f.ReadAt(rec[recHeaderSize:], off+recHeaderSize); err != nil {
		return h, nil, err
	}
	if err := h.checkCRC(rec); err != nil {
		return h, nil, err
	}
	return h, rec[recHeaderSize:], nil
}

// segmentHeader is the first bytes of every segment.
func segmentHeader() []byte {
	return binary.LittleEndian.AppendUint32([]byte(segMagic), segVersion)
}

// segment is what the journal knows of one segment file.
type segment struct {
	num      uint64
	size     int64  // bytes in the file
	end      int64  // offset just past the last valid record
	records  int64  // valid records
	samples  int64  // samples in the valid records
	firstSeq uint64 // number of the first record; of the next record to come when empty
	firstCum uint64 // samples in all records before the first
	lastPos  Pos    // the last valid record; Pos{num, 0} when empty
}

// endSeq is the number of the first record after the segment.
func (s *segment) endSeq() uint64 { return s.firstSeq + uint64(s.records) }

// endCum is the running sample total through the segment's last record.
func (s *segment) endCum() uint64 { return s.firstCum + uint64(s.samples) }

// segmentName is the file name of segment num.
func segmentName(num uint64) string { return fmt.Sprintf("%020d%s", num, segSuffix) }

// parseSegmentName returns the number of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	num, err := strconv.ParseUint(digits, 10, 64)
	return num, err == nil && num > 0
}

// segmentPath is the path of segment num in dir.
func segmentPath(dir string, num uint64) string { return filepath.Join(dir, segmentName(num)) }

// scanResult is what a scan found in a segment file.
type scanResult struct {
	seg      segment
	headerOK bool
	problem  error // why the scan stopped before the end of the file; nil if it did not
}

// scanSegment reads a segment file of size bytes and checks every record,
// stopping at the first one that is incomplete or fails a check. It returns
// an error only when the file cannot be read.
func scanSegment(f *os.File, num uint64, size int64) (scanResult, error) {
	res := scanResult{seg: segment{num: num, size: size, lastPos: Pos{Segment: num}}}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20)
	var hdr [segHeaderSize]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			res.problem = fmt.Errorf("segment header cut short at %d bytes", size)
			return res, nil
		}
		return res, err
	}
	if string(hdr[:]) != string(segmentHeader()) {
		res.problem = fmt.Errorf("bad segment header %q", hdr[:])
		return res, nil
	}
	res.headerOK = true
	s := &res.seg
	s.end = segHeaderSize
	var rec []byte
	for s.end < size {
		if size-s.end < recHeaderSize {
			res.problem = fmt.Errorf("record header at %d cut short", s.end)
			break
		}
		rec = grow(rec[:0], recHeaderSize)
		if _, err := io.ReadFull(br, rec); err != nil {
			return res, err
		}
		h, err := parseHeader(rec)
		if err != nil {
			res.problem = fmt.Errorf("record at %d: %w", s.end, err)
			break
		}
		if s.end+h.size() > size {
			res.problem = fmt.Errorf("record at %d: %d-byte payload cut short", s.end, h.length)
			break
		}
		rec = grow(rec, int(h.size()))
		if _, err := io.ReadFull(br, rec[recHeaderSize:]); err != nil {
			return res, err
		}
		if err := h.checkCRC(rec); err != nil {
			res.problem = fmt.Errorf("record at %d: %w", s.end, err)
			break
		}
		if s.records > 0 && (h.seq != s.endSeq() || h.cum != s.endCum()) {
			res.problem = fmt.Errorf("record at %d: %w: number %d, samples before %d; want %d, %d",
				s.end, errCorrupt, h.seq, h.cum, s.endSeq(), s.endCum())
			break
		}
		if s.records == 0 {
			s.firstSeq, s.firstCum = h.seq, h.cum
		}
		s.records++
		s.samples += int64(h.samples)
		s.lastPos = Pos{Segment: num, Offset: s.end}
		s.end += h.size()
	}
	return res, nil
}

// grow returns b with length n, reusing its array when it is large enough.
func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := make([]byte, n)
	copy(nb, b)
	return nb
}
