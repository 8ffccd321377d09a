package logs

import (
	"errors"
	"fmt"
	"math"
)

// Native histograms: with Config.NativeHistograms, each duration series
// also keeps a Prometheus native histogram, as client_golang's does with
// NativeHistogramBucketFactor set. Bucket i of schema s counts the
// durations in (2^((i-1)/2^s), 2^(i/2^s)] seconds; durations of 0 count
// in the zero bucket. Past the max bucket count the schema goes down by
// one, merging pairs of buckets, as client_golang does (without its
// resets and zero-bucket widening).

// Defaults of the native histogram options, client_golang's.
const (
	// DefaultNativeBucketFactor gives schema 3: buckets 2^(1/8) ≈ 1.09 wide.
	DefaultNativeBucketFactor = 1.1
	// DefaultNativeMaxBuckets is the populated buckets past which the
	// schema goes down.
	DefaultNativeMaxBuckets = 160
	// NativeZeroThreshold is the zero bucket's width, 2^-128:
	// client_golang's DefNativeHistogramZeroThreshold.
	NativeZeroThreshold = 1.0 / (1 << 128)
)

// Schema limits of native histograms.
const (
	nativeSchemaMin = -4
	nativeSchemaMax = 8
)

// NativeHistogram is a native histogram of durations in seconds, with
// cumulative counts. Its Count and Sum are its own: they are the classic
// histogram's unless native histograms were turned on after counting
// began.
type NativeHistogram struct {
	Schema        int32
	ZeroThreshold float64
	ZeroCount     uint64
	Count         uint64
	Sum           float64
	// Buckets are the populated buckets, by increasing index.
	Buckets []NativeBucket
}

// NativeBucket is one bucket of a NativeHistogram: Count durations (not
// cumulative) in (2^((Index-1)/2^Schema), 2^(Index/2^Schema)] seconds.
type NativeBucket struct {
	Index int32
	Count uint64
}

// NativeSchema returns the schema of a bucket factor: the largest schema
// from -4 to 8 whose buckets grow by at most factor, as client_golang
// picks it. factor must be more than 1.
func NativeSchema(factor float64) (int32, error) {
	if !(factor > 1) || math.IsInf(factor, 1) {
		return 0, fmt.Errorf("native histogram bucket factor %v: must be more than 1", factor)
	}
	floor := math.Floor(math.Log2(math.Log2(factor)))
	switch {
	case floor <= -nativeSchemaMax:
		return nativeSchemaMax, nil
	case floor >= -nativeSchemaMin:
		return nativeSchemaMin, nil
	}
	return -int32(floor), nil
}

// nativeKey returns the index of v's bucket in schema, v > 0, as
// client_golang's histogramCounts.observe computes it.
func nativeKey(v float64, schema int32) int32 {
	frac, exp := math.Frexp(v)
	if schema > 0 {
		b := nativeBounds[schema]
		// The first bound not below frac: sort.SearchFloat64s, inlined.
		lo, hi := 0, len(b)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if b[m] < frac {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return int32(lo + (exp-1)*len(b))
	}
	key := exp
	if frac == 0.5 {
		key--
	}
	off := (1 << -schema) - 1
	return int32((key + off) >> -schema)
}

// nativeHist is the native histogram of a DurationSeries.
type nativeHist struct {
	schema    int32
	zero      uint64 // durations of 0
	count     uint64
	sumMicros int64
	lo        int32    // the bucket index of counts[0]
	counts    []uint64 // per bucket from lo, not cumulative
	populated int      // counts that are not 0
}

// observe counts a duration of d µs; past max populated buckets, the
// schema goes down once (as client_golang's limitBuckets does).
func (n *nativeHist) observe(d int64, max int) {
	n.count++
	n.sumMicros += d
	v := float64(d) / 1e6
	if v <= NativeZeroThreshold {
		n.zero++
		return
	}
	n.add(nativeKey(v, n.schema), 1)
	if n.populated > max {
		n.reduce()
	}
}

// add adds c to bucket k, growing the range of counts as needed.
func (n *nativeHist) add(k int32, c uint64) {
	if c == 0 {
		return
	}
	switch {
	case len(n.counts) == 0:
		n.lo = k
		n.counts = append(n.counts, 0)
	case k < n.lo:
		grow := int(n.lo - k)
		n.counts = append(n.counts, make([]uint64, grow)...)
		copy(n.counts[grow:], n.counts)
		clear(n.counts[:grow])
		n.lo = k
	case int(k-n.lo) >= len(n.counts):
		for int(k-n.lo) >= len(n.counts) {
			n.counts = append(n.counts, 0)
		}
	}
	i := k - n.lo
	if n.counts[i] == 0 {
		n.populated++
	}
	n.counts[i] += c
}

// reduce lowers the schema by one, merging each pair of buckets into the
// bucket of the lower schema that covers both. It does nothing at the
// lowest schema.
func (n *nativeHist) reduce() {
	if n.schema <= nativeSchemaMin {
		return
	}
	n.schema--
	if len(n.counts) == 0 {
		return
	}
	lo := (n.lo + 1) >> 1
	last := int32(0)
	n.populated = 0
	for i, c := range n.counts {
		// Bucket k of the higher schema is in bucket ceil(k/2) of the lower.
		j := (n.lo+int32(i)+1)>>1 - lo
		n.counts[i] = 0
		if c == 0 {
			continue
		}
		if n.counts[j] == 0 {
			n.populated++
		}
		n.counts[j] += c
		last = j
	}
	n.lo, n.counts = lo, n.counts[:last+1]
}

// merge adds o's counts to n, at the lower schema of the two; past max
// populated buckets, the schema goes down until they fit.
func (n *nativeHist) merge(o *nativeHist, max int) {
	for n.schema > o.schema {
		n.reduce()
	}
	n.count += o.count
	n.sumMicros += o.sumMicros
	n.zero += o.zero
	for i, c := range o.counts {
		k := o.lo + int32(i)
		for s := o.schema; s > n.schema; s-- {
			k = (k + 1) >> 1
		}
		n.add(k, c)
	}
	for n.populated > max && n.schema > nativeSchemaMin {
		n.reduce()
	}
}

// export returns n as a NativeHistogram.
func (n *nativeHist) export() *NativeHistogram {
	h := &NativeHistogram{Schema: n.schema, ZeroThreshold: NativeZeroThreshold, ZeroCount: n.zero, Count: n.count,
		Sum: float64(n.sumMicros) / 1e6, Buckets: make([]NativeBucket, 0, n.populated)}
	for i, c := range n.counts {
		if c != 0 {
			h.Buckets = append(h.Buckets, NativeBucket{Index: n.lo + int32(i), Count: c})
		}
	}
	return h
}

// restore sets n to h, reduced to schema at most.
func (n *nativeHist) restore(h *NativeHistogram, schema int32) error {
	if h.Schema < nativeSchemaMin || h.Schema > nativeSchemaMax {
		return fmt.Errorf("native histogram schema %d", h.Schema)
	}
	if h.ZeroThreshold != NativeZeroThreshold {
		return fmt.Errorf("native histogram zero threshold %v, want %v", h.ZeroThreshold, float64(NativeZeroThreshold))
	}
	sum := h.ZeroCount
	for i, b := range h.Buckets {
		if b.Count == 0 || i > 0 && b.Index <= h.Buckets[i-1].Index {
			return errors.New("native histogram buckets empty or out of order")
		}
		sum += b.Count
	}
	if sum != h.Count {
		return fmt.Errorf("native histogram count %d, buckets hold %d", h.Count, sum)
	}
	*n = nativeHist{schema: h.Schema, zero: h.ZeroCount, count: h.Count, sumMicros: int64(math.Round(h.Sum * 1e6)),
		counts: n.counts[:0]}
	for _, b := range h.Buckets {
		n.add(b.Index, b.Count)
	}
	for n.schema > schema {
		n.reduce()
	}
	return nil
}
