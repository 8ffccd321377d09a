package journal

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzOpen opens a journal whose only segment holds the fuzzed bytes: Open
// must keep a prefix of valid records and leave a journal that appends,
// reads back and reopens without complaint. Seeds are in
// testdata/fuzz/FuzzOpen.
func FuzzOpen(f *testing.F) {
	f.Add([]byte{})
	f.Add(segmentHeader())
	f.Add(appendRecord(segmentHeader(), payload(7, 20), 1, 0, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(segmentPath(dir, 1), data, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{SegmentBytes: 1 << 20, MaxBytes: 4 << 20}
		j := openJournal(t, dir, opts, &logBuffer{})
		r, err := j.ConsumerWith("c", ConsumerOptions{FromStart: true})
		if err != nil {
			t.Fatal(err)
		}
		kept := j.Stats().Records
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for range kept { // each checked against its CRC
			if _, _, _, err := r.Next(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := j.Append(payload(1, 40), 2); err != nil {
			t.Fatal(err)
		}
		readN(t, r, 1)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}

		var logs logBuffer
		j = openJournal(t, dir, opts, &logs)
		if strings.Contains(logs.String(), "level=WARN") {
			t.Fatalf("second open warns:\n%s", logs.String())
		}
		if got := j.Stats().Records; got != kept+1 {
			t.Fatalf("%d records after reopening, want %d", got, kept+1)
		}
		rec, _, ok, err := j.Last()
		if err != nil || !ok {
			t.Fatalf("last: ok %v, err %v", ok, err)
		}
		number(t, rec)
	})
}
