package tail

import (
	"bytes"
	"compress/gzip"
	"os"
	"strings"
	"testing"
	"time"
)

// onFirst sets *hook, for the test, to call fn the first time it is called.
func onFirst(t *testing.T, hook *func(string), fn func()) {
	t.Helper()
	called := false
	*hook = func(string) {
		if !called {
			called = true
			fn()
		}
	}
	t.Cleanup(func() { *hook = nil })
}

// shift rotates path as logrotate with delaycompress does while the
// follower is stopped or between two of its steps: path.1 becomes
// path.2.gz, path becomes path.1, and w writes n lines to a new path.
func shift(t *testing.T, path string, w *logWriter, n int) {
	t.Helper()
	rename(t, path+".1", path+".2")
	gzipFile(t, path+".2")
	rename(t, path, path+".1")
	w.write(n)
}

// TestResumeRenamedWhileIdentified: a rotation after the follower found
// its checkpoint's file among the rotated files, before it reads it, does
// not make it read another file that took its name: the file identified
// is the file read.
func TestResumeRenamedWhileIdentified(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	r := newReader(t, Options{ChunkSize: 64}, path)
	w.write(40)
	r.read(10)
	r.f.Close()
	w.write(20) // not read before the rotation
	rename(t, path, path+".1")
	w.write(7)
	// The checkpoint's file is found at access.log.1; it is then
	// compressed to access.log.2.gz, and another file takes its name.
	onFirst(t, &testHookSiblings, func() { shift(t, path, w, 5) })
	r.start()
	r.read(len(w.written()))
	r.check(w)
}

// TestSiblingsListedDuringRotation: a rotation while the rotated files are
// listed and opened makes the follower list them again, rather than take
// a file renamed under it for another or miss one.
func TestSiblingsListedDuringRotation(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	r := newReader(t, Options{ChunkSize: 64}, path)
	w.write(40)
	r.read(10)
	r.f.Close()
	w.write(20)
	rename(t, path, path+".1")
	w.write(7)
	// access.log.1, the checkpoint's file, is listed; by the time it is
	// opened, it is access.log.2.gz and access.log.1 is another file.
	onFirst(t, &testHookListed, func() { shift(t, path, w, 5) })
	r.start()
	r.read(len(w.written()))
	r.check(w)
	if strings.Contains(r.log.String(), "checkpoint not found") {
		t.Errorf("checkpoint not found; log:\n%s", r.log)
	}
}

// TestTruncatedBetweenPollAndRead: a copytruncate after a poll, with the
// file written again past its old size before the next read, does not
// make the follower take the new lines at the old offsets for the rest of
// the old file: it waits for the next poll, which finds the copy.
func TestTruncatedBetweenPollAndRead(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	w.write(50)
	// Polls only when the test says so: Next reads up to the size of the
	// last poll.
	r := newReader(t, Options{FromStart: true, ChunkSize: 64, PollInterval: time.Hour}, path)
	r.next(time.Second)
	if len(r.lines) == 0 || len(r.lines) >= 50 {
		t.Fatalf("read %d lines, want some of 50", len(r.lines))
	}
	copyTruncate(t, path, path+".1")
	w.write(60) // longer than the file was
	if c, ok := r.next(5 * testPoll); ok {
		t.Fatalf("chunk before the poll, read from the truncated file: %q", c.Data)
	}
	r.f.nextPoll = time.Time{}
	r.read(110)
	r.check(w)
	if strings.Contains(r.log.String(), "WARN") {
		t.Errorf("warnings:\n%s", r.log)
	}
}

// gzipAs compresses path to path.gz and removes path as a compressor that
// does not keep the modification time does (gzip -c f > f.gz, or a
// script): path.gz is modified now. keepInHeader says whether its gzip
// header has path's modification time, as gzip -c writes it.
func gzipAs(t *testing.T, path string, keepInHeader bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if keepInHeader {
		zw.ModTime = fi.ModTime()
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".gz", z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// TestRotatedOrderedByName: files rotated while the follower was stopped,
// or between two of its polls, are told apart and ordered by the numbers
// in their names, not by their modification times, which a compressor
// that does not keep them makes the time of the compression: the files
// rotated after the checkpoint's (or the file being read) are read, in
// order, and older files are not read again.
func TestRotatedOrderedByName(t *testing.T) {
	for _, tc := range []struct {
		name         string
		keepInHeader bool
		stopped      bool
	}{
		{"stopped, mtime in gzip header", true, true},
		{"stopped, no mtime in gzip header", false, true},
		{"between polls, mtime in gzip header", true, false},
		{"between polls, no mtime in gzip header", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := logPath(t, "access.log")
			old := newWriter(t, path+".4", "old")
			old.write(5)
			setMtime(t, old.path, time.Hour)
			w := newWriter(t, path, "a")
			r := newReader(t, Options{ChunkSize: 64}, path)
			w.write(40)
			r.read(10)
			if tc.stopped {
				r.f.Close()
			}
			// The follower polls only in Next: it sees none of what
			// follows until all of it is done.
			w.write(20) // the file being read, to be access.log.3.gz
			rename(t, path, path+".1")
			setMtime(t, path+".1", 3*time.Minute)
			w.write(7) // to be access.log.2.gz
			setMtime(t, path, 2*time.Minute)
			rename(t, path+".1", path+".2")
			rename(t, path, path+".1")
			w.write(6) // to be access.log.1
			rename(t, path+".2", path+".3")
			gzipAs(t, path+".3", tc.keepInHeader)
			rename(t, path+".1", path+".2")
			gzipAs(t, path+".2", tc.keepInHeader)
			rename(t, path, path+".1")
			setMtime(t, path+".1", time.Minute)
			gzipAs(t, old.path, tc.keepInHeader) // the newest modification time
			w.write(30)
			if tc.stopped {
				r.start()
			}
			r.read(len(w.written()))
			r.check(w)
		})
	}
}

// TestNewer: how rotated files are ordered.
func TestNewer(t *testing.T) {
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	c := func(sep byte, rest string, mod time.Time, gzMod time.Time) *candidate {
		return &candidate{name: "access.log" + string(sep) + rest, gz: isGz(rest), mod: mod, gzMod: gzMod, rank: rankOf(sep, rest)}
	}
	now := base.Add(time.Hour)
	for _, tc := range []struct {
		name string
		a, b *candidate
		want int // sign of newer(a, b)
	}{
		{"numbered", c('.', "1", base, time.Time{}), c('.', "2.gz", now, time.Time{}), 1},
		{"numbered past 9", c('.', "10.gz", now, time.Time{}), c('.', "9.gz", base, time.Time{}), -1},
		{"dated", c('-', "20261125.gz", base, time.Time{}), c('-', "20261124", now, time.Time{}), 1},
		{"dated dots", c('.', "2026-11-25", base, time.Time{}), c('.', "2026-11-24", now, time.Time{}), 1},
		{"same number: times", c('.', "2", base, time.Time{}), c('.', "2.gz", now, time.Time{}), -1},
		{"unnumbered: times", c('.', "old", now, time.Time{}), c('.', "older", base, time.Time{}), 1},
		{"numbered and dated: times", c('.', "1", base, time.Time{}), c('-', "20261125", now, time.Time{}), -1},
		{"gzip header time when the file's is not kept", c('.', "a.gz", now, base), c('.', "b", base.Add(time.Minute), time.Time{}), -1},
		{"the file's time when kept", c('.', "a.gz", base.Add(900*time.Millisecond), base), c('.', "b.gz", base.Add(100*time.Millisecond), base), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := newer(tc.a, tc.b)
			if got > 0 {
				got = 1
			} else if got < 0 {
				got = -1
			}
			if got != tc.want {
				t.Errorf("newer(%s, %s) = %d, want %d", tc.a.name, tc.b.name, got, tc.want)
			}
		})
	}
}

// TestCopyTruncateAfterAllRead: a copytruncate after every line was read
// loses nothing: the file is read again from its start without a warning.
func TestCopyTruncateAfterAllRead(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	r := newReader(t, Options{}, path)
	w.write(50)
	r.read(50)
	copyTruncate(t, path, path+".1")
	w.write(10)
	r.read(60)
	r.check(w)
	if strings.Contains(r.log.String(), "WARN") || !strings.Contains(r.log.String(), "read to its end") {
		t.Errorf("want the truncation logged at debug level; log:\n%s", r.log)
	}
}

// TestResumeEmptyPath: when the file at the path is empty at a restart
// from a rotated file, the files rotated after it before the path has
// lines are read: here the empty file, renamed and then written to by a
// writer that did not reopen the path yet.
func TestResumeEmptyPath(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	r := newReader(t, Options{ChunkSize: 64}, path)
	w.write(40)
	r.read(10)
	r.f.Close()
	w.write(20)
	rename(t, path, path+".1")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r.start()
	// The follower polls only in Next: it sees none of what follows until
	// all of it is done.
	rename(t, path+".1", path+".2")
	rename(t, path, path+".1")
	old := newWriter(t, path+".1", "a")
	old.n, old.lines = w.n, w.lines
	old.write(7)
	w2 := newWriter(t, path, "a")
	w2.n = old.n
	w2.write(5)
	r.read(old.n + 5)
	r.check(old, w2)
}

// TestRotatedEmptyFile: a compressed empty file among the files rotated
// while the follower was stopped (the copy of an empty file by
// copytruncate, compressed) is not taken for a copy of every other one.
func TestRotatedEmptyFile(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	r := newReader(t, Options{ChunkSize: 64}, path)
	w.write(40)
	r.read(10)
	r.f.Close()
	w.write(20)
	rename(t, path, path+".4")
	w.write(7)
	rename(t, path, path+".3")
	if err := os.WriteFile(path+".2", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{".4", ".3", ".2"} {
		gzipFile(t, path+n)
	}
	w.write(30)
	r.start()
	r.read(len(w.written()))
	r.check(w)
}

// TestTruncatedEmptyThenRotated: a file found empty when it was truncated,
// then rotated while still empty and written to afterwards (by a writer
// that has not reopened its path yet), is read with a fingerprint: its
// positions are checkpoints that a restart finds.
func TestTruncatedEmptyThenRotated(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	w.write(20)
	// Polls only when the test says so.
	r := newReader(t, Options{FromStart: true, ChunkSize: 64, PollInterval: time.Hour}, path)
	poll := func() {
		r.f.nextPoll = time.Time{}
		r.next(time.Millisecond)
	}
	r.read(20)
	copyTruncate(t, path, path+".1")
	poll() // sees the file truncated, empty
	rename(t, path+".1", path+".2")
	rename(t, path, path+".1")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	poll() // sees it rotated, still empty
	old := newWriter(t, path+".1", "a")
	old.n, old.lines = w.n, w.lines
	old.write(30)
	poll() // sees it written to
	r.read(25)
	if p := r.pos[path]; p.FPLen == 0 {
		t.Fatalf("position without a fingerprint: %+v", p)
	}
	r.restart()
	w2 := newWriter(t, path, "a")
	w2.n = old.n
	w2.write(5)
	for deadline := time.Now().Add(10 * time.Second); len(r.lines) < old.n+5 && time.Now().Before(deadline); {
		poll()
	}
	r.check(old, w2)
}

// TestNextTruncatedWhileListed: when the file at the path, opened after a
// restart from a rotated file, is truncated by copytruncate and its new
// lines rotated and compressed before the files rotated in between are
// listed, those new lines are read once: from the file, after its copy,
// not also from their compressed copy.
func TestNextTruncatedWhileListed(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	r := newReader(t, Options{ChunkSize: 64}, path)
	w.write(40)
	r.read(10)
	r.f.Close()
	w.write(20)
	rename(t, path, path+".1")
	w.write(7) // the file at the path at the restart, opened after the checkpoint's is found
	calls := 0
	testHookListed = func(string) {
		if calls++; calls != 2 { // the listing of the files between the two
			return
		}
		rename(t, path+".1", path+".2")
		copyTruncate(t, path, path+".1")
		w.write(5) // new lines of the file at the path
		rename(t, path+".2", path+".3")
		rename(t, path+".1", path+".2")
		rename(t, path, path+".1")
		w.write(6)
		rename(t, path+".3", path+".4")
		rename(t, path+".2", path+".3")
		gzipFile(t, path+".1")
		rename(t, path+".1.gz", path+".2.gz") // the new lines, compressed
		rename(t, path, path+".1")
		w.write(8)
	}
	t.Cleanup(func() { testHookListed = nil })
	r.start()
	r.read(len(w.written()))
	r.check(w)
}

// TestSlowScanQuiet: a scan that takes longer than the poll interval (a
// slow restart among many rotated files) is not followed at once by
// another poll, which would take a rotated file that is still written to
// for finished after two polls a moment apart.
func TestSlowScanQuiet(t *testing.T) {
	const poll = 200 * time.Millisecond
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	w.write(20)
	r := newReader(t, Options{FromStart: true, PollInterval: poll}, path)
	r.read(20)
	r.f.Close()
	w.write(5)
	rename(t, path, path+".1")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	onFirst(t, &testHookSiblings, func() { time.Sleep(2 * poll) })
	r.start()
	r.read(25)
	// The writer has not reopened the path yet.
	old := newWriter(t, path+".1", "a")
	old.n, old.lines = w.n, w.lines
	old.write(5)
	w2 := newWriter(t, path, "a")
	w2.n = old.n
	w2.write(5)
	r.read(35)
	r.check(old, w2)
}
