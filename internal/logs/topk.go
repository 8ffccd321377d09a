package logs

import (
	"cmp"
	"hash/maphash"
	"slices"
)

// maxClientKey is how much of a client address the sketch keeps; an IPv6
// address takes at most 45 bytes.
const maxClientKey = 47

type clientKey struct {
	n uint8
	b [maxClientKey]byte
}

func makeClientKey(b []byte) clientKey {
	var k clientKey
	k.n = uint8(copy(k.b[:], b))
	return k
}

func (k *clientKey) String() string { return string(k.b[:k.n]) }

// topK is a Space-Saving sketch (Metwally et al.): it keeps capacity
// counters, and an address not among them takes the place of the smallest,
// inheriting its count as a possible overcount. Any address with more than
// total/capacity requests is kept, and a kept count is at most its error
// above the true one. Counters stay in fixed slots; an open-addressing
// table (linear probing, at most half full) maps an address to its slot,
// and the min-heap orders slot numbers, so moving a counter in the heap
// never touches the table.
type topK struct {
	capacity int
	table    []int32 // slot+1, 0 when free
	slots    []topEntry
	heap     []int32 // slot numbers, a min-heap by count
}

type topEntry struct {
	key   clientKey
	hash  uint64
	count uint64
	err   uint64
	pos   int32 // position in heap
}

func newTopK(capacity int) *topK {
	n := 16
	for n < 2*capacity {
		n *= 2
	}
	return &topK{capacity: capacity, table: make([]int32, n),
		slots: make([]topEntry, 0, capacity), heap: make([]int32, 0, capacity)}
}

// clientSeed seeds clientHash: the same for every sketch of the process,
// so that the pipeline's workers hash addresses for the Aggregator.
var clientSeed = maphash.MakeSeed()

// clientHash is the hash of a client address in the sketch.
func clientHash(b []byte) uint64 {
	return maphash.Bytes(clientSeed, b[:min(len(b), maxClientKey)])
}

func (t *topK) add(b []byte, n uint64) {
	t.addBytes(b[:min(len(b), maxClientKey)], clientHash(b), n, 0)
}

// addHashed counts a request of b, whose clientHash is h.
func (t *topK) addHashed(b []byte, h uint64) { t.addBytes(b[:min(len(b), maxClientKey)], h, 1, 0) }

func (t *topK) addKey(k clientKey, n, err uint64) {
	b := k.b[:k.n]
	t.addBytes(b, clientHash(b), n, err)
}

// addBytes counts n requests (with error err) of the address b, whose
// hash is h.
func (t *topK) addBytes(b []byte, h, n, err uint64) {
	mask := uint64(len(t.table) - 1)
	i := h & mask
	for {
		s := t.table[i]
		if s == 0 {
			break
		}
		e := &t.slots[s-1]
		if e.hash == h && int(e.key.n) == len(b) && string(e.key.b[:e.key.n]) == string(b) {
			e.count += n
			e.err += err
			t.down(int(e.pos))
			return
		}
		i = (i + 1) & mask
	}
	if len(t.slots) < t.capacity {
		s := int32(len(t.slots))
		t.slots = append(t.slots, topEntry{key: makeClientKey(b), hash: h, count: n, err: err, pos: int32(len(t.heap))})
		t.heap = append(t.heap, s)
		t.table[i] = s + 1
		t.up(len(t.heap) - 1)
		return
	}
	// Replace the smallest: its place in the table goes first, which may
	// move the free place found above.
	s := t.heap[0]
	e := &t.slots[s]
	t.unindex(s)
	i = h & mask
	for t.table[i] != 0 {
		i = (i + 1) & mask
	}
	*e = topEntry{key: makeClientKey(b), hash: h, count: e.count + n, err: e.count + err, pos: 0}
	t.table[i] = s + 1
	t.down(0)
}

// unindex removes slot s from the table, shifting back the entries after
// it so that every entry stays reachable from its home position.
func (t *topK) unindex(s int32) {
	mask := uint64(len(t.table) - 1)
	i := t.slots[s].hash & mask
	for t.table[i] != s+1 {
		i = (i + 1) & mask
	}
	j := i
	for {
		j = (j + 1) & mask
		if t.table[j] == 0 {
			break
		}
		home := t.slots[t.table[j]-1].hash & mask
		// The entry at j may move to i unless its home lies cyclically in (i, j].
		if i <= j && (home <= i || home > j) || i > j && home <= i && home > j {
			t.table[i] = t.table[j]
			i = j
		}
	}
	t.table[i] = 0
}

func (t *topK) less(i, j int) bool { return t.slots[t.heap[i]].count < t.slots[t.heap[j]].count }

func (t *topK) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.slots[t.heap[i]].pos = int32(i)
	t.slots[t.heap[j]].pos = int32(j)
}

func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *topK) down(i int) {
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.less(r, l) {
			m = r
		}
		if !t.less(m, i) {
			return
		}
		t.swap(i, m)
		i = m
	}
}

// Client is a client address with its request count from the top-clients
// sketch; Count may exceed the true count by at most Error.
type Client struct {
	Addr  string
	Count uint64
	Error uint64
}

// top returns the n clients with the most requests, most first.
func (t *topK) top(n int) []Client {
	out := make([]Client, 0, len(t.slots))
	for i := range t.slots {
		e := &t.slots[i]
		out = append(out, Client{Addr: e.key.String(), Count: e.count, Error: e.err})
	}
	slices.SortFunc(out, func(a, b Client) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Addr, b.Addr)
	})
	return out[:min(n, len(out))]
}

// merge adds o's counters to t.
func (t *topK) merge(o *topK) {
	for i := range o.slots {
		e := &o.slots[i]
		t.addKey(e.key, e.count, e.err)
	}
}
