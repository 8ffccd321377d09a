package journal

import (
	"context"
	"testing"
)

// benchRecord is the size of a typical flush record.
const benchRecord = 16 << 10

func BenchmarkAppend(b *testing.B) {
	for _, sync := range []bool{false, true} {
		name := "nosync"
		if sync {
			name = "sync"
		}
		b.Run(name, func(b *testing.B) {
			j := openJournal(b, b.TempDir(), Options{Sync: sync}, nil)
			rec := payload(1, benchRecord)
			b.SetBytes(benchRecord)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := j.Append(rec, 500); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	j := openJournal(b, b.TempDir(), Options{MaxBytes: 1 << 30}, nil)
	rec := payload(1, benchRecord)
	b.SetBytes(benchRecord)
	b.ReportAllocs()
	// Records are appended untimed in chunks, then read back by a consumer.
	const chunk = 4096
	r, err := j.Consumer("bench")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	left := 0
	for b.Loop() {
		if left == 0 {
			b.StopTimer()
			for range chunk {
				if _, err := j.Append(rec, 500); err != nil {
					b.Fatal(err)
				}
			}
			left = chunk
			b.StartTimer()
		}
		_, pos, _, err := r.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		left--
		if left%64 == 0 {
			if err := r.Ack(pos); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
