package logs

import (
	"math"
	"math/bits"
)

// distinct counts distinct raw paths in bounded memory: exactly up to
// exactDistinct of them, then by a HyperLogLog estimate (2^14 registers,
// about 0.8% standard error). Hashes are FNV-1a, the same in every
// Aggregator, so Merge can combine counts.
type distinct struct {
	exact map[uint64]struct{} // nil once over exactDistinct
	regs  [1 << hllBits]uint8
}

const hllBits = 14

func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	// FNV's low bits are weak for short keys; mix them (splitmix64).
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

func (d *distinct) add(b []byte) { d.addHash(fnv1a(b)) }

func (d *distinct) addHash(h uint64) {
	if d.exact == nil && d.regs == [1 << hllBits]uint8{} {
		d.exact = make(map[uint64]struct{})
	}
	i := h >> (64 - hllBits)
	rank := uint8(bits.LeadingZeros64(h<<hllBits|1<<(hllBits-1)) + 1)
	if rank > d.regs[i] {
		d.regs[i] = rank
	}
	if d.exact != nil {
		d.exact[h] = struct{}{}
		if len(d.exact) > exactDistinct {
			d.exact = nil
		}
	}
}

// count returns the number of distinct values and whether it is exact.
func (d *distinct) count() (int64, bool) {
	if d.exact != nil {
		return int64(len(d.exact)), true
	}
	if d.regs == [1 << hllBits]uint8{} {
		return 0, true
	}
	m := float64(1 << hllBits)
	var sum float64
	zeros := 0
	for _, r := range d.regs {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	est := 0.7213 / (1 + 1.079/m) * m * m / sum
	if est <= 2.5*m && zeros > 0 {
		est = m * math.Log(m/float64(zeros))
	}
	return int64(math.Round(est)), false
}

// merge adds the values counted by o.
func (d *distinct) merge(o *distinct) {
	for i, r := range o.regs {
		d.regs[i] = max(d.regs[i], r)
	}
	switch {
	case d.exact != nil && o.exact != nil:
		for h := range o.exact {
			d.exact[h] = struct{}{}
		}
		if len(d.exact) > exactDistinct {
			d.exact = nil
		}
	case o.exact == nil && o.regs != [1 << hllBits]uint8{}:
		d.exact = nil
	}
}
