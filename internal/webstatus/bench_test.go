package webstatus

import (
	"os"
	"testing"
	"time"
)

func BenchmarkParseNginx(b *testing.B) {
	page, err := os.ReadFile("testdata/nginx-stub-status.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseNginx(page); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseApache(b *testing.B) {
	page, err := os.ReadFile("testdata/apache-auto.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseApache(page); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApacheSamples turns a parsed page into samples, the rest of
// the work of a scrape besides the request.
func BenchmarkApacheSamples(b *testing.B) {
	page, err := os.ReadFile("testdata/apache-auto.txt")
	if err != nil {
		b.Fatal(err)
	}
	st, err := ParseApache(page)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		st.Samples("apache", now)
	}
}
