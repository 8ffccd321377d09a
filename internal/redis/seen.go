package redis

// seenSet is the set of key hashes a search has returned: open addressing
// with linear probing in one slice of hashes, at most half full. A search
// of a million keys adds a million hashes; this costs about one cache miss
// each, a third of what a map[uint64]struct{} of that size costs.
type seenSet struct {
	slots []uint64 // 0 is an empty slot
	mask  uint64
	n     int
	zero  bool // the hash 0, which has no slot
}

// newSeenSet returns a set with room for about n hashes before it grows.
func newSeenSet(n int) *seenSet {
	c := 64
	for c < 2*n {
		c <<= 1
	}
	return &seenSet{slots: make([]uint64, c), mask: uint64(c - 1)}
}

// has reports whether h is in the set.
func (s *seenSet) has(h uint64) bool {
	if h == 0 {
		return s.zero
	}
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// add adds h and reports whether it was not in the set.
func (s *seenSet) add(h uint64) bool {
	if h == 0 {
		added := !s.zero
		s.zero = true
		return added
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			s.n++
			return true
		}
	}
}

func (s *seenSet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	s.mask = uint64(len(s.slots) - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := h & s.mask
		for s.slots[i] != 0 {
			i = (i + 1) & s.mask
		}
		s.slots[i] = h
	}
}
