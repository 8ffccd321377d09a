package logs

import (
	"github.com/prometheus/prometheus/model/histogram"
)

// nativeBounds are, per schema from 0 to 8, the fractions (in [0.5, 1),
// as math.Frexp returns them) at which the buckets of a power of two end:
// bucket boundaries 2^(j/2^schema) scaled into [0.5, 1). They are read
// from Prometheus's own histogram package (the upper bounds of buckets 0
// to 2^schema-1, which end at 2·fraction), not computed here: its float
// constants are not all the correctly rounded powers of two, and a value
// at a boundary must fall in the same bucket as Prometheus and
// client_golang put it.
var nativeBounds = func() [][]float64 {
	out := make([][]float64, nativeSchemaMax+1)
	for s := range out {
		n := 1 << s
		h := &histogram.Histogram{
			Schema:          int32(s),
			Count:           uint64(n),
			PositiveSpans:   []histogram.Span{{Offset: 0, Length: uint32(n)}},
			PositiveBuckets: make([]int64, n), // deltas: 1, then the same
		}
		h.PositiveBuckets[0] = 1
		row := make([]float64, 0, n)
		for it := h.PositiveBucketIterator(); it.Next(); {
			row = append(row, it.At().Upper/2)
		}
		if len(row) != n {
			panic("logs: unexpected native histogram buckets from model/histogram")
		}
		out[s] = row
	}
	return out
}()
