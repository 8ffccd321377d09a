package redis

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/testkit"
)

func BenchmarkGlobMatch(b *testing.B) {
	p, s := []byte("user:[0-9]*:sess?on*"), []byte("user:12345:session:abcdef")
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		globMatch(p, s)
	}
}

func BenchmarkKeySlot(b *testing.B) {
	k := []byte("user:{12345}:session")
	b.ReportAllocs()
	b.SetBytes(int64(len(k)))
	for b.Loop() {
		keySlot(k)
	}
}

func BenchmarkParseClientList(b *testing.B) {
	line := "id=3 addr=127.0.0.1:52555 laddr=127.0.0.1:6379 fd=8 name=worker age=10 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22426 events=r cmd=get user=default redir=-1 resp=2\n"
	s := strings.Repeat(line, 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		parseClientList(s)
	}
}

// BenchmarkScan compares a bare SCAN COUNT 1000 walk of every master (in
// parallel) with the inspector's search over the same keys. It uses the
// server at $DANDAN_BENCH_REDIS (or the cluster at $DANDAN_BENCH_CLUSTER)
// with $DANDAN_BENCH_PATTERN, else a redis-server of its own with 50,000
// keys. bench/redis.sh runs it on 1,000,000 keys.
func BenchmarkScan(b *testing.B) {
	ctx := context.Background()
	pattern := os.Getenv("DANDAN_BENCH_PATTERN")
	if pattern == "" {
		pattern = "user:0001*"
	}
	cc := &ConnConfig{Addr: os.Getenv("DANDAN_BENCH_REDIS")}
	if s := os.Getenv("DANDAN_BENCH_CLUSTER"); s != "" {
		cc = &ConnConfig{Cluster: []string{s}}
	}
	if cc.Addr == "" && len(cc.Cluster) == 0 {
		srv := testkit.StartRedis(b)
		rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2})
		defer rdb.Close()
		pipe := rdb.Pipeline()
		for i := range 50000 {
			pipe.Set(ctx, fmt.Sprintf("user:%07d", i), "v", 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		cc.Addr = srv.Addr
	}
	cfg := DefaultConfig()
	cfg.Connections = map[string]*ConnConfig{"b": cc}
	cfg.SearchBudget = 600 * 1e9
	p, err := New(component.Deps{Logger: slog.New(slog.DiscardHandler)}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Stop(ctx)
	c := p.conns["b"]
	masters, err := c.masters(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bare-scan-count-1000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var wg sync.WaitGroup
			for _, m := range masters {
				wg.Go(func() {
					cur := uint64(0)
					for {
						_, next, err := m.client.Scan(ctx, cur, pattern, 1000).Result()
						if err != nil {
							b.Error(err)
							return
						}
						if cur = next; cur == 0 {
							return
						}
					}
				})
			}
			wg.Wait()
		}
	})
	for _, meta := range []bool{false, true} {
		b.Run(fmt.Sprintf("search-meta-%v", meta), func(b *testing.B) {
			b.ReportAllocs()
			hits := 0
			for b.Loop() {
				s, err := p.ss.start(ctx, c, searchParams{Pattern: pattern, Min: 1 << 30, Meta: meta})
				if err != nil {
					b.Fatal(err)
				}
				page, err := s.next(ctx, 10*time.Minute, cfg.ParallelNodes, cfg.ScanCount)
				if err != nil {
					b.Fatal(err)
				}
				p.ss.finish(s)
				hits = len(page.Keys)
			}
			b.ReportMetric(float64(hits), "hits")
		})
	}
}
