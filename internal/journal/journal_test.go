package journal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRoundTripAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4096, MaxBytes: 1 << 20}
	j := openJournal(t, dir, opts, nil)
	if _, _, ok, err := j.Last(); ok || err != nil {
		t.Fatalf("last of an empty journal: ok %v, err %v", ok, err)
	}
	r, err := j.ConsumerWith("tsdb", ConsumerOptions{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	ps := appendN(t, j, 1, 100, func(n uint64) int { return 100 + int(n) }, func(n uint64) int { return int(n) })
	gs := readN(t, r, 100)
	checkRun(t, gs, 1, 100)
	for i, g := range gs {
		if g.pos != ps[i] || g.samples != int(g.n) {
			t.Fatalf("record %d: pos %s samples %d, want %s %d", g.n, g.pos, g.samples, ps[i], g.n)
		}
	}
	if st := j.Stats(); st.Segments < 3 || st.Records != 100 || st.Samples != 5050 || st.Last != ps[99] {
		t.Fatalf("stats %+v: want 100 records, 5050 samples over 3 or more segments, last %s", st, ps[99])
	}
	if err := r.Ack(gs[59].pos); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(payload(101, 8), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}

	j = openJournal(t, dir, opts, nil)
	rec, pos, ok, err := j.Last()
	if err != nil || !ok || number(t, rec) != 100 || pos != ps[99] {
		t.Fatalf("last after restart: ok %v, err %v, pos %s, want record 100 at %s", ok, err, pos, ps[99])
	}
	cs := consumerStats(t, j, "tsdb")
	var wantSamples int64
	for n := int64(61); n <= 100; n++ {
		wantSamples += n
	}
	if cs.PendingRecords != 40 || cs.PendingSamples != wantSamples || cs.Acked != ps[59] {
		t.Fatalf("consumer after restart %+v: want 40 records, %d samples pending, acked %s", cs, wantSamples, ps[59])
	}
	r, err = j.Consumer("tsdb")
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, readN(t, r, 40), 61, 100)
	appendN(t, j, 101, 110, fixed(50), fixed(1))
	checkRun(t, readN(t, r, 10), 101, 110)
}

func TestNewConsumerStartsAtEnd(t *testing.T) {
	j := openJournal(t, t.TempDir(), Options{}, nil)
	appendN(t, j, 1, 10, fixed(64), fixed(1))
	late, err := j.Consumer("late")
	if err != nil {
		t.Fatal(err)
	}
	early, err := j.ConsumerWith("replay", ConsumerOptions{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	if cs := consumerStats(t, j, "late"); cs.PendingRecords != 0 {
		t.Fatalf("new consumer has %d pending records, want 0", cs.PendingRecords)
	}
	appendN(t, j, 11, 12, fixed(64), fixed(1))
	checkRun(t, readN(t, late, 2), 11, 12)
	checkRun(t, readN(t, early, 12), 1, 12)
}

func TestNextWaits(t *testing.T) {
	j := openJournal(t, t.TempDir(), Options{}, nil)
	r, err := j.Consumer("c")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := r.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("next with a cancelled context: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, _, err := r.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("next on an empty journal: %v, want the deadline", err)
	}

	// A waiting Next wakes on Append.
	type result struct {
		n   uint64
		err error
	}
	res := make(chan result)
	go func() {
		rec, _, _, err := r.Next(context.Background())
		n, _ := decode(rec)
		res <- result{n: n, err: err}
	}()
	appendN(t, j, 1, 1, fixed(8), fixed(0))
	if got := <-res; got.err != nil || got.n != 1 {
		t.Fatalf("waiting next: %+v, want record 1", got)
	}

	// Closing the journal wakes a waiting Next with ErrClosed.
	go func() {
		_, _, _, err := r.Next(context.Background())
		res <- result{err: err}
	}()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-res; !errors.Is(got.err, ErrClosed) {
		t.Fatalf("next across close: %v, want ErrClosed", got.err)
	}
}

func TestReaderClose(t *testing.T) {
	j := openJournal(t, t.TempDir(), Options{}, nil)
	r, err := j.Consumer("c")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Consumer("c"); err == nil {
		t.Fatal("a second reader for one consumer was allowed")
	}
	if err := j.RemoveConsumer("c"); err == nil {
		t.Fatal("removing a consumer with an open reader was allowed")
	}
	res := make(chan error)
	go func() {
		_, _, _, err := r.Next(context.Background())
		res <- err
	}()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Fatalf("next across reader close: %v, want ErrClosed", err)
	}
	if _, err := j.Consumer("c"); err != nil {
		t.Fatalf("reopening a closed reader: %v", err)
	}
}

func TestConsumerNames(t *testing.T) {
	j := openJournal(t, t.TempDir(), Options{}, nil)
	for _, name := range []string{"", ".hidden", "a/b", "../x", "a b", strings.Repeat("x", 129)} {
		if _, err := j.Consumer(name); err == nil {
			t.Errorf("consumer name %q accepted", name)
		}
	}
	for _, name := range []string{"tsdb", "remote_write.mimir-1", "OpenTSDB"} {
		if _, err := j.Consumer(name); err != nil {
			t.Errorf("consumer name %q: %v", name, err)
		}
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"tiny segments", Options{SegmentBytes: 100}, "segment size 100 below 256 bytes"},
		{"bound under two segments", Options{SegmentBytes: 1 << 20, MaxBytes: 1 << 20}, "max size 1048576 below twice the segment size 1048576"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(t.TempDir(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("open: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAppendLimits(t *testing.T) {
	j := openJournal(t, t.TempDir(), Options{SegmentBytes: 1024, MaxBytes: 4096}, nil)
	if _, err := j.Append(make([]byte, 1024-40+1), 1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("append of a record larger than a segment: %v, want ErrTooLarge", err)
	}
	if _, err := j.Append(make([]byte, 1024-40), 1); err != nil {
		t.Fatalf("append of a record that just fits: %v", err)
	}
	if _, err := j.Append(nil, -1); err == nil {
		t.Fatal("negative sample count accepted")
	}
	if _, err := j.Append(nil, 0); err != nil {
		t.Fatalf("append of an empty record: %v", err)
	}
	rec, _, ok, err := j.Last()
	if err != nil || !ok || len(rec) != 0 {
		t.Fatalf("last: %d bytes, ok %v, err %v; want the empty record", len(rec), ok, err)
	}
}

func TestLockedDir(t *testing.T) {
	dir := t.TempDir()
	openJournal(t, dir, Options{}, nil)
	if j, err := Open(dir, Options{}); err == nil {
		j.Close()
		t.Fatal("a second Open of one directory succeeded")
	}
}

func TestSegmentsDeletedOnceAllAcked(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir, Options{SegmentBytes: 1024, MaxBytes: 1 << 20}, nil)
	a, err := j.Consumer("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := j.Consumer("b")
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 50, fixed(200), fixed(3))
	segs := j.Stats().Segments
	if segs < 5 {
		t.Fatalf("%d segments, want 5 or more", segs)
	}
	ga := readN(t, a, 50)
	if err := a.Ack(ga[49].pos); err != nil {
		t.Fatal(err)
	}
	if got := j.Stats().Segments; got != segs {
		t.Fatalf("%d segments after one consumer of two acked all, want %d", got, segs)
	}
	gb := readN(t, b, 50)
	if err := b.Ack(gb[24].pos); err != nil {
		t.Fatal(err)
	}
	mid := j.Stats().Segments
	if mid >= segs || mid <= 1 {
		t.Fatalf("%d segments after acking half, want fewer than %d and more than 1", mid, segs)
	}
	if err := b.Ack(gb[49].pos); err != nil {
		t.Fatal(err)
	}
	st := j.Stats()
	files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if st.Segments != 1 || len(files) != 1 || st.Records == 0 {
		t.Fatalf("after all acked: %d segments, %d files, %d records; want the active segment only, with records", st.Segments, len(files), st.Records)
	}
	// The newest record is kept for Last even when everyone acked it.
	if rec, _, ok, err := j.Last(); err != nil || !ok || number(t, rec) != 50 {
		t.Fatalf("last after all acked: ok %v, err %v", ok, err)
	}
	for _, c := range st.Consumers {
		if c.PendingRecords != 0 || c.PendingBytes != 0 || c.PendingSamples != 0 {
			t.Fatalf("consumer %+v: want nothing pending", c)
		}
	}
}

func TestManyConsumers(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 2048, MaxBytes: 1 << 20}
	j := openJournal(t, dir, opts, nil)
	acks := map[string]int{"none": 0, "one": 1, "half": 60, "most": 119, "all": 120}
	readers := map[string]*Reader{}
	for name := range acks {
		r, err := j.Consumer(name)
		if err != nil {
			t.Fatal(err)
		}
		readers[name] = r
	}
	samples := func(n uint64) int { return int(n % 5) }
	ps := appendN(t, j, 1, 120, func(n uint64) int { return 20 + int(n%90) }, samples)
	for name, n := range acks {
		gs := readN(t, readers[name], 120) // reading is not acknowledging
		if n > 0 {
			if err := readers[name].Ack(gs[n-1].pos); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(j *Journal) {
		t.Helper()
		for name, n := range acks {
			cs := consumerStats(t, j, name)
			var want int64
			for m := n + 1; m <= 120; m++ {
				want += int64(samples(uint64(m)))
			}
			if cs.PendingRecords != int64(120-n) || cs.PendingSamples != want {
				t.Errorf("consumer %s: %d records, %d samples pending; want %d, %d", name, cs.PendingRecords, cs.PendingSamples, 120-n, want)
			}
			if n > 0 && cs.Acked != ps[n-1] {
				t.Errorf("consumer %s acked %s, want %s", name, cs.Acked, ps[n-1])
			}
		}
	}
	check(j)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, dir, opts, nil)
	check(j)
	appendN(t, j, 121, 125, fixed(30), samples)
	for name, n := range acks {
		r, err := j.Consumer(name)
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, readN(t, r, 125-n), uint64(n+1), 125)
	}
}

func TestSeekAndInflight(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir, Options{}, nil)
	r, err := j.Consumer("remote")
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 10, fixed(16), fixed(2))
	gs := readN(t, r, 10)
	if err := r.Ack(gs[2].pos); err != nil {
		t.Fatal(err)
	}
	// About to send records 4..7.
	if err := r.AckWith(gs[2].pos, gs[6].pos); err != nil {
		t.Fatal(err)
	}
	r.Seek(gs[2].pos)
	checkRun(t, readN(t, r, 2), 4, 5)
	r.Seek(Pos{})
	checkRun(t, readN(t, r, 1), 1, 1)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = openJournal(t, dir, Options{}, nil)
	r, err = j.Consumer("remote")
	if err != nil {
		t.Fatal(err)
	}
	if r.Acked() != gs[2].pos || r.Inflight() != gs[6].pos {
		t.Fatalf("after restart acked %s inflight %s, want %s %s", r.Acked(), r.Inflight(), gs[2].pos, gs[6].pos)
	}
	// The sender resends exactly the in-flight range first.
	var resend []got
	for len(resend) == 0 || resend[len(resend)-1].pos != r.Inflight() {
		resend = append(resend, readN(t, r, 1)...)
	}
	checkRun(t, resend, 4, 7)
	if err := r.Ack(gs[4].pos); err != nil {
		t.Fatal(err)
	}
	if r.Inflight() != gs[6].pos {
		t.Fatalf("in-flight mark cleared before its end was acked")
	}
	if err := r.Ack(gs[6].pos); err != nil {
		t.Fatal(err)
	}
	if !r.Inflight().IsZero() {
		t.Fatalf("in-flight mark %s kept after its end was acked", r.Inflight())
	}
	// An older ack changes nothing; a position that is no record fails.
	if err := r.Ack(gs[0].pos); err != nil || r.Acked() != gs[6].pos {
		t.Fatalf("ack of an older record: %v, acked %s", err, r.Acked())
	}
	if err := r.Ack(Pos{Segment: gs[9].pos.Segment, Offset: gs[9].pos.Offset + 3}); err == nil {
		t.Fatal("ack of a position inside a record accepted")
	}
	// Acks outside the recent ring read the record from disk.
	for range 2 * recentLen {
		appendN(t, j, 11, 11, fixed(16), fixed(1))
	}
	readN(t, r, 3+2*recentLen)
	if err := r.Ack(gs[8].pos); err != nil {
		t.Fatal(err)
	}
	if cs := consumerStats(t, j, "remote"); cs.PendingRecords != 1+2*recentLen {
		t.Fatalf("pending %d after acking record 9, want %d", cs.PendingRecords, 1+2*recentLen)
	}
}

func TestConcurrentReaders(t *testing.T) {
	j := openJournal(t, t.TempDir(), Options{SegmentBytes: 8192, MaxBytes: 1 << 20}, nil)
	const total = 2000
	names := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	errs := make(chan error, len(names)+1)
	for i, name := range names {
		r, err := j.Consumer(name)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for want := uint64(1); want <= total; want++ {
				rec, pos, _, err := r.Next(ctx)
				if err != nil {
					errs <- err
					return
				}
				if n, ok := decode(rec); !ok || n != want {
					errs <- fmt.Errorf("consumer %s: record %d (intact %v), want %d", name, n, ok, want)
					return
				}
				if want%uint64(i+3) == 0 || want == total {
					if err := r.Ack(pos); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	stop := make(chan struct{})
	var statsWG sync.WaitGroup
	statsWG.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				j.Stats()
			}
		}
	})
	appendN(t, j, 1, total, func(n uint64) int { return 8 + int(n%300) }, fixed(1))
	wg.Wait()
	close(stop)
	statsWG.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := j.Stats()
	if st.Segments != 1 {
		t.Fatalf("%d segments after every consumer acked all, want 1", st.Segments)
	}
}
