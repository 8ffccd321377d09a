package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
// cfg.Batch, one pipeline a step (see scanNode): every command is O(1) or
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

// scanNode walks one master in steps of SCAN COUNT batch, one step every
// len(keys)/rate seconds. A step is one round trip, one small pipeline:
// TYPE and MEMORY USAGE of its keys, the length commands of the last
// step's keys (their types are known now) and the SCAN of the next step.
// Nothing else is sent (no PTTL: the report has no use for it): each
// wake-up costs the server, and a machine it may share with its clients,
// more than the commands themselves, so a step makes as few as it can.
func (b *bigKeys) scanNode(ctx context.Context, sn *scanNode) error {
	cl := sn.node.client
	keys, next, err := cl.Scan(ctx, sn.cursor, "", int64(b.cfg.Batch)).Result()
	if err != nil {
		return err
	}
	var last *bigStep
	stepAt := time.Now()
	for {
		st, err := b.step(ctx, cl, sn.node.Addr, last, keys, next)
		if err != nil {
			return err
		}
		last = st
		b.mu.Lock()
		sn.cursor = next
		sn.scanned += int64(len(keys))
		b.scanned += int64(len(keys))
		b.mu.Unlock()
		if next == 0 {
			// The lengths of the last step's keys, alone.
			if _, err := b.step(ctx, cl, sn.node.Addr, last, nil, 0); err != nil {
				return err
			}
			b.mu.Lock()
			sn.done = true
			b.mu.Unlock()
			return nil
		}
		// Rate limit: this step's keys may take len/rate seconds; the
		// next step starts then, or now when this one took longer (it
		// does not catch up in a burst).
		stepAt = stepAt.Add(time.Duration(float64(len(keys)) / float64(b.cfg.Rate) * float64(time.Second)))
		if pause := time.Until(stepAt); pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		} else {
			stepAt = time.Now()
		}
		keys, next = st.nextKeys, st.next
	}
}

// bigStep is the keys of one step whose lengths are asked in the next.
type bigStep struct {
	infos []KeyInfo
	mem   []int64
	// nextKeys and next are the reply of the SCAN sent with the step.
	nextKeys []string
	next     uint64
}

// step sends one pipeline: the length commands of last's keys, TYPE and
// MEMORY USAGE of keys, and SCAN cursor when it is not 0. It records last's
// keys and returns keys' step.
func (b *bigKeys) step(ctx context.Context, cl *goredis.Client, addr string, last *bigStep, keys []string, cursor uint64) (*bigStep, error) {
	st := &bigStep{infos: newKeyInfos(keys, nil, addr, b.conn.cluster != nil), mem: make([]int64, len(keys))}
	pipe := cl.Pipeline()
	var lens []*goredis.Cmd
	if last != nil {
		lens = make([]*goredis.Cmd, len(last.infos))
		for i := range last.infos {
			if cmd := lenCommand(last.infos[i].Type); cmd != "" {
				lens[i] = pipe.Do(ctx, cmd, last.infos[i].key())
			}
		}
	}
	types := make([]*goredis.StatusCmd, len(keys))
	mems := make([]*goredis.IntCmd, len(keys))
	for i, k := range keys {
		types[i] = pipe.Type(ctx, k)
		mems[i] = pipe.MemoryUsage(ctx, k)
	}
	var scan *goredis.ScanCmd
	if cursor != 0 {
		scan = pipe.Scan(ctx, cursor, "", int64(b.cfg.Batch))
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil && ctx.Err() != nil {
			return nil, err
		}
	}
	if scan != nil {
		var err error
		if st.nextKeys, st.next, err = scan.Result(); err != nil {
			return nil, err
		}
	}
	if last != nil {
		for i, cmd := range lens {
			if cmd == nil {
				continue
			}
			if n, err := cmd.Int64(); err == nil {
				last.infos[i].Len = &n
			}
		}
		b.record(last.infos, last.mem)
	}
	var moved []int // keys in a slot that is moving: asked through the cluster client
	for i := range keys {
		switch err := types[i].Err(); {
		case isRedirect(err):
			moved = append(moved, i)
			continue
		case err != nil:
			return nil, fmt.Errorf("TYPE: %w", err)
		}
		st.infos[i].Type = types[i].Val()
		st.mem[i] = mems[i].Val()
	}
	if len(moved) > 0 && b.conn.cluster != nil {
		// Rare: described now, through the cluster client, and recorded
		// with the step's other keys (their length is not asked again:
		// lenCommand of "" is "").
		again := make([]KeyInfo, len(moved))
		for j, i := range moved {
			again[j] = st.infos[i]
		}
		if err := b.conn.describe(ctx, b.conn.cluster, again, ""); err != nil {
			return nil, err
		}
		mem := make([]int64, len(moved))
		for j, i := range moved {
			mem[j] = b.conn.cluster.MemoryUsage(ctx, keys[i]).Val()
		}
		b.record(again, mem)
	}
	return st, nil
}

// record adds keys, with their memory, to the report.
func (b *bigKeys) record(infos []KeyInfo, mem []int64) {
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
		bk := BigKey{KeyInfo: k, MemoryBytes: mem[i]}
		t.ByLen = keepTop(t.ByLen, bk, b.cfg.Top, func(x BigKey) int64 {
			if x.Len == nil {
				return 0
			}
			return *x.Len
		})
		t.ByMem = keepTop(t.ByMem, bk, b.cfg.Top, func(x BigKey) int64 { return x.MemoryBytes })
	}
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
