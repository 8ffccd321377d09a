package tail

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no globs", Options{}, "no files to follow"},
		{"bad glob", Options{Globs: []string{"/var/log/[a"}}, `glob "/var/log/[a": syntax error in pattern`},
		{"negative", Options{Globs: []string{"/x"}, MaxLine: -1}, "negative poll interval, max line or chunk size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts, nil)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestStart checks where a file found at New starts: its end by default
// (the line being written read whole), its start with FromStart, its
// checkpoint when it has one.
func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fromStart bool
		want      []string
	}{
		{"end", false, []string{"a 3", "a 4"}},
		{"start", true, []string{"a 1", "a 2", "a 3", "a 4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := logPath(t, "access.log")
			w := newWriter(t, path, "a")
			w.write(2)
			w.partial()
			r := newReader(t, Options{FromStart: tc.fromStart}, path)
			w.end()
			w.write(1)
			r.read(len(tc.want))
			r.idle()
			r.checkLines(tc.want)
		})
	}
}

// TestAppend: lines are given as they are written; a partial last line
// waits for its newline; line numbers count from the start.
func TestAppend(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	r := newReader(t, Options{ChunkSize: 100}, path)
	w.write(100)
	r.read(50)
	w.partial()
	r.read(100)
	r.idle()
	w.end()
	c, ok := r.next(5 * time.Second)
	if !ok || string(c.Data) != "a 101\n" || c.FirstLine != 101 || c.Path != path || c.From != path {
		t.Fatalf("chunk %+v, want line 101", c)
	}
	if fi, _ := os.Stat(path); c.Pos.Offset != fi.Size() || int64(c.Pos.FPLen) != min(fi.Size(), FingerprintLen) {
		t.Errorf("position %+v, want offset %d and fingerprint of the whole file", c.Pos, fi.Size())
	}
	r.check(w)
}

// TestRotateRename: the renamed file is finished (also what is written to
// it after the rename, its last line without a newline), then the new one
// is read from its start.
func TestRotateRename(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	w.write(50)
	r := newReader(t, Options{ChunkSize: 64, FromStart: true}, path)
	r.read(20)
	rename(t, path, path+".1")
	old := newWriter(t, path+".1", "a")
	old.n, old.lines = w.n, w.lines
	old.write(5)
	old.unterminated()
	w2 := newWriter(t, path, "a")
	w2.n = old.n
	w2.write(40)
	r.read(old.n + 40)
	r.check(old, w2)
}

// TestRotateTwiceBetweenPolls: a file rotated in and out between two polls
// is found among the rotated files and read between the two others.
func TestRotateTwiceBetweenPolls(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	w.write(30)
	setMtime(t, path, 2*time.Minute)
	old := newWriter(t, path+".3", "old")
	old.write(5)
	setMtime(t, old.path, time.Hour)
	gzipFile(t, old.path)
	r := newReader(t, Options{FromStart: true, ChunkSize: 64}, path)
	r.read(10)
	// The follower polls only in Next: it sees none of what follows until
	// all of it is done.
	rename(t, path, path+".1")
	w.write(7)
	rename(t, path+".1", path+".2")
	rename(t, path, path+".1")
	w.write(5)
	r.read(42)
	r.check(w)
	if !strings.Contains(r.log.String(), "reading file rotated while not followed") {
		t.Errorf("the file between was not looked for; log:\n%s", r.log)
	}
}

// TestCopyTruncate: the lines written between the last read and the
// truncation are read from the copy, then the file again from its start;
// also when the file has grown past the old offset before the next poll.
func TestCopyTruncate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after int
	}{
		{"shorter", 5},
		{"longer", 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := logPath(t, "access.log")
			w := newWriter(t, path, "a")
			r := newReader(t, Options{}, path)
			w.write(100)
			r.read(100)
			w.write(30)
			copyTruncate(t, path, path+".1")
			w.write(tc.after)
			r.read(130 + tc.after)
			r.check(w)
			if strings.Contains(r.log.String(), "WARN") {
				t.Errorf("warnings:\n%s", r.log)
			}
		})
	}
}

// TestTruncate: a file truncated without a copy is read again from its
// start, with a warning.
func TestTruncate(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	r := newReader(t, Options{}, path)
	w.write(50)
	r.read(50)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	r.idle()
	w.write(10)
	r.read(60)
	r.check(w)
	if !strings.Contains(r.log.String(), "file truncated, reading it again from its start") {
		t.Errorf("no warning in log:\n%s", r.log)
	}
}

// TestInodeReuse: a checkpoint whose device and inode are those of the
// file at the path, but not its fingerprint, is of another file: the file
// is read from its start.
func TestInodeReuse(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	r := newReader(t, Options{}, path)
	w.write(50)
	r.read(50)
	r.f.Close()
	// The same inode with other content, as when a file is deleted and its
	// inode given to a new file.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	w2 := newWriter(t, path, "b")
	w2.write(60)
	r.start()
	r.read(110)
	r.check(w, w2)
	if !strings.Contains(r.log.String(), "checkpoint not found") {
		t.Errorf("no warning in log:\n%s", r.log)
	}
}

// TestNewFiles: files that match a glob later are read from their start;
// rotated siblings that match it are not followed.
func TestNewFiles(t *testing.T) {
	dir := t.TempDir()
	a := newWriter(t, filepath.Join(dir, "a.log"), "a")
	a.write(3)
	r := newReader(t, Options{}, filepath.Join(dir, "*"))
	a.write(2)
	r.read(2)
	b := newWriter(t, filepath.Join(dir, "b.log"), "b")
	b.write(10)
	for _, name := range []string{"a.log.1", "a.log-20261125", "c.log.2.gz", "c.log.3"} {
		newWriter(t, filepath.Join(dir, name), "old").write(1)
	}
	r.read(12)
	r.idle()
	r.checkLines(append(a.written()[3:], b.written()...))
	if lag := r.f.Lag(); len(lag) != 2 || lag[0].Path != a.path || lag[1].Path != b.path || lag[1].Bytes != 0 || lag[1].LastRead.IsZero() {
		t.Errorf("lag %+v, want a.log and b.log, read", lag)
	}
}

// TestDeleteRecreate: a deleted file is finished from the open file, then
// the new file at its path read from its start.
func TestDeleteRecreate(t *testing.T) {
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	r := newReader(t, Options{ChunkSize: 64}, path)
	w.write(30)
	r.read(5)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	r.read(30)
	r.idle()
	w.write(30)
	r.read(60)
	r.check(w)
}

// TestSymlink: when the link is retargeted, the old target is finished,
// then the new one read from its start.
func TestSymlink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "current.log")
	t1 := newWriter(t, filepath.Join(dir, "app-1.log"), "a")
	t1.write(10)
	if err := os.Symlink("app-1.log", link); err != nil {
		t.Fatal(err)
	}
	r := newReader(t, Options{FromStart: true, ChunkSize: 32}, link)
	r.read(3)
	if err := os.Symlink("app-2.log", link+".tmp"); err != nil {
		t.Fatal(err)
	}
	t2 := newWriter(t, filepath.Join(dir, "app-2.log"), "b")
	t2.write(10)
	rename(t, link+".tmp", link)
	t1.write(5)
	r.read(25)
	r.check(t1, t2)
}

// TestRotatedWhileStopped: rotations while the follower was stopped are
// caught up from the committed checkpoint, compressed files included,
// without reading older rotated files.
func TestRotatedWhileStopped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rotate func(t *testing.T, path string, w *logWriter) // rotates once or more, writing
		lost   bool
	}{
		{"rename then gzip", func(t *testing.T, path string, w *logWriter) {
			rename(t, path, path+".1")
			setMtime(t, path+".1", time.Minute)
			gzipFile(t, path+".1")
		}, false},
		{"twice", func(t *testing.T, path string, w *logWriter) {
			rename(t, path, path+".1")
			setMtime(t, path+".1", 2*time.Minute)
			w.write(7)
			setMtime(t, path, time.Minute)
			rename(t, path+".1", path+".2")
			gzipFile(t, path+".2")
			rename(t, path, path+".1")
		}, false},
		{"dated", func(t *testing.T, path string, w *logWriter) {
			rename(t, path, path+"-20261124")
			setMtime(t, path+"-20261124", 2*time.Minute)
			w.write(7)
			setMtime(t, path, time.Minute)
			rename(t, path, path+"-20261125")
			gzipFile(t, path+"-20261125")
			gzipFile(t, path+"-20261124")
		}, false},
		{"copytruncate then gzip", func(t *testing.T, path string, w *logWriter) {
			copyTruncate(t, path, path+".1")
			setMtime(t, path+".1", time.Minute)
			gzipFile(t, path+".1")
		}, false},
		{"first rotation deleted", func(t *testing.T, path string, w *logWriter) {
			rename(t, path, path+".1")
			w.write(7)
			rename(t, path+".1", path+".2")
			rename(t, path, path+".1")
			os.Remove(path + ".2")
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := logPath(t, "access.log")
			old := newWriter(t, path+".3", "old")
			old.write(5)
			setMtime(t, old.path, time.Hour)
			gzipFile(t, old.path)
			w := newWriter(t, path, "a")
			r := newReader(t, Options{ChunkSize: 64}, path)
			w.write(40)
			r.read(10)
			n := len(r.lines)
			r.f.Close()
			w.write(20) // not read before the rotation
			tc.rotate(t, path, w)
			w.write(30) // the new file
			r.start()
			if !tc.lost {
				r.read(len(w.written()))
				r.check(w)
				return
			}
			r.read(n + 30)
			r.idle()
			r.checkLines(append(w.written()[:n:n], w.written()[len(w.written())-30:]...))
			if !strings.Contains(r.log.String(), "checkpoint not found") {
				t.Errorf("no warning in log:\n%s", r.log)
			}
		})
	}
}

// TestRestart: a follower closed mid-stream and started again from the
// positions of the chunks it handed out neither loses nor repeats a line.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	a := newWriter(t, filepath.Join(dir, "a.log"), "a")
	b := newWriter(t, filepath.Join(dir, "b.log"), "b")
	a.write(1)
	b.write(1)
	r := newReader(t, Options{ChunkSize: 50, FromStart: true}, filepath.Join(dir, "*.log"))
	for i := range 20 {
		a.write(13)
		if i%3 == 0 {
			a.partial()
			b.write(7)
			a.end()
		}
		r.read(len(r.lines) + 5)
		r.restart()
	}
	r.read(len(a.written()) + len(b.written()))
	r.check(a, b)
}

// TestLongLines: lines longer than MaxLine are dropped and counted, where
// ever they start and end, and the lines around them are read.
func TestLongLines(t *testing.T) {
	path := logPath(t, "access.log")
	r := newReader(t, Options{MaxLine: 40, ChunkSize: 32}, path)
	long := "x " + strings.Repeat("y", 100) + "\n"
	w := newWriter(t, path, "a")
	w.write(3)
	w.append([]byte(long + long))
	w.write(3)
	w.append([]byte(strings.Repeat("z", 45)))
	r.read(6)
	w.append([]byte("\n"))
	w.write(2)
	w.append([]byte(strings.Repeat("z", 41) + "\n"))
	r.read(8)
	// A long last line without a newline in a rotated file.
	w.append([]byte(long[:80]))
	rename(t, path, path+".1")
	for deadline := time.Now().Add(5 * time.Second); r.skipped < 5 && time.Now().Before(deadline); {
		r.next(time.Second)
	}
	r.check(w)
	if r.skipped != 5 {
		t.Errorf("skipped %d lines, want 5", r.skipped)
	}
}

// TestFair: a busy file does not keep a quiet one waiting.
func TestFair(t *testing.T) {
	dir := t.TempDir()
	busy := newWriter(t, filepath.Join(dir, "busy.log"), "busy")
	quiet := newWriter(t, filepath.Join(dir, "quiet.log"), "quiet")
	busy.write(1)
	quiet.write(1)
	r := newReader(t, Options{ChunkSize: 1024, FromStart: true}, filepath.Join(dir, "*.log"))
	r.read(2)
	busy.write(20000)
	quiet.write(1)
	r.f.nextPoll = time.Time{}
	for range 3 {
		r.next(5 * time.Second)
	}
	if !strings.Contains(strings.Join(r.lines, "\n"), "quiet 2") {
		t.Fatalf("quiet line not among the first 3 chunks")
	}
	if lag := r.f.Lag(); lag[0].Bytes < 100000 {
		t.Errorf("lag %+v, want busy.log behind", lag)
	}
	r.read(20003)
	r.check(busy, quiet)
}

// TestSoak appends while rotating by rename and by copytruncate, compressing
// old files, and restarts the follower every few chunks, sometimes only
// after two rotations: every line is read exactly once.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	path := logPath(t, "access.log")
	w := newWriter(t, path, "a")
	w.write(1)
	r := newReader(t, Options{ChunkSize: 512, FromStart: true}, path)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rotated := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(3 * time.Millisecond)
		defer tick.Stop()
		rotations := 0
		for i := 0; ctx.Err() == nil; i++ {
			<-tick.C
			w.write(1 + i%17)
			if i%40 != 39 {
				continue
			}
			rotations++
			for k := rotations; k >= 1; k-- {
				from, to := path+"."+strconv.Itoa(k), path+"."+strconv.Itoa(k+1)
				if _, err := os.Stat(from); err == nil {
					rename(t, from, to)
				} else if _, err := os.Stat(from + ".gz"); err == nil {
					rename(t, from+".gz", to+".gz")
				}
			}
			if rotations%3 == 0 {
				copyTruncate(t, path, path+".1")
			} else {
				rename(t, path, path+".1")
			}
			if _, err := os.Stat(path + ".2"); err == nil {
				gzipFile(t, path+".2")
			}
			select {
			case rotated <- struct{}{}:
			default:
			}
		}
	}()
	restarts := 0
	for chunks := 0; ctx.Err() == nil; chunks++ {
		r.next(time.Second)
		if chunks%5 != 4 {
			continue
		}
		r.f.Close()
		if restarts++; restarts%6 == 0 {
			for range 3 { // the first may be of a rotation before Close
				select {
				case <-rotated:
				case <-ctx.Done():
				}
			}
		}
		r.start()
	}
	<-done
	r.read(len(w.written()))
	r.check(w)
	t.Logf("%d lines, %d restarts; log: %d resumed in a rotated file, %d copies read, %d files rotated while not followed",
		len(r.lines), restarts, strings.Count(r.log.String(), "resuming in rotated file"),
		strings.Count(r.log.String(), "finishing its copy"), strings.Count(r.log.String(), "rotated while not followed"))
}
