package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// KeyInfo is one key found by a search or shown by the key view.
type KeyInfo struct {
	Name    string `json:"name"`
	NameB64 string `json:"name_b64"`
	Binary  bool   `json:"binary"`
	Type    string `json:"type,omitempty"`
	// Len is the key's length (STRLEN, HLEN, LLEN, SCARD, ZCARD, XLEN or a
	// module's own length command); nil when unknown.
	Len *int64 `json:"len,omitempty"`
	// TTLms is PTTL: -1 no expiry, -2 gone; nil when not asked for.
	TTLms *int64 `json:"ttl_ms,omitempty"`
	// Slot is the cluster hash slot (CLUSTER KEYSLOT); nil on a standalone
	// server.
	Slot *int `json:"slot,omitempty"`
	// Node is the address of the server that holds the key.
	Node string `json:"node"`

	raw  []byte
	hash uint64 // in a search's seen set
}

func newKeyInfo(key []byte, addr string, cluster bool) KeyInfo {
	k := KeyInfo{Name: display(key), NameB64: b64(key), raw: key, Node: addr}
	k.Binary = k.Name != string(key)
	if cluster {
		s := keySlot(key)
		k.Slot = &s
	}
	return k
}

// Raw returns the key's bytes.
func (k *KeyInfo) Raw() []byte { return k.raw }

// searchParams is what a search looks for.
type searchParams struct {
	Pattern string // glob; "" is every key
	Type    string // "" any type
	Min     int    // a page answers once it has this many hits
	Meta    bool   // fetch type, length and TTL of each hit
}

// search is a key search in progress: a cursor per master, the keys
// already returned (so that none is returned twice, even when a slot
// migrates during the search) and the slots to read again because they left
// a node before its scan ended.
type search struct {
	id      string
	conn    *Conn
	params  searchParams
	cluster bool
	seed    maphash.Seed
	total   int64 // DBSIZE summed over the masters when the search began

	// page is held by the page in flight: one at a time per search.
	page sync.Mutex

	mu        sync.Mutex // guards nodes' cursors, seen, found, cancel, cancelled, used
	nodes     []*scanNode
	seen      map[uint64]struct{}
	found     int
	cancel    context.CancelFunc
	cancelled bool
	used      time.Time
}

// scanNode is one master's part of a search.
type scanNode struct {
	node   *node
	cursor uint64
	done   bool
	// slots are the slots the node served when the search began.
	slots []SlotRange
	// scanned counts keys SCAN returned from the node.
	scanned int64
}

// Progress is how far a search is.
type Progress struct {
	// Fraction of the keyspace walked, 0 to 1, estimated from the SCAN
	// cursors (a cursor's bit-reversed value grows through the table).
	Fraction float64 `json:"fraction"`
	// Total is DBSIZE summed over the masters when the search began.
	Total int64          `json:"total"`
	Nodes []NodeProgress `json:"nodes"`
}

// NodeProgress is one master's part of Progress.
type NodeProgress struct {
	Node     string  `json:"node"`
	Fraction float64 `json:"fraction"`
	Done     bool    `json:"done"`
}

// SearchPage is one answer of GET /api/redis/{conn}/keys.
type SearchPage struct {
	Keys []KeyInfo `json:"keys"`
	// Cursor continues the search; "" when it is done.
	Cursor    string   `json:"cursor"`
	Done      bool     `json:"done"`
	Progress  Progress `json:"progress"`
	ElapsedMS int64    `json:"elapsed_ms"`
}

// searches holds the searches in progress of a part.
type searches struct {
	ttl time.Duration
	max int

	mu   sync.Mutex // guards byID
	byID map[string]*search
}

// errSearchGone is returned for a cursor whose search ended, expired or was
// cancelled.
var errSearchGone = errors.New("search not found: it ended, expired or was cancelled; start it again")

// start begins a search on c.
func (ss *searches) start(ctx context.Context, c *Conn, p searchParams) (*search, error) {
	masters, err := c.masters(ctx)
	if err != nil {
		return nil, err
	}
	s := &search{conn: c, params: p, cluster: c.cluster != nil, seed: maphash.MakeSeed(), seen: map[uint64]struct{}{}, used: time.Now()}
	var id [16]byte
	_, _ = rand.Read(id[:])
	s.id = hex.EncodeToString(id[:])
	var topo []ClusterNode
	if s.cluster {
		if topo, err = c.topology(ctx); err != nil {
			return nil, err
		}
	}
	for _, m := range masters {
		sn := &scanNode{node: m}
		for _, t := range topo {
			if t.ID == m.ID {
				sn.slots = t.Slots
			}
		}
		s.nodes = append(s.nodes, sn)
	}
	// DBSIZE is O(1); it only feeds the progress estimate.
	pipe := make([]*goredis.IntCmd, len(masters))
	var wg sync.WaitGroup
	for i, m := range masters {
		wg.Go(func() { pipe[i] = m.client.DBSize(ctx) })
	}
	wg.Wait()
	for _, cmd := range pipe {
		s.total += cmd.Val()
	}
	if matchAll(p.Pattern) && p.Type == "" {
		s.seen = make(map[uint64]struct{}, min(s.total, 1<<22))
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := time.Now()
	for id, old := range ss.byID {
		old.mu.Lock()
		expired := now.Sub(old.used) > ss.ttl
		old.mu.Unlock()
		if expired {
			delete(ss.byID, id)
		}
	}
	if len(ss.byID) >= ss.max {
		var oldest *search
		for _, o := range ss.byID {
			if oldest == nil || o.used.Before(oldest.used) {
				oldest = o
			}
		}
		oldest.stop()
		delete(ss.byID, oldest.id)
	}
	ss.byID[s.id] = s
	return s, nil
}

// get returns the search of cursor on connection c.
func (ss *searches) get(c *Conn, cursor string) (*search, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[cursor]
	if !ok || s.conn != c {
		return nil, errSearchGone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.used) > ss.ttl {
		delete(ss.byID, cursor)
		return nil, errSearchGone
	}
	s.used = time.Now()
	return s, nil
}

// cancel stops the search of cursor and forgets it; it reports whether
// there was one.
func (ss *searches) cancel(c *Conn, cursor string) bool {
	ss.mu.Lock()
	s, ok := ss.byID[cursor]
	if ok && s.conn == c {
		delete(ss.byID, cursor)
	}
	ss.mu.Unlock()
	if !ok || s.conn != c {
		return false
	}
	s.stop()
	return true
}

// finish forgets a search that is done.
func (ss *searches) finish(s *search) {
	ss.mu.Lock()
	delete(ss.byID, s.id)
	ss.mu.Unlock()
}

// stopAll cancels every search (on Stop).
func (ss *searches) stopAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, s := range ss.byID {
		s.stop()
		delete(ss.byID, id)
	}
}

// stop cancels the page in flight, if any, and every later one.
func (s *search) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelled = true
	if s.cancel != nil {
		s.cancel()
	}
}

// next runs one page: it scans the masters not done yet, at most parallel
// at once, until the page has p.Min hits, every master is done, or budget
// passes (the SCAN in flight then finishes).
func (s *search) next(ctx context.Context, budget time.Duration, parallel, count int) (SearchPage, error) {
	s.page.Lock()
	defer s.page.Unlock()
	began := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.cancelled {
		s.mu.Unlock()
		return SearchPage{}, errSearchGone
	}
	s.cancel = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cancel = nil
		s.used = time.Now()
		s.mu.Unlock()
	}()

	pg := &pageRun{s: s, until: began.Add(budget), count: count}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var errs []error
	for _, sn := range s.nodes {
		if sn.done {
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := pg.scan(ctx, sn); err != nil {
				errMu.Lock()
				errs = append(errs, fmt.Errorf("scan %s: %w", sn.node.Addr, err))
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	s.mu.Lock()
	cancelled := s.cancelled
	s.mu.Unlock()
	if cancelled {
		return SearchPage{}, errSearchGone
	}
	hits := pg.keys()
	if len(errs) > 0 && len(hits) == 0 {
		return SearchPage{}, errors.Join(errs...)
	}
	out := SearchPage{Keys: hits, Progress: s.progress(), ElapsedMS: time.Since(began).Milliseconds()}
	out.Done = out.Progress.Fraction >= 1 && allDone(s.nodes)
	if !out.Done {
		out.Cursor = s.id
	}
	return out, nil
}

func allDone(nodes []*scanNode) bool {
	for _, n := range nodes {
		if !n.done {
			return false
		}
	}
	return true
}

// progress estimates how far the search is.
func (s *search) progress() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := Progress{Total: s.total}
	sum := 0.0
	for _, n := range s.nodes {
		f := cursorFraction(n.cursor)
		if n.done {
			f = 1
		}
		sum += f
		p.Nodes = append(p.Nodes, NodeProgress{Node: n.node.Addr, Fraction: f, Done: n.done})
	}
	if len(s.nodes) > 0 {
		p.Fraction = sum / float64(len(s.nodes))
	}
	return p
}

// cursorFraction estimates how much of a server's table a SCAN has walked
// given its next cursor: SCAN increments the cursor's reversed bits, so the
// bit-reversed cursor over 2^64 is the fraction done.
func cursorFraction(cursor uint64) float64 {
	return float64(bits.Reverse64(cursor)) / math.Exp2(64)
}

// pageRun is one page of a search in flight.
type pageRun struct {
	s     *search
	until time.Time
	count int

	hitsN atomic.Int64
	mu    sync.Mutex // guards hits
	// hits are the batches of keys found, joined once at the end of the
	// page (growing one slice of large structs would copy them often).
	hits [][]KeyInfo
}

// keys returns the page's hits in one slice.
func (pg *pageRun) keys() []KeyInfo {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	n := 0
	for _, h := range pg.hits {
		n += len(h)
	}
	out := make([]KeyInfo, 0, n)
	for _, h := range pg.hits {
		out = append(out, h...)
	}
	return out
}

func (pg *pageRun) enough() bool {
	return pg.hitsN.Load() >= int64(pg.s.params.Min) || time.Now().After(pg.until)
}

// scan walks one master until the page has enough, its time is up or the
// master is done.
func (pg *pageRun) scan(ctx context.Context, sn *scanNode) error {
	s := pg.s
	p := s.params
	match := p.Pattern
	if matchAll(match) {
		match = ""
	}
	cl := sn.node.client
	for !pg.enough() {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		cursor := sn.cursor
		s.mu.Unlock()
		var keys []string
		var next uint64
		var err error
		if p.Type != "" {
			keys, next, err = cl.ScanType(ctx, cursor, match, int64(pg.count), p.Type).Result()
		} else {
			keys, next, err = cl.Scan(ctx, cursor, match, int64(pg.count)).Result()
		}
		if err != nil {
			return err
		}
		infos := s.unseen(keys, sn.node.Addr)
		if p.Meta && len(infos) > 0 {
			if err := s.conn.describe(ctx, cl, infos, p.Type); err != nil {
				return err
			}
		}
		var lost []lostSlot
		if next == 0 && s.cluster {
			// The master is done: slots that left it (or are leaving)
			// while it was scanned may have taken unscanned keys along.
			if lost, err = s.lostSlots(ctx, sn); err != nil {
				return err
			}
		}
		s.mu.Lock()
		sn.cursor = next
		sn.scanned += int64(len(keys))
		if next == 0 {
			sn.done = true
		}
		s.mu.Unlock()
		pg.commit(infos)
		for _, ls := range lost {
			if err := pg.fixSlot(ctx, sn, ls); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
	}
	return nil
}

// unseen returns the keys not returned before by this search, as KeyInfos
// from addr, each with its hash for commit.
func (s *search) unseen(keys []string, addr string) []KeyInfo {
	hs := make([]uint64, len(keys))
	for i, k := range keys {
		hs[i] = maphash.String(s.seed, k)
	}
	s.mu.Lock()
	fresh := make([]int, 0, len(keys))
	for i := range keys {
		if _, ok := s.seen[hs[i]]; !ok {
			fresh = append(fresh, i)
		}
	}
	s.mu.Unlock()
	out := make([]KeyInfo, len(fresh))
	for j, i := range fresh {
		out[j] = newKeyInfo([]byte(keys[i]), addr, s.cluster)
		out[j].hash = hs[i]
	}
	return out
}

// commit adds the keys that no other master returned meanwhile to the
// page's hits and marks them seen.
func (pg *pageRun) commit(infos []KeyInfo) {
	s := pg.s
	kept := infos[:0]
	s.mu.Lock()
	for _, k := range infos {
		if k.TTLms != nil && *k.TTLms == -2 {
			continue // deleted or moved between SCAN and describe
		}
		if _, ok := s.seen[k.hash]; ok {
			continue
		}
		s.seen[k.hash] = struct{}{}
		kept = append(kept, k)
	}
	s.found += len(kept)
	s.mu.Unlock()
	if len(kept) == 0 {
		return
	}
	pg.mu.Lock()
	pg.hits = append(pg.hits, kept)
	pg.mu.Unlock()
	pg.hitsN.Add(int64(len(kept)))
}

// lostSlot is a slot that left a master during a search, and where its
// keys are now.
type lostSlot struct {
	slot int
	to   string // the address of the owner, or of the importing node
}

// lostSlots asks a master that finished its scan which of the slots it
// served when the search began it no longer serves, or is migrating away,
// and where they went. Only then is the cluster map reloaded.
func (s *search) lostSlots(ctx context.Context, sn *scanNode) ([]lostSlot, error) {
	if len(sn.slots) == 0 {
		return nil, nil
	}
	out, err := sn.node.client.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var me *ClusterNode
	nodes := parseClusterNodes(out)
	for i := range nodes {
		if nodes[i].Myself {
			me = &nodes[i]
		}
	}
	if me == nil {
		return nil, errors.New("CLUSTER NODES has no myself line")
	}
	owner := make([]string, slots)
	byID := map[string]string{}
	for _, n := range nodes {
		byID[n.ID] = n.Addr
		if n.Role != "master" {
			continue
		}
		for _, r := range n.Slots {
			for i := r.From; i <= r.To; i++ {
				owner[i] = n.Addr
			}
		}
	}
	var lost []lostSlot
	for _, r := range sn.slots {
		for i := r.From; i <= r.To; i++ {
			if to, migrating := me.Migrating[i]; migrating {
				lost = append(lost, lostSlot{slot: i, to: byID[to]})
			} else if owner[i] != me.Addr {
				lost = append(lost, lostSlot{slot: i, to: owner[i]})
			}
		}
	}
	if len(lost) > 0 {
		s.conn.invalidate("slots moved during a search")
		s.conn.redirected()
	}
	return lost, nil
}

// fixSlot reads the keys of a slot that left sn during the search: first
// what is still on sn, then what is on the slot's owner now, so that a key
// in flight between them is read on one side or the other; keys already
// returned are dropped.
func (pg *pageRun) fixSlot(ctx context.Context, sn *scanNode, ls lostSlot) error {
	s := pg.s
	slot := ls.slot
	clients := []*goredis.Client{sn.node.client}
	if ls.to != "" {
		clients = append(clients, s.conn.nodeClient(ls.to))
	}
	for _, cl := range clients {
		addr := cl.Options().Addr
		n, err := cl.ClusterCountKeysInSlot(ctx, slot).Result()
		if err != nil {
			return fmt.Errorf("CLUSTER COUNTKEYSINSLOT %d on %s: %w", slot, addr, err)
		}
		if n == 0 {
			continue
		}
		keys, err := cl.ClusterGetKeysInSlot(ctx, slot, int(n)+16).Result()
		if err != nil {
			return fmt.Errorf("CLUSTER GETKEYSINSLOT %d on %s: %w", slot, addr, err)
		}
		infos := slices.DeleteFunc(s.unseen(keys, addr), func(k KeyInfo) bool {
			return !matchAll(s.params.Pattern) && !globMatch([]byte(s.params.Pattern), k.raw)
		})
		if len(infos) == 0 {
			continue
		}
		if s.params.Meta || s.params.Type != "" {
			if err := s.conn.describe(ctx, cl, infos, ""); err != nil {
				return err
			}
			if s.params.Type != "" {
				infos = slices.DeleteFunc(infos, func(k KeyInfo) bool { return !strings.EqualFold(k.Type, s.params.Type) })
			}
		}
		pg.commit(infos)
	}
	return nil
}
