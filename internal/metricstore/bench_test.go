package metricstore

import (
	"context"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage"
)

// benchSeries and benchBatch: the ingest benchmarks append to this many
// series, committing every benchBatch samples, as a scrape of a big target.
const (
	benchSeries = 1000
	benchBatch  = 1000
)

func benchLabels() []Labels {
	ls := make([]Labels, benchSeries)
	for i := range ls {
		ls[i] = FromStrings("__name__", "http_requests_total", "job", "bench", "path", "/p"+strconv.Itoa(i%100), "status", strconv.Itoa(200+i/100))
	}
	return ls
}

// BenchmarkAppend compares ingest through our Appender with Prometheus's own
// TSDB head appender, the same series and samples on the same kind of
// store. The issue asks ours for at least 0.9× the head's samples/s.
func BenchmarkAppend(b *testing.B) {
	type appendFunc func(ref SeriesRef, ls Labels, t int64, v float64) (SeriesRef, error)
	run := func(b *testing.B, begin func(st *Store) (appendFunc, func() error)) {
		st := openT(b, Options{})
		ls := benchLabels()
		refs := make([]SeriesRef, benchSeries)
		ts := int64(0)
		// Create the series first: the benchmark measures appends, not
		// series creation.
		add, commit := begin(st)
		for i := range ls {
			r, err := add(0, ls[i], ts, 0)
			if err != nil {
				b.Fatal(err)
			}
			refs[i] = r
		}
		if err := commit(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		add, commit = begin(st)
		for i := range b.N {
			s := i % benchSeries
			if s == 0 {
				// A round a second: up to 10 million samples stay within
				// the 3 hours after which the DB would compact its head
				// (work the raw head appender never triggers).
				ts += 1000
			}
			r, err := add(refs[s], ls[s], ts, float64(i))
			if err != nil {
				b.Fatal(err)
			}
			refs[s] = r
			if (i+1)%benchBatch == 0 {
				if err := commit(); err != nil {
					b.Fatal(err)
				}
				add, commit = begin(st)
			}
		}
		if err := commit(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	}
	b.Run("dandan", func(b *testing.B) {
		run(b, func(st *Store) (appendFunc, func() error) {
			app := st.Appender(context.Background())
			return app.Append, app.Commit
		})
	})
	b.Run("tsdb-head", func(b *testing.B) {
		run(b, func(st *Store) (appendFunc, func() error) {
			app := st.db.Head().AppenderV2(context.Background())
			return func(ref SeriesRef, ls Labels, t int64, v float64) (SeriesRef, error) {
				r, err := app.Append(storage.SeriesRef(ref), ls, 0, t, v, nil, nil, storage.AOptions{})
				return SeriesRef(r), err
			}, app.Commit
		})
	})
}

// BenchmarkDiskBytesPerSample writes 6 hours of 1000 series every 15 s
// (counters that grow by small random steps, gauges with a few values),
// compacts the head into blocks and reports the blocks' bytes per sample.
// The issue asks for at most 2.
func BenchmarkDiskBytesPerSample(b *testing.B) {
	const points = 6 * 60 * 4 // 6 h at 15 s
	for range b.N {
		st := openT(b, Options{})
		ls := benchLabels()
		refs := make([]SeriesRef, benchSeries)
		vals := make([]float64, benchSeries)
		rnd := rand.New(rand.NewPCG(1, 2))
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		for p := range points {
			app := st.Appender(context.Background())
			for s := range ls {
				if s%2 == 0 {
					vals[s] += float64(rnd.IntN(20)) // a counter
				} else {
					vals[s] = float64(rnd.IntN(4)) // a gauge
				}
				r, err := app.Append(refs[s], ls[s], start+int64(p)*15_000, vals[s])
				if err != nil {
					b.Fatal(err)
				}
				refs[s] = r
			}
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		if err := st.db.Compact(context.Background()); err != nil {
			b.Fatal(err)
		}
		var size int64
		var samples uint64
		for _, blk := range st.db.Blocks() {
			samples += blk.Meta().Stats.NumSamples
			err := filepath.WalkDir(blk.Dir(), func(_ string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				fi, err := d.Info()
				if err == nil {
					size += fi.Size()
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		if samples == 0 {
			b.Fatal("no block was written")
		}
		b.ReportMetric(float64(size)/float64(samples), "bytes/sample")
		b.ReportMetric(float64(samples), "samples_in_blocks")
	}
}
