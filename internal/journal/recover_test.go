package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// segFiles returns the segment files in dir, oldest first.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// flipByte inverts the byte at off in the file at path.
func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// appendFile appends b to the file at path.
func appendFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestTornTail(t *testing.T) {
	const (
		records = 20
		recSize = recHeaderSize + 100
		full    = segHeaderSize + records*recSize
	)
	garbage := []byte(strings.Repeat("\x17garbage\x00\xff", 20))
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
		keep   uint64 // records left
	}{
		{"cut in the last header", func(t *testing.T, path string) { os.Truncate(path, full-recSize+10) }, records - 1},
		{"cut in the last payload", func(t *testing.T, path string) { os.Truncate(path, full-50) }, records - 1},
		{"cut after the first header", func(t *testing.T, path string) { os.Truncate(path, segHeaderSize+recHeaderSize) }, 0},
		{"cut in the segment header", func(t *testing.T, path string) { os.Truncate(path, 5) }, 0},
		{"garbage after the last record", func(t *testing.T, path string) { appendFile(t, path, garbage) }, records},
		{"zeros after the last record", func(t *testing.T, path string) { appendFile(t, path, make([]byte, 4096)) }, records},
		{"bad checksum in the last record", func(t *testing.T, path string) { flipByte(t, path, full-1) }, records - 1},
		{"bad checksum in a middle record", func(t *testing.T, path string) { flipByte(t, path, full-5*recSize+40) }, records - 5},
		{"cut and garbage", func(t *testing.T, path string) {
			os.Truncate(path, full-70)
			appendFile(t, path, garbage)
		}, records - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentBytes: 1 << 20, MaxBytes: 4 << 20}
			j := openJournal(t, dir, opts, nil)
			if _, err := j.ConsumerWith("c", ConsumerOptions{FromStart: true}); err != nil {
				t.Fatal(err)
			}
			appendN(t, j, 1, records, fixed(100), fixed(1))
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			path := segFiles(t, dir)[0]
			tc.damage(t, path)

			var logs logBuffer
			j = openJournal(t, dir, opts, &logs)
			if st := j.Stats(); st.Records != int64(tc.keep) {
				t.Fatalf("%d records after recovery, want %d; log:\n%s", st.Records, tc.keep, logs.String())
			}
			if tc.keep < records && !strings.Contains(logs.String(), "level=WARN") {
				t.Fatalf("no warning about the damage; log:\n%s", logs.String())
			}
			if fi, _ := os.Stat(path); fi.Size() != segHeaderSize+int64(tc.keep)*recSize {
				t.Fatalf("segment of %d bytes after recovery, want %d", fi.Size(), segHeaderSize+int64(tc.keep)*recSize)
			}
			appendN(t, j, tc.keep+1, tc.keep+1, fixed(100), fixed(1))
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}

			logs = logBuffer{}
			j = openJournal(t, dir, opts, &logs)
			if strings.Contains(logs.String(), "level=WARN") {
				t.Fatalf("second open warns:\n%s", logs.String())
			}
			r, err := j.Consumer("c")
			if err != nil {
				t.Fatal(err)
			}
			checkRun(t, readToEnd(t, r), 1, tc.keep+1)
			if rec, _, ok, err := j.Last(); err != nil || !ok || number(t, rec) != tc.keep+1 {
				t.Fatalf("last: ok %v err %v", ok, err)
			}
		})
	}
}

// fiveSegments fills dir with records 1..30 of 100 bytes, 7 to a segment,
// record n holding n samples, and a consumer "c" that acknowledged none.
func fiveSegments(t *testing.T, dir string, opts Options) {
	t.Helper()
	j := openJournal(t, dir, opts, nil)
	if _, err := j.ConsumerWith("c", ConsumerOptions{FromStart: true}); err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 30, fixed(100), func(n uint64) int { return int(n) })
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(segFiles(t, dir)); n != 5 {
		t.Fatalf("%d segments, want 5", n)
	}
}

func TestCorruptOlderSegment(t *testing.T) {
	const recSize = recHeaderSize + 100
	opts := Options{SegmentBytes: 1024, MaxBytes: 1 << 20}

	t.Run("found by Open", func(t *testing.T) {
		dir := t.TempDir()
		fiveSegments(t, dir, opts)
		flipByte(t, segFiles(t, dir)[0], segHeaderSize+2*recSize+60) // record 3
		var logs logBuffer
		j := openJournal(t, dir, opts, &logs)
		if !strings.Contains(logs.String(), "corrupt journal segment") {
			t.Fatalf("no warning; log:\n%s", logs.String())
		}
		r, err := j.Consumer("c")
		if err != nil {
			t.Fatal(err)
		}
		gs := readToEnd(t, r)
		checkRun(t, gs[:2], 1, 2)
		checkRun(t, gs[2:], 8, 30)
		if st := j.Stats(); st.Records != 25 {
			t.Fatalf("%d records, want 25", st.Records)
		}
	})

	t.Run("found by Next", func(t *testing.T) {
		dir := t.TempDir()
		fiveSegments(t, dir, opts)
		var logs logBuffer
		j := openJournal(t, dir, opts, &logs)
		r, err := j.Consumer("c")
		if err != nil {
			t.Fatal(err)
		}
		flipByte(t, segFiles(t, dir)[1], segHeaderSize+recSize+60) // record 9
		gs := readToEnd(t, r)
		checkRun(t, gs[:8], 1, 8)
		checkRun(t, gs[8:], 15, 30)
		if !strings.Contains(logs.String(), "corrupt journal record") {
			t.Fatalf("no warning; log:\n%s", logs.String())
		}
	})
}

func TestEmptyLastSegment(t *testing.T) {
	opts := Options{SegmentBytes: 1024, MaxBytes: 1 << 20}
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"no bytes", nil},
		{"half a header", segmentHeader()[:3]},
		{"header only", segmentHeader()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fiveSegments(t, dir, opts)
			files := segFiles(t, dir)
			// A crash between creating a segment and writing to it.
			if err := os.WriteFile(segmentPath(dir, uint64(len(files)+1)), tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			j := openJournal(t, dir, opts, nil)
			if rec, _, ok, err := j.Last(); err != nil || !ok || number(t, rec) != 30 {
				t.Fatalf("last: ok %v err %v", ok, err)
			}
			if n := len(segFiles(t, dir)); n != len(files) {
				t.Fatalf("%d segment files, want %d", n, len(files))
			}
			appendN(t, j, 31, 40, fixed(100), fixed(1))
			r, err := j.Consumer("c")
			if err != nil {
				t.Fatal(err)
			}
			checkRun(t, readToEnd(t, r), 1, 40)
		})
	}
}

func TestDamagedConsumerFile(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1024, MaxBytes: 1 << 20}
	fiveSegments(t, dir, opts)
	if err := os.WriteFile(filepath.Join(dir, consumersDir, "c"), []byte("{\"acked\":"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	j := openJournal(t, dir, opts, &logs)
	if !strings.Contains(logs.String(), "damaged journal consumer file") {
		t.Fatalf("no warning; log:\n%s", logs.String())
	}
	r, err := j.Consumer("c")
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, readToEnd(t, r), 1, 30)
}

func TestDropsCountedAtOpen(t *testing.T) {
	// The bound deleted segments, then the process died before it saved
	// the consumer: Open counts the loss from the record numbers.
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1024, MaxBytes: 1 << 20}
	fiveSegments(t, dir, opts)
	files := segFiles(t, dir)
	for _, f := range files[:2] { // records 1..14
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	var onDrop []drop
	opts.OnDrop = func(c string, recs, samples int64) { onDrop = append(onDrop, drop{c, recs, samples}) }
	j := openJournal(t, dir, opts, nil)
	want := drop{"c", 14, 14 * 15 / 2}
	if len(onDrop) != 1 || onDrop[0] != want {
		t.Fatalf("OnDrop calls %+v, want %+v", onDrop, want)
	}
	cs := consumerStats(t, j, "c")
	if cs.DroppedRecords != 14 || cs.DroppedSamples != want.samples || cs.DroppedRecordsTotal != 14 || cs.DroppedSamplesTotal != want.samples {
		t.Fatalf("consumer %+v, want 14 records and %d samples dropped", cs, want.samples)
	}
	r, err := j.Consumer("c")
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, readToEnd(t, r), 15, 30)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, dir, opts, nil)
	if cs := consumerStats(t, j, "c"); cs.DroppedRecords != 0 || cs.DroppedRecordsTotal != 14 {
		t.Fatalf("after another restart %+v: want 0 dropped since open, 14 in total", cs)
	}
}

func TestConsumerAheadOfLostTail(t *testing.T) {
	// Power lost without Sync: the consumer file survived, the tail of
	// the segment did not.
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1 << 20, MaxBytes: 4 << 20}
	j := openJournal(t, dir, opts, nil)
	r, err := j.Consumer("c")
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 20, fixed(100), fixed(1))
	gs := readN(t, r, 20)
	if err := r.Ack(gs[19].pos); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	os.Truncate(segFiles(t, dir)[0], gs[10].pos.Offset)

	var logs logBuffer
	j = openJournal(t, dir, opts, &logs)
	if !strings.Contains(logs.String(), "consumer ahead") {
		t.Fatalf("no warning; log:\n%s", logs.String())
	}
	r, err = j.Consumer("c")
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 11, 12, fixed(100), fixed(1))
	checkRun(t, readN(t, r, 2), 11, 12)
}
