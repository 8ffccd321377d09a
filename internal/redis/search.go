package redis

import (
	"context"
	"crypto/rand"
	"encoding/base64"
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
	"unicode/utf8"
	"unsafe"

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
}

// key returns the key's bytes as a string: Name, or when the name is not
// UTF-8, NameB64 decoded (such keys are rare; a KeyInfo is kept small, as a
// search holds a million of them).
func (k *KeyInfo) key() string {
	if !k.Binary {
		return k.Name
	}
	b, _ := base64.StdEncoding.DecodeString(k.NameB64)
	return string(b)
}

func newKeyInfo(key []byte, addr string, cluster bool) KeyInfo {
	return newKeyInfos([]string{string(key)}, nil, addr, cluster)[0]
}

// newKeyInfos returns keys[i] for each i in idx (every key when idx is
// nil) as KeyInfos from addr. A search makes a million of them a second,
// so a batch costs a few allocations, not a few per key: a name that is
// UTF-8 is the key string itself, the base64 names share one buffer and the
// slots one slice.
func newKeyInfos(keys []string, idx []int, addr string, cluster bool) []KeyInfo {
	n := len(keys)
	if idx != nil {
		n = len(idx)
	}
	out := make([]KeyInfo, n)
	fillKeyInfos(out, keys, idx, addr, cluster)
	return out
}

// fillKeyInfos is newKeyInfos into out, which has room for them.
func fillKeyInfos(out []KeyInfo, keys []string, idx []int, addr string, cluster bool) {
	n := len(out)
	key := func(j int) string {
		if idx == nil {
			return keys[j]
		}
		return keys[idx[j]]
	}
	size := 0
	for j := range n {
		size += base64.StdEncoding.EncodedLen(len(key(j)))
	}
	buf := make([]byte, size)
	var slotsOf []int
	if cluster {
		slotsOf = make([]int, n)
	}
	off := 0
	for j := range n {
		k := key(j)
		ki := &out[j]
		ki.Node = addr
		if utf8.ValidString(k) {
			ki.Name = k
		} else {
			ki.Name, ki.Binary = display(bytesOf(k)), true
		}
		if m := base64.StdEncoding.EncodedLen(len(k)); m > 0 {
			base64.StdEncoding.Encode(buf[off:off+m], bytesOf(k))
			// buf is written once, here, and never again.
			ki.NameB64 = unsafe.String(&buf[off], m)
			off += m
		}
		if cluster {
			slotsOf[j] = keySlot(bytesOf(k))
			ki.Slot = &slotsOf[j]
		}
	}
}

// bytesOf returns the bytes of s without a copy; they must not be written.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Raw returns the key's bytes.
func (k *KeyInfo) Raw() []byte { return []byte(k.key()) }

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
	seen      *seenSet
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
	// ahead is the reply of the SCAN at cursor when it was read ahead by
	// a page that ended before it used it.
	ahead *scanReply
}

// scanReply is the reply of one SCAN at cursor.
type scanReply struct {
	cursor uint64
	keys   []string
	next   uint64
	err    error
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
	s := &search{conn: c, params: p, cluster: c.cluster != nil, seed: maphash.MakeSeed(), seen: newSeenSet(0), used: time.Now()}
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
		s.seen = newSeenSet(int(min(s.total, 1<<22)))
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

	pg := s.newPageRun(began.Add(budget), count)
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
	// hits are the keys found. Each batch is appended as it comes, into a
	// slice sized up front when the page's size can be told (joining
	// batches at the end, or growing the slice, would copy a million
	// structs in one go that the garbage collector cannot interrupt).
	hits []KeyInfo
}

// newPageRun returns a page of s that ends at until.
func (s *search) newPageRun(until time.Time, count int) *pageRun {
	pg := &pageRun{s: s, until: until, count: count}
	want := int64(min(s.params.Min, 1024))
	if matchAll(s.params.Pattern) && s.params.Type == "" {
		// Every key is a hit: the page gets min or what DBSIZE says is
		// left, whichever is less, plus some slack for keys added since.
		s.mu.Lock()
		left := s.total - int64(s.found)
		s.mu.Unlock()
		want = min(int64(s.params.Min), max(left+left/16+64, 64))
	}
	pg.hits = make([]KeyInfo, 0, min(want, 1<<24))
	return pg
}

// keys returns the page's hits.
func (pg *pageRun) keys() []KeyInfo {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return pg.hits
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
	scan := func(cursor uint64) scanReply {
		r := scanReply{cursor: cursor}
		if p.Type != "" {
			r.keys, r.next, r.err = cl.ScanType(ctx, cursor, match, int64(pg.count), p.Type).Result()
		} else {
			r.keys, r.next, r.err = cl.Scan(ctx, cursor, match, int64(pg.count)).Result()
		}
		return r
	}
	// The next SCAN is sent as soon as a reply gives its cursor, and runs
	// on the server while this one's keys are worked on here: the walk
	// takes about the server's time, not the server's time plus ours.
	var ahead chan scanReply
	defer func() {
		if ahead == nil {
			return
		}
		// Keep what the SCAN in flight returns for the next page.
		if r := <-ahead; r.err == nil {
			s.mu.Lock()
			sn.ahead = &r
			s.mu.Unlock()
		}
	}()
	for !pg.enough() {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		cursor, kept := sn.cursor, sn.ahead
		sn.ahead = nil
		s.mu.Unlock()
		var r scanReply
		switch {
		case ahead != nil:
			r = <-ahead
			ahead = nil
		case kept != nil && kept.cursor == cursor:
			r = *kept
		default:
			r = scan(cursor)
		}
		if r.err == nil && r.cursor != cursor {
			r = scan(cursor) // read ahead for a step that failed since
		}
		if r.err != nil {
			return r.err
		}
		keys, next := r.keys, r.next
		if next != 0 && !pg.enough() {
			ahead = make(chan scanReply, 1)
			go func() { ahead <- scan(next) }()
		}
		var err error
		var infos []KeyInfo
		if p.Meta {
			infos = s.unseen(keys, sn.node.Addr)
			if len(infos) > 0 {
				if err := s.conn.describe(ctx, cl, infos, p.Type); err != nil {
					return err
				}
			}
		} else {
			// Nothing to ask about the keys: they are hits once claimed.
			pg.claim(keys, sn.node.Addr)
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
	hs := s.hashes(keys)
	s.mu.Lock()
	fresh := make([]int, 0, len(keys))
	for i, h := range hs {
		if !s.seen.has(h) {
			fresh = append(fresh, i)
		}
	}
	s.mu.Unlock()
	return newKeyInfos(keys, fresh, addr, s.cluster)
}

// claim marks the keys seen and adds those that were not to the page, as
// KeyInfos from addr: unseen and commit in one step, for hits that need no
// more commands (no type, length or TTL asked for).
func (pg *pageRun) claim(keys []string, addr string) {
	s := pg.s
	hs := s.hashes(keys)
	fresh := make([]int, 0, len(keys))
	s.mu.Lock()
	for i, h := range hs {
		if s.seen.add(h) {
			fresh = append(fresh, i)
		}
	}
	s.found += len(fresh)
	s.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	// Made in place: a million hits are not copied twice.
	pg.mu.Lock()
	at := len(pg.hits)
	pg.hits = slices.Grow(pg.hits, len(fresh))[:at+len(fresh)]
	fillKeyInfos(pg.hits[at:], keys, fresh, addr, s.cluster)
	pg.mu.Unlock()
	pg.hitsN.Add(int64(len(fresh)))
}

func (s *search) hashes(keys []string) []uint64 {
	hs := make([]uint64, len(keys))
	for i, k := range keys {
		hs[i] = maphash.String(s.seed, k)
	}
	return hs
}

// commit adds the keys that no other master returned meanwhile to the
// page's hits and marks them seen.
func (pg *pageRun) commit(infos []KeyInfo) {
	s := pg.s
	kept := infos[:0]
	hs := make([]uint64, len(infos))
	for i := range infos {
		hs[i] = maphash.String(s.seed, infos[i].key())
	}
	s.mu.Lock()
	for i, k := range infos {
		if k.TTLms != nil && *k.TTLms == -2 {
			continue // deleted or moved between SCAN and describe
		}
		if s.seen.add(hs[i]) {
			kept = append(kept, k)
		}
	}
	s.found += len(kept)
	s.mu.Unlock()
	pg.add(kept)
}

// add appends hits to the page.
func (pg *pageRun) add(hits []KeyInfo) {
	if len(hits) == 0 {
		return
	}
	pg.mu.Lock()
	pg.hits = append(pg.hits, hits...)
	pg.mu.Unlock()
	pg.hitsN.Add(int64(len(hits)))
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
			return !matchAll(s.params.Pattern) && !globMatch([]byte(s.params.Pattern), bytesOf(k.key()))
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
