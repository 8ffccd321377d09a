package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The crash test runs this binary as the process it kills.
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	goleak.VerifyTestMain(m)
}

// logBuffer collects log output for tests that check warnings.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openJournal opens dir with opts, logging into logs when it is not nil,
// and closes the journal at the end of the test.
func openJournal(t testing.TB, dir string, opts Options, logs *logBuffer) *Journal {
	t.Helper()
	if logs != nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	j, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// payload is the test record number n: n, then size-8 bytes repeating an
// 8-byte pattern derived from n.
func payload(n uint64, size int) []byte {
	b := make([]byte, max(size, 8))
	binary.LittleEndian.PutUint64(b, n)
	for i := 8; i < min(len(b), 16); i++ {
		b[i] = byte(n*31 + uint64(i))
	}
	for done := 16; done < len(b); done *= 2 {
		copy(b[done:], b[8:done])
	}
	return b
}

// number checks a payload made by payload and returns its number.
func number(t testing.TB, b []byte) uint64 {
	t.Helper()
	n, ok := decode(b)
	if !ok {
		t.Fatalf("record of %d bytes does not match its number %d", len(b), n)
	}
	return n
}

// decode returns the number of a payload made by payload and whether the
// rest of it matches.
func decode(b []byte) (uint64, bool) {
	if len(b) < 8 {
		return 0, false
	}
	n := binary.LittleEndian.Uint64(b)
	return n, bytes.Equal(b, payload(n, len(b)))
}

// appendN appends the records numbered from..to with sizes given by size
// and samples given by samples, and returns their positions.
func appendN(t testing.TB, j *Journal, from, to uint64, size func(uint64) int, samples func(uint64) int) []Pos {
	t.Helper()
	var ps []Pos
	for n := from; n <= to; n++ {
		p, err := j.Append(payload(n, size(n)), samples(n))
		if err != nil {
			t.Fatalf("append %d: %v", n, err)
		}
		ps = append(ps, p)
	}
	return ps
}

func fixed(v int) func(uint64) int { return func(uint64) int { return v } }

// got is a record returned by Next.
type got struct {
	n       uint64
	pos     Pos
	samples int
}

// readN reads n records from r, failing the test after 5 s.
func readN(t testing.TB, r *Reader, n int) []got {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var gs []got
	for range n {
		rec, pos, samples, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("next after %d of %d records: %v", len(gs), n, err)
		}
		gs = append(gs, got{number(t, rec), pos, samples})
	}
	return gs
}

// readToEnd reads from r up to and including the newest record.
func readToEnd(t testing.TB, r *Reader) []got {
	t.Helper()
	last := r.j.Stats().Last
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var gs []got
	for len(gs) == 0 || gs[len(gs)-1].pos.Less(last) {
		rec, pos, samples, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("next after %d records, reading to %s: %v", len(gs), last, err)
		}
		gs = append(gs, got{number(t, rec), pos, samples})
	}
	return gs
}

// checkRun fails unless gs holds the records numbered from..to in order.
func checkRun(t testing.TB, gs []got, from, to uint64) {
	t.Helper()
	if uint64(len(gs)) != to-from+1 {
		first, last := uint64(0), uint64(0)
		if len(gs) > 0 {
			first, last = gs[0].n, gs[len(gs)-1].n
		}
		t.Fatalf("got %d records (%d..%d), want %d..%d", len(gs), first, last, from, to)
	}
	for i, g := range gs {
		if g.n != from+uint64(i) {
			t.Fatalf("record %d is number %d, want %d", i, g.n, from+uint64(i))
		}
		if i > 0 && !gs[i-1].pos.Less(g.pos) {
			t.Fatalf("record %d at %s, not after %s", g.n, g.pos, gs[i-1].pos)
		}
	}
}

// consumerStats returns the stats of consumer name.
func consumerStats(t testing.TB, j *Journal, name string) ConsumerStats {
	t.Helper()
	c, ok := j.Stats().Consumers[name]
	if !ok {
		t.Fatalf("no consumer %s in stats", name)
	}
	return c
}
