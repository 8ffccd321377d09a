package hostmetrics

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCollect is one collection of this machine, as the watchdog runs
// every 10–15 s.
func BenchmarkCollect(b *testing.B) {
	c := New(Options{})
	ctx := context.Background()
	var n int
	b.ReportAllocs()
	for b.Loop() {
		samples, err := c.Collect(ctx, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		n = len(samples)
	}
	b.ReportMetric(float64(n), "samples/op")
}
