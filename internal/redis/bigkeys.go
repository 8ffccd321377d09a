package redis

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// BigKey is a key with its length and memory.
type BigKey struct {
	KeyInfo
	MemoryBytes int64 `json:"memory_bytes"`
}

// BigKeysType is the biggest keys of one type.
type BigKeysType struct {
	Type  string   `json:"type"`
	Count int64    `json:"count"`
	ByLen []BigKey `json:"by_len"`
	ByMem []BigKey `json:"by_memory"`
}

// BigKeysReply is GET /api/redis/{conn}/bigkeys.
type BigKeysReply struct {
	State    string        `json:"state"` // idle, running, done, cancelled or failed
	Started  time.Time     `json:"started,omitzero"`
	Finished time.Time     `json:"finished,omitzero"`
	Scanned  int64         `json:"scanned"`
	Progress Progress      `json:"progress"`
	Error    string        `json:"error,omitempty"`
	Types    []BigKeysType `json:"types"`
	Rate     int           `json:"rate_keys_per_s"`
}

// bigKeys is the big-keys scan of one connection. It scans every master in
// parallel, each at most cfg.Rate keys a second in steps of SCAN COUNT
// cfg.Batch, and inspects each step's keys in one pipeline of TYPE and
// MEMORY USAGE then one of length commands: every command is O(1) or
// bounded by the batch, and the pause between steps leaves the server idle
// most of the time.
type bigKeys struct {
	conn *Conn
	cfg  BigKeysConfig

	mu       sync.Mutex // guards everything below
	state    string
	started  time.Time
	finished time.Time
	scanned  int64
	errText  string
	nodes    []*scanNode
	types    map[string]*BigKeysType
	cancel   context.CancelFunc
	done     chan struct{}
}

func newBigKeys(c *Conn, cfg BigKeysConfig) *bigKeys {
	return &bigKeys{conn: c, cfg: cfg, state: "idle", types: map[string]*BigKeysType{}}
}

// errBigKeysRunning is returned when a scan is asked for while one runs.
var errBigKeysRunning = errors.New("a big-keys scan is already running on this connection")

// start begins a scan in the background; it runs until done, cancel or
// stop.
func (b *bigKeys) start(ctx context.Context) error {
	masters, err := b.conn.masters(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == "running" {
		return errBigKeysRunning
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.state, b.started, b.finished, b.scanned, b.errText = "running", time.Now(), time.Time{}, 0, ""
	b.types = map[string]*BigKeysType{}
	b.nodes = nil
	for _, m := range masters {
		b.nodes = append(b.nodes, &scanNode{node: m})
	}
	b.cancel = cancel
	b.done = make(chan struct{})
	nodes, done := b.nodes, b.done
	go func() {
		defer close(done)
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, len(nodes))
		for i, sn := range nodes {
			wg.Go(func() { errs[i] = b.scanNode(runCtx, sn) })
		}
		wg.Wait()
		b.mu.Lock()
		defer b.mu.Unlock()
		b.finished = time.Now()
		switch err := errors.Join(errs...); {
		case runCtx.Err() != nil:
			b.state = "cancelled"
		case err != nil:
			b.state, b.errText = "failed", err.Error()
		default:
			b.state = "done"
		}
	}()
	return nil
}

// stop cancels a running scan and waits for it to end.
func (b *bigKeys) stop(ctx context.Context) error {
	b.mu.Lock()
	cancel, done := b.cancel, b.done
	b.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *bigKeys) scanNode(ctx context.Context, sn *scanNode) error {
	cl := sn.node.client
	batch := int64(b.cfg.Batch)
	for {
		began := time.Now()
		keys, next, err := cl.Scan(ctx, sn.cursor, "", batch).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := b.inspect(ctx, cl, sn.node.Addr, keys); err != nil {
				return err
			}
		}
		b.mu.Lock()
		sn.cursor = next
		sn.scanned += int64(len(keys))
		b.scanned += int64(len(keys))
		if next == 0 {
			sn.done = true
		}
		b.mu.Unlock()
		if next == 0 {
			return nil
		}
		// Rate limit: this step's keys may take len/rate seconds.
		pause := time.Duration(float64(len(keys))/float64(b.cfg.Rate)*float64(time.Second)) - time.Since(began)
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}

func (b *bigKeys) inspect(ctx context.Context, cl *goredis.Client, addr string, keys []string) error {
	infos := make([]KeyInfo, len(keys))
	for i, k := range keys {
		infos[i] = newKeyInfo([]byte(k), addr, b.conn.cluster != nil)
	}
	if err := b.conn.describe(ctx, cl, infos, ""); err != nil {
		return err
	}
	pipe := cl.Pipeline()
	mems := make([]*goredis.IntCmd, len(keys))
	for i, k := range keys {
		mems[i] = pipe.MemoryUsage(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, k := range infos {
		if k.Type == "" || k.Type == "none" {
			continue
		}
		t, ok := b.types[k.Type]
		if !ok {
			t = &BigKeysType{Type: k.Type}
			b.types[k.Type] = t
		}
		t.Count++
		bk := BigKey{KeyInfo: k, MemoryBytes: mems[i].Val()}
		t.ByLen = keepTop(t.ByLen, bk, b.cfg.Top, func(x BigKey) int64 {
			if x.Len == nil {
				return 0
			}
			return *x.Len
		})
		t.ByMem = keepTop(t.ByMem, bk, b.cfg.Top, func(x BigKey) int64 { return x.MemoryBytes })
	}
	return nil
}

// keepTop inserts k into top (sorted by measure, descending) and keeps n.
func keepTop(top []BigKey, k BigKey, n int, measure func(BigKey) int64) []BigKey {
	if len(top) == n && measure(k) <= measure(top[n-1]) {
		return top
	}
	i, _ := slices.BinarySearchFunc(top, measure(k), func(x BigKey, v int64) int { return cmp.Compare(v, measure(x)) })
	top = slices.Insert(top, i, k)
	if len(top) > n {
		top = top[:n]
	}
	return top
}

// reply returns the scan's state.
func (b *bigKeys) reply() BigKeysReply {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := BigKeysReply{State: b.state, Started: b.started, Finished: b.finished, Scanned: b.scanned, Error: b.errText, Types: []BigKeysType{}, Rate: b.cfg.Rate}
	sum := 0.0
	for _, n := range b.nodes {
		f := cursorFraction(n.cursor)
		if n.done {
			f = 1
		}
		sum += f
		r.Progress.Nodes = append(r.Progress.Nodes, NodeProgress{Node: n.node.Addr, Fraction: f, Done: n.done})
	}
	if len(b.nodes) > 0 {
		r.Progress.Fraction = sum / float64(len(b.nodes))
	}
	for _, t := range b.types {
		c := *t
		c.ByLen, c.ByMem = slices.Clone(t.ByLen), slices.Clone(t.ByMem)
		r.Types = append(r.Types, c)
	}
	slices.SortFunc(r.Types, func(a, b BigKeysType) int { return cmp.Compare(a.Type, b.Type) })
	return r
}
