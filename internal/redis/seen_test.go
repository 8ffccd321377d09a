package redis

import (
	"math/rand/v2"
	"testing"
)

func TestSeenSet(t *testing.T) {
	s := newSeenSet(0)
	ref := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		h := rng.Uint64()
		switch i % 7 {
		case 0:
			h = 0 // the hash with no slot
		case 1:
			h &= 0xff // collisions in the low bits, long probes
		case 2:
			h = uint64(i/7) << 40 // the same low bits, different high bits
		}
		if got, want := s.add(h), !ref[h]; got != want {
			t.Fatalf("add(%#x) = %v, want %v", h, got, want)
		}
		ref[h] = true
		if !s.has(h) {
			t.Fatalf("has(%#x) after add", h)
		}
		if s.has(h^0x5a5a5a5a5a5a5a5a) != ref[h^0x5a5a5a5a5a5a5a5a] {
			t.Fatalf("has of an absent hash")
		}
	}
	for h := range ref {
		if !s.has(h) || s.add(h) {
			t.Fatalf("%#x lost after growing", h)
		}
	}
	n := s.n
	if s.zero {
		n++
	}
	if n != len(ref) {
		t.Fatalf("%d hashes, want %d", n, len(ref))
	}
}

// TestCRC16: two bytes at a time is the CRC16 of Redis Cluster, byte by
// byte.
func TestCRC16(t *testing.T) {
	one := func(b []byte) uint16 {
		var crc uint16
		for _, c := range b {
			crc = crc<<8 ^ crc16tab[byte(crc>>8)^c]
		}
		return crc
	}
	if got := crc16([]byte("123456789")); got != 0x31c3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3 (XMODEM)", got)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for n := range 64 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		if got, want := crc16(b), one(b); got != want {
			t.Fatalf("crc16(%x) = %#x, want %#x", b, got, want)
		}
	}
}
