package redis

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
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
		defer reportCPU(b)()
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
			defer reportCPU(b)()
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

// reportCPU reports the process's CPU time (user and system, every
// goroutine and the garbage collector) per op when the returned func runs:
// on a busy machine it tells the inspector's own work apart from waiting
// on the server better than wall time does.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpu()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
		}
	}
}

// BenchmarkBigKeys measures what the big-keys scan costs per key: the
// inspector's CPU and the server's time (INFO commandstats), on a
// redis-server of its own with 20,000 keys of several types. Paced, a scan
// costs more per key than unpaced (each step wakes up cold), and the more
// steps, the more.
func BenchmarkBigKeys(b *testing.B) {
	ctx := context.Background()
	srv := testkit.StartRedis(b)
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2})
	defer rdb.Close()
	pipe := rdb.Pipeline()
	const n = 20000
	for i := range n {
		k, m := fmt.Sprintf("k:%06d", i), 1+i%17
		switch i % 5 {
		case 0, 1:
			pipe.Set(ctx, k, strings.Repeat("v", 8+i%50), 0)
		case 2:
			for f := range m {
				pipe.HSet(ctx, k, fmt.Sprint("f", f), "value")
			}
		case 3:
			for f := range m {
				pipe.RPush(ctx, k, fmt.Sprint("item", f))
			}
		default:
			for f := range m {
				pipe.ZAdd(ctx, k, goredis.Z{Score: float64(f), Member: fmt.Sprint("m", f)})
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Connections = map[string]*ConnConfig{"b": {Addr: srv.Addr}}
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
	serverUS := func() float64 {
		s, err := rdb.Info(ctx, "commandstats").Result()
		if err != nil {
			b.Fatal(err)
		}
		total := 0.0
		for _, f := range parseInfo(s)[0].Fields {
			if f.Key == "cmdstat_info" {
				continue
			}
			for part := range strings.SplitSeq(f.Value, ",") {
				if v, ok := strings.CutPrefix(part, "usec="); ok {
					var u float64
					if _, err := fmt.Sscan(v, &u); err != nil {
						b.Fatal(err)
					}
					total += u
				}
			}
		}
		return total
	}
	// The server process's CPU time, syscalls and event loop included
	// (INFO commandstats counts only the commands' own time).
	pid, err := rdb.InfoMap(ctx, "server").Result()
	if err != nil {
		b.Fatal(err)
	}
	serverCPU := func() time.Duration {
		stat, err := os.ReadFile("/proc/" + pid["Server"]["process_id"] + "/stat")
		if err != nil {
			return 0
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		var utime, stime int64
		if _, err := fmt.Sscan(f[11], &utime); err != nil {
			return 0
		}
		if _, err := fmt.Sscan(f[12], &stime); err != nil {
			return 0
		}
		return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	// Unpaced unless $DANDAN_BENCH_BIGKEYS_RATE says otherwise; the batch
	// is the default unless $DANDAN_BENCH_BIGKEYS_BATCH says otherwise.
	cfgBK := BigKeysConfig{Rate: 1 << 30, Batch: defaultBigKeysBatch, Top: defaultBigKeysTop}
	for _, e := range []struct {
		env string
		v   *int
	}{{"DANDAN_BENCH_BIGKEYS_RATE", &cfgBK.Rate}, {"DANDAN_BENCH_BIGKEYS_BATCH", &cfgBK.Batch}} {
		if s := os.Getenv(e.env); s != "" {
			if _, err := fmt.Sscan(s, e.v); err != nil {
				b.Fatalf("%s: %v", e.env, err)
			}
		}
	}
	bk := newBigKeys(c, cfgBK)
	b.ReportAllocs()
	cpu0 := serverCPU()
	stopCPU := reportCPU(b)
	var scanned int64
	for b.Loop() {
		sn := &scanNode{node: masters[0]}
		if err := bk.scanNode(ctx, sn); err != nil {
			b.Fatal(err)
		}
		scanned += sn.scanned
	}
	stopCPU()
	b.ReportMetric(serverUS()/float64(scanned), "server-µs/key")
	b.ReportMetric(float64((serverCPU()-cpu0).Microseconds())/float64(scanned), "server-cpu-µs/key")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(scanned), "µs/key")
}
