package redis

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dandan-sre/dandan/internal/testkit"
)

// clusterKeys is how many keys TestCluster stores.
const clusterKeys = 6000

func TestCluster(t *testing.T) {
	skipShort(t)
	cl := testkit.StartRedisCluster(t)
	ctx := context.Background()
	admin := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Masters, Protocol: 2})
	t.Cleanup(func() { admin.Close() })
	pipe := admin.Pipeline()
	for i := range clusterKeys {
		pipe.Set(ctx, fmt.Sprintf("k:%05d", i), i, 0)
	}
	pipe.HSet(ctx, "{tag}:h", "f1", "v1", "f2", "v2")
	pipe.SAdd(ctx, "{tag}:s", "m1", "m2")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.ScanCount = 100
	cfg.Connections = map[string]*ConnConfig{"c": {Cluster: cl.Masters[:1]}}
	h := newHarness(t, cfg)

	t.Run("search matches redis-cli --scan on every master", func(t *testing.T) {
		for _, pattern := range []string{"k:01*", "k:0[0-2]?5", "*"} {
			got := keyNames(h.searchAll("c", "pattern="+pattern+"&min=50"), t)
			var want []string
			for _, m := range cl.Masters {
				want = append(want, redisCLIScan(t, m, pattern)...)
			}
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Fatalf("pattern %s: %d keys, redis-cli --scan: %d", pattern, len(got), len(want))
			}
		}
	})

	t.Run("slot and node of every hit", func(t *testing.T) {
		owner := slotOwners(t, admin)
		keys := h.searchAll("c", "pattern=k:000*&min=1000")
		if len(keys) != 100 {
			t.Fatalf("%d keys", len(keys))
		}
		for i, k := range keys {
			if k.Slot == nil || k.Node != owner[*k.Slot] {
				t.Fatalf("%s: slot %v node %s, CLUSTER SLOTS says %s", k.Name, k.Slot, k.Node, owner[*k.Slot])
			}
			if i%10 == 0 {
				s, err := admin.ClusterKeySlot(ctx, k.Name).Result()
				if err != nil || int(s) != *k.Slot {
					t.Fatalf("%s: slot %d, CLUSTER KEYSLOT %d %v", k.Name, *k.Slot, s, err)
				}
			}
		}
	})

	t.Run("key view and field search on a cluster", func(t *testing.T) {
		var v KeyView
		h.getJSON("/api/redis/c/key?name=%7Btag%7D:h", &v)
		if len(v.Items) != 2 || v.Slot == nil || *v.Slot != keySlot([]byte("tag")) || v.Node == "" {
			t.Fatalf("%+v", v)
		}
		var fp FieldPage
		h.getJSON("/api/redis/c/key/fields?name=%7Btag%7D:s&pattern=m*", &fp)
		if len(fp.Items) != 2 {
			t.Fatalf("%+v", fp)
		}
	})

	t.Run("every name and big keys on every master", func(t *testing.T) {
		if got := h.searchAll("c", "pattern=*&meta=0&min=700"); len(got) != clusterKeys+2 {
			t.Errorf("every name: %d keys, want %d", len(got), clusterKeys+2)
		}
		if status, b := h.do("POST", "/api/redis/c/bigkeys", nil, ""); status != 202 {
			t.Fatalf("start: %d %s", status, b)
		}
		var r BigKeysReply
		testkit.Eventually(t, 20*time.Second, func() error {
			h.getJSON("/api/redis/c/bigkeys", &r)
			if r.State != "done" {
				return fmt.Errorf("state %s, %d scanned", r.State, r.Scanned)
			}
			return nil
		})
		owner := slotOwners(t, admin)
		counts := map[string]int64{}
		for _, typ := range r.Types {
			counts[typ.Type] = typ.Count
			for _, k := range append(typ.ByLen, typ.ByMem...) {
				if k.Slot == nil || k.Node != owner[*k.Slot] || k.MemoryBytes <= 0 || k.Len == nil {
					t.Errorf("big key %+v: want its slot's master, memory and length", k)
				}
			}
		}
		if r.Scanned != clusterKeys+2 || counts["string"] != clusterKeys || counts["hash"] != 1 || counts["set"] != 1 || len(r.Progress.Nodes) != 3 {
			t.Errorf("big keys: %d scanned, counts %v, %d nodes", r.Scanned, counts, len(r.Progress.Nodes))
		}
	})

	t.Run("cluster view", func(t *testing.T) {
		var cr ClusterReply
		h.getJSON("/api/redis/c/cluster?refresh=1", &cr)
		// A replica may be between roles while the cluster settles, so
		// count the masters that serve slots.
		masters := 0
		for _, n := range cr.Nodes {
			if n.Role == "master" && n.SlotCount() > 0 {
				masters++
			}
		}
		if cr.State != "ok" || masters != 3 || len(cr.Nodes) != 6 || cr.SlotsAssigned != slots {
			t.Fatalf("%+v", cr)
		}
		var sl SlowlogReply
		h.getJSON("/api/redis/c/slowlog?count=5", &sl)
		var ci ClientsReply
		h.getJSON("/api/redis/c/clients", &ci)
		nodes := map[string]bool{}
		for _, c := range ci.Clients {
			nodes[c.Node] = true
		}
		if len(nodes) != 6 {
			t.Errorf("clients from %d nodes", len(nodes))
		}
		var ir InfoReply
		h.getJSON("/api/redis/c/info?section=replication&node="+cl.Replicas[0], &ir)
		if len(ir.Nodes) != 1 || infoValue(ir.Nodes[0].Sections, "role") != "slave" {
			t.Errorf("info of a replica %+v", ir)
		}
	})

	t.Run("resharding during a search returns every key once", func(t *testing.T) {
		all := h.searchAll("c", "pattern=*&min=100000")
		var page SearchPage
		h.getJSON("/api/redis/c/keys?pattern=*&min=300", &page)
		got := slices.Clone(page.Keys)
		// Move 300 slots from the first master to the second, and leave
		// one more half migrated while the search goes on.
		live := liveMasters(t, cl.Addrs())
		src, dst := live[0], live[1]
		first, _ := firstSlots(t, admin, src)
		for s := first; s < first+300; s++ {
			migrateSlot(t, src, dst, s, true)
		}
		half := first + 300
		migrateSlot(t, src, dst, half, false)
		cursor := page.Cursor
		for i := 0; cursor != ""; i++ {
			h.getJSON("/api/redis/c/keys?pattern=*&min=300&cursor="+cursor, &page)
			got = append(got, page.Keys...)
			cursor = page.Cursor
			if i == 1 {
				migrateSlot(t, src, dst, half, true)
			}
		}
		names := keyNames(got, t)
		if len(names) != len(all) || len(slices.Compact(slices.Clone(names))) != len(names) {
			t.Fatalf("%d keys (%d distinct), want %d", len(names), len(slices.Compact(slices.Clone(names))), len(all))
		}
		if !slices.Equal(names, keyNames(all, t)) {
			t.Fatal("keys differ from a search before the resharding")
		}
		refreshes, reason, _ := h.p.conns["c"].topoStats()
		if refreshes < 2 {
			t.Errorf("cluster map loaded %d times (%s), want a reload after the slots moved", refreshes, reason)
		}
	})
}

// redisCLIScan lists the keys of one server with redis-cli --scan.
func redisCLIScan(t *testing.T, addr, pattern string) []string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("redis-cli", "-h", host, "-p", port, "--scan", "--pattern", pattern).Output()
	if err != nil {
		t.Fatalf("redis-cli --scan on %s: %v", addr, err)
	}
	var keys []string
	for l := range strings.Lines(string(out)) {
		if l = strings.TrimSuffix(l, "\n"); l != "" {
			keys = append(keys, l)
		}
	}
	return keys
}

// slotOwners maps each slot to its master's address from CLUSTER SLOTS.
func slotOwners(t *testing.T, c *goredis.ClusterClient) []string {
	t.Helper()
	ss, err := c.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	owner := make([]string, slots)
	for _, s := range ss {
		for i := s.Start; i <= s.End; i++ {
			owner[i] = s.Nodes[0].Addr
		}
	}
	return owner
}

// liveMasters returns the addresses of the nodes that serve slots and
// say they are masters now, ordered by first slot. On a loaded machine a
// freshly made cluster may still settle who is master after it formed.
func liveMasters(t *testing.T, addrs []string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	testkit.Eventually(t, 20*time.Second, func() error {
		c := goredis.NewClient(&goredis.Options{Addr: addrs[0], Protocol: 2})
		defer c.Close()
		ss, err := c.ClusterSlots(ctx).Result()
		if err != nil {
			return err
		}
		slices.SortFunc(ss, func(a, b goredis.ClusterSlot) int { return int(a.Start - b.Start) })
		out = out[:0]
		seen := map[string]bool{}
		for _, s := range ss {
			addr := s.Nodes[0].Addr
			if seen[addr] {
				continue
			}
			seen[addr] = true
			n := goredis.NewClient(&goredis.Options{Addr: addr, Protocol: 2})
			role, err := n.Do(ctx, "role").Slice()
			n.Close()
			if err != nil {
				return err
			}
			if len(role) == 0 || role[0] != "master" {
				return fmt.Errorf("%s serves slots but says it is %v", addr, role)
			}
			out = append(out, addr)
		}
		if len(out) != 3 {
			return fmt.Errorf("%d masters serve slots", len(out))
		}
		return nil
	})
	return out
}

func firstSlots(t *testing.T, c *goredis.ClusterClient, addr string) (int, int) {
	t.Helper()
	ss, err := c.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Nodes[0].Addr == addr {
			return int(s.Start), int(s.End)
		}
	}
	t.Fatalf("%s serves no slots", addr)
	return 0, 0
}

// migrateSlot moves slot from src to dst as redis-cli --cluster reshard
// does: IMPORTING, MIGRATING, MIGRATE of its keys, then NODE everywhere.
// With finish false it moves half the keys and leaves the slot migrating;
// a later call with finish true completes it.
func migrateSlot(t *testing.T, src, dst string, slot int, finish bool) {
	t.Helper()
	ctx := context.Background()
	s := goredis.NewClient(&goredis.Options{Addr: src, Protocol: 2})
	d := goredis.NewClient(&goredis.Options{Addr: dst, Protocol: 2})
	defer s.Close()
	defer d.Close()
	srcID, err := s.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	dstID, err := d.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	nodes, _ := s.ClusterNodes(ctx).Result()
	if !strings.Contains(nodes, "["+strconv.Itoa(slot)+"->-") {
		// Gossip may not yet have told every node each one's role right
		// after the cluster formed ("use SETSLOT only with masters").
		testkit.Eventually(t, 10*time.Second, func() error {
			if err := d.Do(ctx, "cluster", "setslot", slot, "importing", srcID).Err(); err != nil {
				role, _ := d.Do(ctx, "role").Slice()
				return fmt.Errorf("dst %s (role %v): %w", dst, role, err)
			}
			if err := s.Do(ctx, "cluster", "setslot", slot, "migrating", dstID).Err(); err != nil {
				role, _ := s.Do(ctx, "role").Slice()
				return fmt.Errorf("src %s (role %v): %w", src, role, err)
			}
			return nil
		})
	}
	host, port, _ := net.SplitHostPort(dst)
	keys, err := s.ClusterGetKeysInSlot(ctx, slot, 100000).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !finish {
		keys = keys[:len(keys)/2]
	}
	if len(keys) > 0 {
		args := []any{"migrate", host, port, "", 0, 5000, "keys"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := s.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("MIGRATE slot %d: %v", slot, err)
		}
	}
	if !finish {
		return
	}
	for _, c := range []*goredis.Client{d, s} {
		testkit.Eventually(t, 10*time.Second, func() error {
			return c.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err()
		})
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		n, err := s.ClusterCountKeysInSlot(ctx, slot).Result()
		if err != nil || n != 0 {
			return fmt.Errorf("slot %d still has %d keys on %s: %v", slot, n, src, err)
		}
		return nil
	})
}
