package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestSentinel runs the inspector through Redis Sentinel: a master, a
// replica and a sentinel; search, key view, INFO, slowlog, clients and the
// server list read the master the sentinel names, and still do after a
// failover.
func TestSentinel(t *testing.T) {
	skipShort(t)
	s := testkit.StartRedisSentinel(t, "slowlog-log-slower-than 0", "slowlog-max-len 1000")
	rdb := goredis.NewClient(&goredis.Options{Addr: s.Master, Protocol: 2})
	t.Cleanup(func() { rdb.Close() })
	want := seed(t, rdb)
	ro := true
	cfg := DefaultConfig()
	cfg.ScanCount = 50
	cfg.Connections = map[string]*ConnConfig{"sent": {Sentinel: &SentinelConfig{Master: s.MasterName, Addrs: s.Addrs}, ReadOnly: &ro}}
	h := newHarness(t, cfg)
	ctx := context.Background()

	t.Run("search", func(t *testing.T) {
		keys := h.searchAll("sent", "pattern=*&min=100")
		var all []string
		for k := range want {
			all = append(all, k)
		}
		sort.Strings(all)
		if got := keyNames(keys, t); !slices.Equal(got, all) {
			t.Fatalf("got %d keys, want %d", len(got), len(all))
		}
		for _, k := range keys {
			if k.Node != s.Master || k.Slot != nil || k.Type == "" || k.Len == nil || k.TTLms == nil {
				t.Fatalf("hit %+v: want node %s, type, length and TTL", k, s.Master)
			}
		}
		if got := h.searchAll("sent", "pattern=*&type=hash&min=100"); len(got) != 1 || got[0].Name != "hash:big" {
			t.Errorf("type=hash: %+v", got)
		}
	})

	t.Run("key view", func(t *testing.T) {
		var v KeyView
		h.getJSON("/api/redis/sent/key?name=hash:big", &v)
		if v.Type != "hash" || len(v.Items) == 0 || v.Node != s.Master {
			t.Errorf("hash:big: type %q, %d items, node %q", v.Type, len(v.Items), v.Node)
		}
		h.getJSON("/api/redis/sent/key?name=str:text", &v)
		if v.String == nil || v.String.Value.Text != "hello, 단단" {
			t.Errorf("str:text: %+v", v.String)
		}
	})

	t.Run("info, slowlog, clients and servers", func(t *testing.T) {
		var ir InfoReply
		h.getJSON("/api/redis/sent/info?section=replication", &ir)
		roles := map[string]string{}
		for _, n := range ir.Nodes {
			roles[n.Node] = infoValue(n.Sections, "role")
		}
		if roles[s.Master] != "master" || roles[s.Replica] != "slave" || len(ir.Errors) > 0 {
			t.Errorf("INFO replication by node %v, errors %v; want %s master and %s replica", roles, ir.Errors, s.Master, s.Replica)
		}
		h.getJSON("/api/redis/sent/info?section=server&node="+url.QueryEscape(s.Master), &ir)
		if len(ir.Nodes) != 1 || ir.Nodes[0].Node != s.Master || !strings.HasSuffix(s.Master, ":"+infoValue(ir.Nodes[0].Sections, "tcp_port")) {
			t.Errorf("INFO server of the master: %+v", ir)
		}

		named := goredis.NewClient(&goredis.Options{Addr: s.Master, ClientName: "sentinel-tester", Protocol: 2})
		defer named.Close()
		if err := named.Echo(ctx, "sentinel-marker").Err(); err != nil {
			t.Fatal(err)
		}
		var sl SlowlogReply
		h.getJSON("/api/redis/sent/slowlog?count=1000&node="+url.QueryEscape(s.Master), &sl)
		found := false
		for _, e := range sl.Entries {
			if len(e.Command) == 2 && e.Command[1].Text == "sentinel-marker" && e.ClientName == "sentinel-tester" && e.Node == s.Master {
				found = true
			}
		}
		if !found {
			t.Errorf("no ECHO sentinel-marker in %d slowlog entries", len(sl.Entries))
		}
		var cr ClientsReply
		h.getJSON("/api/redis/sent/clients?q=sentinel-tester", &cr)
		if len(cr.Clients) != 1 || cr.Clients[0].Node != s.Master {
			t.Errorf("clients %+v", cr.Clients)
		}

		var cl ClusterReply
		h.getJSON("/api/redis/sent/cluster", &cl)
		if cl.Mode != "sentinel" || len(cl.Nodes) != 2 || cl.Nodes[0].Addr != s.Master || cl.Nodes[0].Role != "master" ||
			cl.Nodes[1].Addr != s.Replica || cl.Nodes[1].Role != "replica" {
			t.Errorf("servers %+v", cl.Nodes)
		}
		if status, b := h.do("GET", "/redis/sent/cluster", nil, ""); status != 200 || !strings.Contains(string(b), s.Replica) || !strings.Contains(string(b), s.Master) {
			t.Errorf("servers page: %d %s", status, b)
		}
		var st Stats
		h.getJSON("/api/redis/sent/stats", &st)
		if st.Keys != int64(len(want)) {
			t.Errorf("stats keys %d, want %d", st.Keys, len(want))
		}
	})

	t.Run("the guard holds on the sentinel client", func(t *testing.T) {
		c := h.p.conns["sent"]
		if err := c.keys().Set(ctx, "k", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("SET through a read-only sentinel connection: %v", err)
		}
		if err := c.keys().Do(ctx, "FLUSHALL").Err(); err == nil || !strings.Contains(err.Error(), "never sends") {
			t.Errorf("FLUSHALL: %v", err)
		}
		for _, sc := range c.sentinels {
			if err := sc.Failover(ctx, s.MasterName).Err(); !errors.Is(err, ErrRefused) {
				t.Errorf("SENTINEL FAILOVER through the inspector's sentinel client: %v", err)
			}
			if err := sc.Set(ctx, s.MasterName, "quorum", "2").Err(); !errors.Is(err, ErrRefused) {
				t.Errorf("SENTINEL SET: %v", err)
			}
		}
	})

	t.Run("failover", func(t *testing.T) {
		old := s.Master
		s.Failover(t)
		// Until the sentinel turns it into a replica (some seconds), the
		// former master still takes writes: a key written only on the new
		// master tells which one the inspector reads.
		nm := goredis.NewClient(&goredis.Options{Addr: s.Master, Protocol: 2})
		defer nm.Close()
		if err := nm.Set(ctx, "after:failover", "yes", 0).Err(); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 15*time.Second, func() error {
			keys := h.searchAll("sent", "pattern=after:*&min=10")
			if len(keys) != 1 || keys[0].Node != s.Master {
				return fmt.Errorf("search after failover: %+v; want after:failover on %s", keys, s.Master)
			}
			// tcp_port tells which server answered: the failover client
			// must have left the former master.
			var ir InfoReply
			h.getJSON("/api/redis/sent/info?node="+url.QueryEscape(s.Master), &ir)
			if len(ir.Nodes) != 1 || infoValue(ir.Nodes[0].Sections, "role") != "master" || !strings.HasSuffix(s.Master, ":"+infoValue(ir.Nodes[0].Sections, "tcp_port")) {
				return fmt.Errorf("INFO of the new master %s: %+v", s.Master, ir)
			}
			var v KeyView
			if status, b := h.do("GET", "/api/redis/sent/key?name=after:failover", nil, ""); status != 200 {
				return fmt.Errorf("key view after failover: %d %s", status, b)
			}
			h.getJSON("/api/redis/sent/key?name=after:failover", &v)
			if v.Node != s.Master {
				return fmt.Errorf("key view node %q, want %s", v.Node, s.Master)
			}
			return nil
		})
		var cl ClusterReply
		h.getJSON("/api/redis/sent/cluster", &cl)
		if len(cl.Nodes) == 0 || cl.Nodes[0].Addr != s.Master || cl.Nodes[0].Addr == old {
			t.Errorf("servers after failover %+v", cl.Nodes)
		}
	})
}
