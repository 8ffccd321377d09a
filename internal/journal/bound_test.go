package journal

import (
	"os"
	"sync"
	"testing"
)

// diskBytes sums the sizes of the segment files in dir.
func diskBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	for _, f := range segFiles(t, dir) {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func TestBoundDropsExactly(t *testing.T) {
	dir := t.TempDir()
	var (
		mu      sync.Mutex
		onDrop  = map[string]drop{}
		samples = func(n uint64) int { return int(n%7) + 1 }
	)
	opts := Options{
		SegmentBytes: 4096,
		MaxBytes:     16384,
		OnDrop: func(c string, recs, smp int64) {
			mu.Lock()
			defer mu.Unlock()
			d := onDrop[c]
			onDrop[c] = drop{c, d.records + recs, d.samples + smp}
		},
	}
	j := openJournal(t, dir, opts, nil)
	slow, err := j.Consumer("slow")
	if err != nil {
		t.Fatal(err)
	}
	fast, err := j.Consumer("fast")
	if err != nil {
		t.Fatal(err)
	}
	absent, err := j.Consumer("absent")
	if err != nil {
		t.Fatal(err)
	}
	absent.Close() // registered, but no reader while records come

	const total = 200
	var fastGot []got
	for n := uint64(1); n <= total; n++ {
		appendN(t, j, n, n, fixed(500), samples)
		g := readN(t, fast, 1)
		if err := fast.Ack(g[0].pos); err != nil {
			t.Fatal(err)
		}
		fastGot = append(fastGot, g...)
		if n == 5 {
			readN(t, slow, 5) // read, never acknowledged
		}
		if b := j.Stats().Bytes; b > opts.MaxBytes {
			t.Fatalf("after record %d: %d bytes, over the bound %d", n, b, opts.MaxBytes)
		}
		if b := diskBytes(t, dir); b > opts.MaxBytes {
			t.Fatalf("after record %d: %d bytes on disk, over the bound %d", n, b, opts.MaxBytes)
		}
	}
	checkRun(t, fastGot, 1, total)

	slowGot := readToEnd(t, slow)
	first := slowGot[0].n
	checkRun(t, slowGot, first, total)
	if first < 100 {
		t.Fatalf("slow consumer resumed at record %d; the bound should have dropped more", first)
	}
	var wantSamples int64
	for n := uint64(1); n < first; n++ {
		wantSamples += int64(samples(n))
	}
	want := drop{"slow", int64(first - 1), wantSamples}
	for _, name := range []string{"slow", "absent"} {
		want.consumer = name
		cs := consumerStats(t, j, name)
		if cs.DroppedRecords != want.records || cs.DroppedSamples != want.samples ||
			cs.DroppedRecordsTotal != want.records || cs.DroppedSamplesTotal != want.samples {
			t.Errorf("%s: %+v, want %d records and %d samples dropped", name, cs, want.records, want.samples)
		}
		if cs.PendingRecords != int64(total-first+1) {
			t.Errorf("%s: %d records pending, want %d", name, cs.PendingRecords, total-first+1)
		}
		mu.Lock()
		if onDrop[name] != want {
			t.Errorf("OnDrop for %s: %+v, want %+v", name, onDrop[name], want)
		}
		mu.Unlock()
	}
	if cs := consumerStats(t, j, "fast"); cs.DroppedRecords != 0 || cs.DroppedRecordsTotal != 0 || cs.PendingRecords != 0 {
		t.Errorf("fast: %+v, want nothing dropped or pending", cs)
	}
	mu.Lock()
	if _, ok := onDrop["fast"]; ok {
		t.Errorf("OnDrop called for the fast consumer")
	}
	mu.Unlock()

	// The totals persist; the counts since Open start again.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, dir, opts, nil)
	cs := consumerStats(t, j, "absent")
	if cs.DroppedRecords != 0 || cs.DroppedRecordsTotal != want.records || cs.DroppedSamplesTotal != want.samples {
		t.Fatalf("after restart %+v: want 0 since open, %d records and %d samples in total", cs, want.records, want.samples)
	}
	absent, err = j.Consumer("absent")
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, readToEnd(t, absent), first, total)
}

func TestRemoveConsumerReleasesSegments(t *testing.T) {
	j := openJournal(t, t.TempDir(), Options{SegmentBytes: 1024, MaxBytes: 1 << 20}, nil)
	gone, err := j.Consumer("gone")
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	appendN(t, j, 1, 50, fixed(100), fixed(1))
	if j.Stats().Segments < 5 {
		t.Fatal("too few segments")
	}
	if err := j.RemoveConsumer("gone"); err != nil {
		t.Fatal(err)
	}
	if st := j.Stats(); st.Segments != 1 || len(st.Consumers) != 0 {
		t.Fatalf("after removing the only consumer: %d segments, %d consumers; want 1, 0", st.Segments, len(st.Consumers))
	}
}
