package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func generate(t *testing.T, args ...string) (log, truth []byte) {
	t.Helper()
	dir := t.TempDir()
	args = append(args, "-o", filepath.Join(dir, "a.log"), "-truth", filepath.Join(dir, "a.truth"))
	if err := run(args, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(filepath.Join(dir, "a.log"))
	if err != nil {
		t.Fatal(err)
	}
	truth, err = os.ReadFile(filepath.Join(dir, "a.truth"))
	if err != nil {
		t.Fatal(err)
	}
	return log, truth
}

func TestDeterministic(t *testing.T) {
	a, ta := generate(t, "-n", "5000", "-seed", "7")
	b, tb := generate(t, "-n", "5000", "-seed", "7")
	if !bytes.Equal(a, b) || !bytes.Equal(ta, tb) {
		t.Error("same seed gave different output")
	}
	c, _ := generate(t, "-n", "5000", "-seed", "8")
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same output")
	}
}

// TestTruth recounts the log the simple way and compares it with the truth.
func TestTruth(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"few urls", []string{"-n", "30000", "-urls", "2000"}},
		{"many urls", []string{"-n", "30000", "-urls", "20000"}},
		{"garbage", []string{"-n", "30000", "-urls", "5000", "-invalid", "0.05"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, truth := generate(t, tc.args...)
			got := map[string]int64{}
			paths := map[string]bool{}
			urls := map[string]bool{}
			lines := strings.Split(strings.TrimSuffix(string(log), "\n"), "\n")
			for _, l := range lines {
				f := strings.Split(l, `"`)
				// "addr" "user" [time] "request" status bytes time "referer" "agent"
				if len(f) != 11 || !strings.HasPrefix(f[6], " ") {
					got["invalid"]++
					continue
				}
				req := strings.Fields(f[5])
				rest := strings.Fields(f[6])
				if len(req) != 3 || len(rest) != 3 || len(rest[0]) != 3 || strings.ContainsAny(rest[0], "x") {
					got["invalid"]++
					continue
				}
				got["valid"]++
				got["status "+rest[0]]++
				got["method "+req[0]]++
				urls[req[1]] = true
				p, _, _ := strings.Cut(req[1], "?")
				paths[p] = true
				ms, _ := strconv.ParseFloat(rest[2], 64)
				got["request_time_ms_sum"] += int64(ms*1000 + 0.5)
			}
			got["lines"] = int64(len(lines))
			got["distinct_paths"] = int64(len(paths))
			got["distinct_urls"] = int64(len(urls))
			want := map[string]int64{}
			for l := range strings.SplitSeq(strings.TrimSpace(string(truth)), "\n") {
				i := strings.LastIndexByte(l, ' ')
				n, err := strconv.ParseInt(l[i+1:], 10, 64)
				if err != nil {
					t.Fatalf("truth line %q: %v", l, err)
				}
				if strings.HasPrefix(l, "status ") || strings.HasPrefix(l, "method ") || !strings.Contains(l[:i], " ") {
					want[l[:i]] = n
				}
			}
			delete(want, "templates")
			delete(want, "bytes_sum")
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: log has %d, truth says %d", k, got[k], w)
				}
			}
		})
	}
}

func TestURLBudget(t *testing.T) {
	for _, urls := range []int64{10000, 50000} {
		_, truth := generate(t, "-n", "100000", "-urls", strconv.FormatInt(urls, 10))
		var got int64
		for l := range strings.SplitSeq(string(truth), "\n") {
			if v, ok := strings.CutPrefix(l, "distinct_paths "); ok {
				got, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		if d := float64(got-urls) / float64(urls); d < -0.05 || d > 0.05 {
			t.Errorf("-urls %d: %d distinct paths, off by %.1f%%", urls, got, d*100)
		}
	}
}
