package tail

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkFollowAppend measures lines through Next on a growing file (an
// op is a line): batches of 4096 access-log lines are appended, then read,
// with one poll a batch. The file is truncated every 64 MiB to bound the
// disk used.
func BenchmarkFollowAppend(b *testing.B) {
	path := filepath.Join(b.TempDir(), "access.log")
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	const batch = 4096
	line := []byte(`203.0.113.7 - - [25/Nov/2026:10:00:00 +0000] "GET /media/video/12345/segment-00042.ts HTTP/1.1" 200 1048576 "-" "Mozilla/5.0" 0.042` + "\n")
	lines := bytes.Repeat(line, batch)
	f, err := New(Options{Globs: []string{path}, PollInterval: time.Hour}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	var size int64
	for read, pending := 0, 0; read < b.N; {
		if pending == 0 {
			if size > 64<<20 {
				if err := file.Truncate(0); err != nil {
					b.Fatal(err)
				}
				size = 0
			}
			if _, err := file.Write(lines); err != nil {
				b.Fatal(err)
			}
			size += int64(len(lines))
			f.nextPoll = time.Time{}
			pending = batch
		}
		c, err := f.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n := bytes.Count(c.Data, []byte{'\n'})
		read += n
		pending -= n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
