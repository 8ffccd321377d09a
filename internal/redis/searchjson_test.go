package redis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSearchPageJSON: the hand-written encoder writes what encoding/json
// writes, for every kind of name and every optional field.
func TestSearchPageJSON(t *testing.T) {
	names := []string{"", "user:1", `q"uo\te`, "<script>&</script>", "tab\there\nnl\r\b\f\x00\x1f\x7f", "단단 ✓ 🎉",
		"\u2028\u2029", "bad\xffutf8\xc3", string([]byte{0xe2, 0x80}), "{tag}:x"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		names = append(names, string(b))
	}
	n7, s5 := int64(7), 5
	neg := int64(-1)
	var keys []KeyInfo
	for i, n := range names {
		k := newKeyInfos([]string{n}, nil, fmt.Sprintf("127.0.0.1:%d", 6379+i%3), i%2 == 0)[0]
		if k.Binary && k.Name == n {
			t.Errorf("%q: binary but the name is the key", n)
		}
		switch i % 4 {
		case 1:
			k.Type, k.Len, k.TTLms = "hash", &n7, &neg
		case 2:
			k.Type, k.Slot = "str<ing>", &s5
		case 3:
			k.Name = n // not UTF-8 sometimes: encoding/json writes U+FFFD
		}
		keys = append(keys, k)
	}
	for _, p := range []SearchPage{
		{},
		{Keys: []KeyInfo{}, Done: true},
		{Keys: keys, Cursor: "abc<>", ElapsedMS: 12, Progress: Progress{Fraction: 0.25, Total: 9, Nodes: []NodeProgress{{Node: "a", Fraction: 0.5}}}},
	} {
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.appendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Fatalf("differs at byte %d:\n got %q\nwant %q", i, got[max(0, i-40):min(len(got), i+40)], want[max(0, i-40):min(len(want), i+40)])
		}
	}
}

func BenchmarkSearchPageJSON(b *testing.B) {
	keys := make([]string, 100000)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%07d", i)
	}
	page := SearchPage{Keys: newKeyInfos(keys, nil, "127.0.0.1:6379", true)}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, _ := json.Marshal(page)
			b.SetBytes(int64(len(out)))
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, _ := page.appendJSON(make([]byte, 0, 256+len(page.Keys)*112))
			b.SetBytes(int64(len(out)))
		}
	})
}
