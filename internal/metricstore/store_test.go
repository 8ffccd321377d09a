package metricstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// openT opens a store in a temporary directory, closed when the test ends.
func openT(t testing.TB, opts Options) *Store {
	t.Helper()
	st, err := Open(context.Background(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// count returns how many samples the store holds for the metric name.
func count(t testing.TB, st *Store, name string) int {
	t.Helper()
	q, err := st.db.Querier(0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name))
	n := 0
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() != 0 {
			n++
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAppendErrors(t *testing.T) {
	st := openT(t, Options{})
	ls := FromStrings("__name__", "x", "job", "a")
	app := st.Appender(context.Background())
	ref, err := app.Append(0, ls, 2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(ref, ls, 3000, 2); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		t    int64
		v    float64
		want error
	}{
		{"older than the newest sample", 1000, 1, ErrOutOfOrder},
		{"another value at the same time", 3000, 5, ErrDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := st.Appender(context.Background())
			defer app.Rollback()
			_, err := app.Append(ref, ls, tc.t, tc.v)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Append = %v, want %v", err, tc.want)
			}
		})
	}
	if n := count(t, st, "x"); n != 2 {
		t.Fatalf("%d samples, want 2", n)
	}
}

func TestRollback(t *testing.T) {
	st := openT(t, Options{})
	app := st.Appender(context.Background())
	if _, err := app.Append(0, FromStrings("__name__", "x"), 1000, 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "x"); n != 0 {
		t.Fatalf("%d samples after Rollback, want 0", n)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Options
		want Options
	}{
		{"zero takes the defaults", Options{},
			Options{Retention: DefaultRetention, QueryTimeout: DefaultQueryTimeout, MaxSamples: DefaultMaxSamples, LookbackDelta: DefaultLookbackDelta}},
		{"set values stay", Options{Retention: 2 * time.Hour, RetentionSize: 1 << 30, QueryTimeout: time.Second, MaxSamples: 10, LookbackDelta: time.Minute},
			Options{Retention: 2 * time.Hour, RetentionSize: 1 << 30, QueryTimeout: time.Second, MaxSamples: 10, LookbackDelta: time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := openT(t, tc.in).opts
			got.Logger = nil
			if got != tc.want {
				t.Fatalf("options %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	st, err := Open(context.Background(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := st.Ready(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ready = %v, want ErrClosed", err)
	}
	if _, err := st.Appender(context.Background()).Append(0, FromStrings("__name__", "x"), 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append = %v, want ErrClosed", err)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = Open(context.Background(), dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "open metric store "+dir) {
		t.Fatalf("second Open = %v, want an error naming %s", err, dir)
	}
}

func TestService(t *testing.T) {
	svc := NewService(t.TempDir(), Options{})
	if svc.Name() != "metrics" {
		t.Fatalf("Name = %q", svc.Name())
	}
	if err := svc.Ready(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ready before Start = %v, want ErrClosed", err)
	}
	if err := svc.Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	if _, err := svc.Appender(context.Background()).Append(0, FromStrings("__name__", "x"), 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append before Start = %v, want ErrClosed", err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	app := svc.Appender(context.Background())
	if _, err := app.Append(0, FromStrings("__name__", "x"), 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Ready(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := svc.Ready(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ready after Stop = %v, want ErrClosed", err)
	}
}

// crashChildEnv names the directory the crash child writes to.
const crashChildEnv = "DANDAN_METRICSTORE_CRASH_DIR"

// crashChild appends batches of 100 samples to the store in dir, for ever,
// and prints the number of samples committed after each Commit. The parent
// kills it with SIGKILL.
func crashChild(dir string) {
	st, err := Open(context.Background(), dir, Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	var refs [10]SeriesRef
	total := 0
	for batch := int64(0); ; batch++ {
		app := st.Appender(context.Background())
		for i := range 100 {
			s := i % len(refs)
			ts := (batch*10 + int64(i/len(refs))) * 1000
			ref, err := app.Append(refs[s], FromStrings("__name__", "crash_samples", "series", strconv.Itoa(s)), ts, float64(ts))
			if err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
			refs[s] = ref
		}
		if err := app.Commit(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		total += 100
		fmt.Println(total)
	}
}

// TestCrash: a process appends and commits, is killed with SIGKILL without
// closing the store, and every sample it had committed is there when the
// directory is opened again (the WAL is replayed).
func TestCrash(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	sc := bufio.NewScanner(out)
	for acked < 20_000 && sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			t.Fatalf("child: %s", sc.Text())
		}
		acked = n
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if acked < 20_000 {
		t.Fatalf("child stopped after %d samples", acked)
	}
	st, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n := count(t, st, "crash_samples"); n < acked {
		t.Fatalf("%d samples after the crash, want at least the %d acknowledged", n, acked)
	}
}
