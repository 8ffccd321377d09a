// Command rate appends lines from its input to a file at a steady rate,
// for bench/watch.sh: a log that grows as a busy web server's does.
//
// Every -tick it appends, in one write, the lines due by then (rate ×
// time since the start, less what it wrote), so the average rate holds
// even when a tick comes late, and a reader never sees a partial line
// unless the write itself is split. It stops at the end of its input or
// after -n lines, and prints what it wrote to stderr. The file is opened
// for appending and never truncated or rotated.
//
// Usage:
//
//	loggen -n 1800000 -o - | rate -rate 10000 -o access.log
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "rate:", err)
		os.Exit(1)
	}
}

type options struct {
	rate  float64
	tick  time.Duration
	limit int64
	in    string
	out   string
}

// stats is what a run wrote.
type stats struct {
	lines, bytes int64
	elapsed      time.Duration
	maxBatch     int64
	lateTicks    int64 // ticks that found more than two ticks' worth due
}

func run(args []string, stdin io.Reader, stderr io.Writer) error {
	fs := flag.NewFlagSet("rate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.Float64Var(&o.rate, "rate", 10000, "lines per second")
	fs.DurationVar(&o.tick, "tick", 10*time.Millisecond, "how often to append the lines due")
	fs.Int64Var(&o.limit, "n", 0, "stop after this many lines (0: at the end of the input)")
	fs.StringVar(&o.in, "i", "-", "input file, - for stdin")
	fs.StringVar(&o.out, "o", "", "file to append to (created if missing; required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.out == "" {
		return errors.New("-o is required")
	}
	if o.rate <= 0 || o.tick <= 0 || o.limit < 0 {
		return errors.New("-rate and -tick must be positive, -n not negative")
	}
	in := stdin
	if o.in != "-" {
		f, err := os.Open(o.in)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	out, err := os.OpenFile(o.out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	s, err := write(out, in, o, time.Now, time.Sleep)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	sec := s.elapsed.Seconds()
	if sec <= 0 {
		sec = 1e-9
	}
	fmt.Fprintf(stderr, "rate: wrote %d lines (%d bytes) in %.2fs: %.0f lines/s, largest batch %d, %d late ticks\n",
		s.lines, s.bytes, s.elapsed.Seconds(), float64(s.lines)/sec, s.maxBatch, s.lateTicks)
	return err
}

// write copies lines from in to out at o.rate lines per second, one write
// per tick. now and sleep are the clock, for tests.
func write(out io.Writer, in io.Reader, o options, now func() time.Time, sleep func(time.Duration)) (stats, error) {
	var s stats
	r := bufio.NewReaderSize(in, 1<<20)
	buf := make([]byte, 0, 1<<20)
	start := now()
	perTick := o.rate * o.tick.Seconds()
	for next := start; ; {
		next = next.Add(o.tick)
		if d := next.Sub(now()); d > 0 {
			sleep(d)
		}
		// The epsilon keeps 10000/s × 0.57s at 5700, not 5699.
		due := int64(o.rate*now().Sub(start).Seconds()+1e-6) - s.lines
		if o.limit > 0 {
			due = min(due, o.limit-s.lines)
		}
		if float64(due) > 2*perTick+1 {
			s.lateTicks++
		}
		buf = buf[:0]
		var n int64
		var rerr error
		for ; n < due; n++ {
			line, err := r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				// A line longer than the buffer: take it whole.
				long := append([]byte(nil), line...)
				for err == bufio.ErrBufferFull {
					line, err = r.ReadSlice('\n')
					long = append(long, line...)
				}
				line = long
			}
			if err != nil {
				// A last line without its newline is dropped: a reader
				// would wait for the rest of it forever.
				rerr = err
				break
			}
			buf = append(buf, line...)
		}
		if rerr == nil && n > 0 {
			if _, err := r.Peek(1); err != nil {
				rerr = err // stop now, not one tick later
			}
		}
		if len(buf) > 0 {
			if _, err := out.Write(buf); err != nil {
				s.elapsed = now().Sub(start)
				return s, err
			}
		}
		s.lines += n
		s.bytes += int64(len(buf))
		s.maxBatch = max(s.maxBatch, n)
		if rerr != nil || (o.limit > 0 && s.lines >= o.limit) {
			s.elapsed = now().Sub(start)
			if rerr == io.EOF {
				rerr = nil
			}
			return s, rerr
		}
		// After a late tick, the next one comes a full tick later (its
		// batch still catches up on what is due).
		if t := now(); t.Sub(next) > o.tick {
			next = t
		}
	}
}
