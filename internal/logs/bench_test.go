package logs

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/logs/format"
)

// benchLines returns n generated media-nginx lines, 20 a second, with
// Zipf-distributed IDs (about a third of the raw paths are distinct, as in
// bench/logs.sh's file), and the offsets of their time fields.
func benchLines(b *testing.B, n int) ([][]byte, []int) {
	var buf bytes.Buffer
	genLog(&buf, n, 7, 0, time.Date(2021, 10, 10, 4, 55, 36, 0, time.UTC), 20, 20000)
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), []byte{'\n'})
	offs := make([]int, len(lines))
	for i, l := range lines {
		offs[i] = bytes.IndexByte(l, '[') + 1
	}
	return lines, offs
}

// BenchmarkAggregate measures parse + template + aggregate per line (with
// the top-clients sketch; "engine" without an output writer, the others
// with `logs parse`'s writers to io.Discard; "+native" with native
// histograms), in the steady state:
// each pass over the lines moves their times forward, so every second of
// log time is new and emitted as in a real log.
func BenchmarkAggregate(b *testing.B) {
	for _, tc := range []struct {
		name, format, output string
		referers, native     bool
	}{
		{"media-nginx/engine", "media-nginx", "", false, false},
		{"media-nginx/opentsdb", "media-nginx", OutputOpenTSDB, false, false},
		{"media-nginx/prom+referers", "media-nginx", OutputProm, true, false},
		{"media-nginx/json", "media-nginx", OutputJSON, false, false},
		{"media-nginx/engine+native", "media-nginx", "", false, true},
		{"media-nginx/json+native", "media-nginx", OutputJSON, false, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			lines, offs := benchLines(b, benchN)
			var size int64
			for _, l := range lines {
				size += int64(len(l)) + 1
			}
			f, err := format.Compile(tc.format, format.Options{})
			if err != nil {
				b.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Format, cfg.Referers, cfg.NativeHistograms = f, tc.referers, tc.native
			if tc.output != "" {
				w, _ := newWriter(tc.output, bufio.NewWriter(io.Discard), time.Now)
				cfg.Emit = w.batch
			}
			a, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			// Warm up: series, templates and caches exist.
			for _, l := range lines {
				a.Line(l)
			}
			// Each pass moves every line one day on: only the date changes,
			// so the rewrite costs little.
			base := time.Date(2021, 10, 10, 0, 0, 0, 0, time.UTC)
			pass := 0
			b.SetBytes(size / int64(len(lines)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % len(lines)
				if j == 0 {
					pass++
					var date [11]byte
					base.AddDate(0, 0, pass).AppendFormat(date[:0], "02/Jan/2006")
					for k, l := range lines {
						copy(l[offs[k]:], date[:])
					}
				}
				if !a.Line(lines[j]) {
					b.Fatalf("line %d: %v", j, a.Err())
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
			if err := a.Flush(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// benchN is how many distinct lines the benchmark cycles through.
var benchN = 1 << 16
