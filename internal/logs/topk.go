package logs

import (
	"cmp"
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
// above the true one. Counters stay in fixed slots (the map points at a
// slot, so moving a counter in the min-heap never touches the map); the
// heap orders slot numbers.
type topK struct {
	capacity int
	index    map[clientKey]int32 // key → slot
	slots    []topEntry
	heap     []int32 // slot numbers, a min-heap by count
}

type topEntry struct {
	key   clientKey
	count uint64
	err   uint64
	pos   int32 // position in heap
}

func newTopK(capacity int) *topK {
	return &topK{capacity: capacity, index: make(map[clientKey]int32, capacity),
		slots: make([]topEntry, 0, capacity), heap: make([]int32, 0, capacity)}
}

func (t *topK) add(b []byte, n uint64) {
	k := makeClientKey(b)
	t.addKey(k, n, 0)
}

func (t *topK) addKey(k clientKey, n, err uint64) {
	if s, ok := t.index[k]; ok {
		e := &t.slots[s]
		e.count += n
		e.err += err
		t.down(int(e.pos))
		return
	}
	if len(t.slots) < t.capacity {
		s := int32(len(t.slots))
		t.slots = append(t.slots, topEntry{key: k, count: n, err: err, pos: int32(len(t.heap))})
		t.heap = append(t.heap, s)
		t.index[k] = s
		t.up(len(t.heap) - 1)
		return
	}
	// Replace the smallest.
	s := t.heap[0]
	e := &t.slots[s]
	delete(t.index, e.key)
	*e = topEntry{key: k, count: e.count + n, err: e.count + err, pos: 0}
	t.index[k] = s
	t.down(0)
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
