package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock that only moves when slept on.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time        { return c.t }
func (c *fakeClock) sleep(d time.Duration) { c.t = c.t.Add(d) }
func (c *fakeClock) lag(d time.Duration)   { c.t = c.t.Add(d) }
func lines(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// countingWriter records the size of each write in lines.
type countingWriter struct {
	bytes.Buffer
	batches []int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.batches = append(w.batches, bytes.Count(p, []byte("\n")))
	return w.Buffer.Write(p)
}

func TestSteadyBatches(t *testing.T) {
	c := &fakeClock{t: time.Unix(1e9, 0)}
	var out countingWriter
	in := lines(10000)
	s, err := write(&out, strings.NewReader(in), options{rate: 10000, tick: 10 * time.Millisecond}, c.now, c.sleep)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != in || s.lines != 10000 || s.bytes != int64(len(in)) {
		t.Fatalf("wrote %d lines, %d bytes; want all %d bytes", s.lines, s.bytes, len(in))
	}
	for i, n := range out.batches {
		if n != 100 {
			t.Fatalf("batch %d has %d lines, want 100 (10000/s every 10ms)", i, n)
		}
	}
	if s.elapsed != time.Second {
		t.Errorf("elapsed %v, want 1s", s.elapsed)
	}
}

func TestCatchesUpAndStopsAtLimit(t *testing.T) {
	c := &fakeClock{t: time.Unix(1e9, 0)}
	var out countingWriter
	first := true
	sleep := func(d time.Duration) {
		c.sleep(d)
		if first { // the first tick comes 95 ms late
			c.lag(95 * time.Millisecond)
			first = false
		}
	}
	s, err := write(&out, strings.NewReader(lines(5000)), options{rate: 1000, tick: 10 * time.Millisecond, limit: 500}, c.now, sleep)
	if err != nil {
		t.Fatal(err)
	}
	if s.lines != 500 || out.batches[0] != 105 || s.lateTicks != 1 {
		t.Fatalf("lines %d, first batch %d, late ticks %d; want 500, 105, 1", s.lines, out.batches[0], s.lateTicks)
	}
	// Ticks after the late one run from it: 115 ms, 125 ms, … 505 ms.
	if s.elapsed != 505*time.Millisecond {
		t.Errorf("elapsed %v, want 505ms", s.elapsed)
	}
}

func TestRunAppends(t *testing.T) {
	f := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(f, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if err := run([]string{"-rate", "100000", "-o", f}, strings.NewReader("a\nb\npartial"), &stderr); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(f)
	if string(got) != "old\na\nb\n" {
		t.Errorf("file %q, want the old line then a and b (no partial line)", got)
	}
	if !strings.Contains(stderr.String(), "wrote 2 lines") {
		t.Errorf("stderr %q", stderr.String())
	}
}
