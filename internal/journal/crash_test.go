package journal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv names the journal directory of the child process that
// TestCrashSafety kills.
const crashChildEnv = "DANDAN_JOURNAL_CRASH_DIR"

// crashOptions are the options of the crash test's journal.
func crashOptions() Options { return Options{SegmentBytes: 1 << 20, MaxBytes: 64 << 20} }

// crashSize is the payload size the crash child gives record n: mostly
// small, every eighth over 100 KiB so that a kill can land inside its write
// (Linux stops a write to a file between pages on SIGKILL).
func crashSize(n uint64) int {
	if n%8 == 0 {
		return 100<<10 + int(n*7919%50000)
	}
	return 16 + int(n*7919%4000)
}

// crashSamples is the sample count the crash child gives record n.
func crashSamples(n uint64) int { return int(n % 10) }

// crashChild appends numbered records to the journal in dir, continuing
// after the number of its last record, and prints "w n" once Append of
// record n has returned. A consumer "sender" reads them and acknowledges
// every fifth, printing "a n" once the Ack of record n has returned. It
// runs until killed.
func crashChild(dir string) {
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "crash child: %s: %v\n", what, err)
		os.Exit(2)
	}
	j, err := Open(dir, crashOptions())
	if err != nil {
		fail("open", err)
	}
	var n uint64
	rec, _, ok, err := j.Last()
	if err != nil {
		fail("last", err)
	}
	if ok {
		if n, ok = decode(rec); !ok {
			fail("last", errors.New("damaged record"))
		}
	}
	r, err := j.ConsumerWith("sender", ConsumerOptions{FromStart: true})
	if err != nil {
		fail("consumer", err)
	}
	var outMu sync.Mutex
	say := func(kind byte, n uint64) {
		outMu.Lock()
		defer outMu.Unlock()
		if _, err := fmt.Fprintf(os.Stdout, "%c %d\n", kind, n); err != nil {
			os.Exit(3)
		}
	}
	go func() {
		for i := 0; ; i++ {
			rec, pos, _, err := r.Next(context.Background())
			if err != nil {
				fail("next", err)
			}
			m, ok := decode(rec)
			if !ok {
				fail("next", fmt.Errorf("damaged record after %d", m))
			}
			if i%5 == 4 {
				if err := r.Ack(pos); err != nil {
					fail("ack", err)
				}
				say('a', m)
			}
		}
	}()
	for {
		n++
		if _, err := j.Append(payload(n, crashSize(n)), crashSamples(n)); err != nil {
			fail("append", err)
		}
		say('w', n)
	}
}

func TestCrashSafety(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	seed := rand.Uint64()
	rnd := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	var written, acked uint64 // highest numbers the child reported
	for kill := range 10 {
		var stderr bytes.Buffer
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The kill lands at a random moment, not just after a report.
		delay := time.Duration(2+rnd.IntN(40)) * time.Millisecond
		var killer *time.Timer
		seen := 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var kind byte
			var n uint64
			if _, err := fmt.Sscanf(sc.Text(), "%c %d", &kind, &n); err != nil {
				t.Fatalf("child said %q: %v", sc.Text(), err)
			}
			switch kind {
			case 'w':
				written = max(written, n)
				if seen++; seen == 1 {
					killer = time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
				}
			case 'a':
				acked = max(acked, n)
			}
		}
		err = cmd.Wait()
		if killer != nil {
			killer.Stop()
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended with %v after %d appends; stderr:\n%s", kill, err, seen, stderr.String())
		}
		checkAfterCrash(t, dir, written, acked)
	}
}

// checkAfterCrash opens the journal the crash child left and checks that the
// records form a gap-free run ending with the last reported append (or the
// one after it, which may have been written just before the kill), and that
// the consumer resumes just after an ack no older than the last reported.
func checkAfterCrash(t *testing.T, dir string, written, acked uint64) {
	t.Helper()
	var logs logBuffer
	j := openJournal(t, dir, crashOptions(), &logs)
	defer j.Close()
	if strings.Contains(logs.String(), "corrupt journal segment") {
		t.Fatalf("an older segment is corrupt:\n%s", logs.String())
	}
	torn := strings.Contains(logs.String(), "torn journal tail")
	check, err := j.ConsumerWith("check", ConsumerOptions{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	gs := readToEnd(t, check)
	first, last := gs[0].n, gs[len(gs)-1].n
	checkRun(t, gs, first, last)
	for _, g := range gs {
		if g.samples != crashSamples(g.n) {
			t.Fatalf("record %d has %d samples, want %d", g.n, g.samples, crashSamples(g.n))
		}
	}
	if last < written || last > written+1 {
		t.Fatalf("journal ends at record %d; the child reported %d written", last, written)
	}

	cs := consumerStats(t, j, "sender")
	if cs.DroppedRecordsTotal != 0 {
		t.Fatalf("sender dropped %d records", cs.DroppedRecordsTotal)
	}
	resume := last + 1 - uint64(cs.PendingRecords) // the sender's next record
	if resume-1 < acked {
		t.Fatalf("sender resumes at record %d; the child reported %d acked", resume, acked)
	}
	if resume < first {
		t.Fatalf("sender resumes at record %d, before the oldest on disk, %d", resume, first)
	}
	if cs.PendingRecords > 0 {
		sender, err := j.Consumer("sender")
		if err != nil {
			t.Fatal(err)
		}
		if g := readN(t, sender, 1); g[0].n != resume {
			t.Fatalf("sender resumes at record %d, want %d", g[0].n, resume)
		}
		sender.Close()
	}
	check.Close()
	if err := j.RemoveConsumer("check"); err != nil {
		t.Fatal(err)
	}
	t.Logf("records %d..%d on disk in %d segments, sender acked %d, torn tail cut: %v",
		first, last, j.Stats().Segments, resume-1, torn)
}
