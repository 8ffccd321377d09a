package logs

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// distinct counts distinct raw paths in bounded memory: exactly up to
// exactDistinct of them, then by a HyperLogLog estimate (2^14 registers,
// about 0.8% standard error). Hashes are pathHash, the same in every
// Aggregator, so Merge can combine counts.
type distinct struct {
	exact map[uint64]struct{} // nil once over exactDistinct
	regs  [1 << hllBits]uint8
}

const hllBits = 14

// pathHash hashes a raw path, eight bytes at a time, with a fixed
// function (not a per-process seed) so that counts are reproducible.
func pathHash(b []byte) uint64 {
	const m = 0xff51afd7ed558ccd
	h := uint64(len(b)) * 0x9e3779b97f4a7c15
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * m
		h ^= h >> 32
		b = b[8:]
	}
	var w uint64
	for i, c := range b {
		w |= uint64(c) << (8 * i)
	}
	h = (h ^ w) * m
	// Finish as splitmix64 does.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

func (d *distinct) add(b []byte) { d.addHash(pathHash(b)) }

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
