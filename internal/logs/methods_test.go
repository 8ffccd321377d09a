package logs

import (
	"slices"
	"strings"
	"testing"
)

// TestMethodIDs: methods found by their packed first bytes are told apart
// by length and by the bytes past the eighth, whatever follows them in
// the line, and the cap sends the rest to "other".
func TestMethodIDs(t *testing.T) {
	a := newTestAggregator(t, DefaultConfig())
	line := []byte("PROPFINDX PROPFIND GET GETX PROPPATCH PROPPATCHES")
	id := func(m string) int {
		i := strings.Index(string(line), m+" ")
		if i < 0 {
			i = strings.LastIndex(string(line), m)
		}
		return a.methodID(line[i : i+len(m)]) // cap reaches past the method
	}
	want := map[string]int{}
	for _, m := range []string{"GET", "PROPFIND", "GETX", "PROPPATCH", "PROPPATCHES", "PROPFINDX"} {
		want[m] = id(m)
	}
	for m, w := range want {
		if got := id(m); got != w || a.methods[got] != m {
			t.Errorf("%s: id %d (%q), want %d", m, got, a.methods[got], w)
		}
		if got := a.methodID([]byte(m)); got != w { // cap == len
			t.Errorf("%s without spare capacity: id %d, want %d", m, got, w)
		}
	}
	if o := a.methodID(nil); a.methods[o] != Other || a.methodID([]byte(Other)) != o {
		t.Errorf("other: %d %q", o, a.methods[o])
	}
	for i := range 2 * maxMethods {
		a.methodID([]byte("M" + strings.Repeat("X", i%9) + string(rune('A'+i%26))))
	}
	if len(a.methods) > maxMethods {
		t.Errorf("%d methods, cap %d", len(a.methods), maxMethods)
	}
}

// TestSortIDs: series ids come out sorted whether dense or sparse.
func TestSortIDs(t *testing.T) {
	var bm []uint64
	for _, ids := range [][]int32{{}, {5}, {3, 1, 2}, {900, 5, 63, 64, 0, 127, 128}, {1 << 20, 7, 1 << 10}} {
		got := slices.Clone(ids)
		sortIDs(got, &bm)
		want := slices.Sorted(slices.Values(ids))
		if !slices.Equal(got, want) {
			t.Errorf("sortIDs(%v) = %v", ids, got)
		}
	}
	for _, w := range bm {
		if w != 0 {
			t.Fatal("bitmap left dirty")
		}
	}
}
