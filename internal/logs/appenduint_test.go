package logs

import (
	"math"
	"strconv"
	"testing"
)

func TestAppendUint(t *testing.T) {
	vs := []uint64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 99999999, 100000000, math.MaxUint32, math.MaxUint64, math.MaxUint64 - 1}
	for p := uint64(1); p < math.MaxUint64/10; p *= 10 {
		vs = append(vs, p-1, p, p+1)
	}
	for _, v := range vs {
		if got, want := string(appendUint([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Errorf("appendUint(%d) = %q, want %q", v, got, want)
		}
	}
}

func BenchmarkAppendUint(b *testing.B) {
	vs := []uint64{3, 17, 250, 4711, 123456, 9876543210, 55, 1}
	buf := make([]byte, 0, 64)
	b.Run("strconv", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = strconv.AppendUint(buf[:0], vs[i&7], 10)
		}
	})
	b.Run("appendUint", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = appendUint(buf[:0], vs[i&7])
		}
	})
}
