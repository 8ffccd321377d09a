package redis

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dandan-sre/dandan/internal/testkit"
)

// seed stores one key of every type, binary names and values, and TTLs.
func seed(t *testing.T, rdb *goredis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	want := map[string]string{} // key → type
	set := func(k, typ string) { want[k] = typ }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.Set(ctx, "str:text", "hello, 단단", 0).Err())
	set("str:text", "string")
	must(rdb.Set(ctx, "str:json", `{"a":[1,2],"b":"<b>x</b>"}`, 0).Err())
	set("str:json", "string")
	must(rdb.Set(ctx, "str:bin", string([]byte{0, 1, 2, 0xff, 0xfe}), 0).Err())
	set("str:bin", "string")
	must(rdb.Set(ctx, "str:ttl", "soon gone", time.Hour).Err())
	set("str:ttl", "string")
	must(rdb.Set(ctx, "str:html", `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`, 0).Err())
	set("str:html", "string")
	bin := string([]byte{'b', 'i', 'n', ':', 0xff, 0x00, 0xc3, '\n'})
	must(rdb.Set(ctx, bin, "binary name", 0).Err())
	set(bin, "string")
	for i := range 250 {
		must(rdb.HSet(ctx, "hash:big", fmt.Sprintf("field:%03d", i), fmt.Sprintf("value %d", i)).Err())
	}
	must(rdb.HSet(ctx, "hash:big", "evil", "<script>window.__pwned=3</script>").Err())
	set("hash:big", "hash")
	for i := range 130 {
		must(rdb.RPush(ctx, "list:big", fmt.Sprintf("item %d", i)).Err())
	}
	set("list:big", "list")
	must(rdb.SAdd(ctx, "set:small", "a", "b", "c", "apple", "banana").Err())
	set("set:small", "set")
	must(rdb.ZAdd(ctx, "zset:scores", goredis.Z{Score: 1.5, Member: "alice"}, goredis.Z{Score: 3, Member: "bob"}, goredis.Z{Score: -2, Member: "carol"}).Err())
	set("zset:scores", "zset")
	for i := range 5 {
		must(rdb.XAdd(ctx, &goredis.XAddArgs{Stream: "stream:events", ID: fmt.Sprintf("%d-0", i+1), Values: []string{"n", fmt.Sprint(i)}}).Err())
	}
	must(rdb.XGroupCreate(ctx, "stream:events", "workers", "0").Err())
	must(rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "workers", Consumer: "w1", Streams: []string{"stream:events", ">"}, Count: 2}).Err())
	set("stream:events", "stream")
	for i := range 300 {
		must(rdb.Set(ctx, fmt.Sprintf("user:%04d", i), i, 0).Err())
		set(fmt.Sprintf("user:%04d", i), "string")
	}
	return want
}

func keyNames(keys []KeyInfo, t *testing.T) []string {
	t.Helper()
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		b, err := base64.StdEncoding.DecodeString(k.NameB64)
		if err != nil {
			t.Fatal(err)
		}
		if !k.Binary && k.Name != string(b) {
			t.Errorf("key %q: name and name_b64 differ though binary is false", k.Name)
		}
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func TestStandalone(t *testing.T) {
	skipShort(t)
	srv := testkit.StartRedis(t, "slowlog-log-slower-than 0", "slowlog-max-len 1000", "masterauth s3cret-value")
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2})
	t.Cleanup(func() { rdb.Close() })
	want := seed(t, rdb)
	cfg := standalone(srv.Addr, true)
	cfg.ScanCount = 10 // many pages
	h := newHarness(t, cfg)
	ctx := context.Background()

	t.Run("search every key", func(t *testing.T) {
		got := keyNames(h.searchAll("local", "pattern=*&min=37"), t)
		var all []string
		for k := range want {
			all = append(all, k)
		}
		sort.Strings(all)
		if !slices.Equal(got, all) {
			t.Fatalf("got %d keys, want %d", len(got), len(all))
		}
	})

	t.Run("search every name, pages read ahead", func(t *testing.T) {
		// Without type, length and TTL, hits are made as SCAN returns
		// them; each page ends with the next SCAN in flight, kept for the
		// next page.
		var all []string
		for k := range want {
			all = append(all, k)
		}
		sort.Strings(all)
		for _, min := range []string{"1", "37", "1000"} {
			keys := h.searchAll("local", "pattern=*&meta=0&min="+min)
			if got := keyNames(keys, t); !slices.Equal(got, all) {
				t.Fatalf("min %s: got %d keys, want %d", min, len(got), len(all))
			}
			for _, k := range keys {
				if k.Type != "" || k.Len != nil || k.TTLms != nil || k.Node != srv.Addr {
					t.Fatalf("min %s: hit %+v", min, k)
				}
			}
		}
	})

	t.Run("search by pattern and type", func(t *testing.T) {
		for _, tc := range []struct {
			name, query string
			want        int
		}{
			{"prefix", "pattern=user:00*&min=1000", 100},
			{"class", "pattern=user:000[0-4]&min=1000", 5},
			{"type hash", "pattern=*&type=hash&min=1000", 1},
			{"type string with pattern", "pattern=str:*&type=string&min=1000", 5},
			{"no match", "pattern=nope:*&min=10", 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				keys := h.searchAll("local", tc.query)
				if len(keys) != tc.want {
					t.Fatalf("%d keys, want %d", len(keys), tc.want)
				}
			})
		}
	})

	t.Run("hits carry type, length and TTL", func(t *testing.T) {
		keys := h.searchAll("local", "pattern=*&min=1000")
		for _, k := range keys {
			name := keyNames([]KeyInfo{k}, t)[0]
			if k.Type != want[name] {
				t.Errorf("%q: type %q, want %q", name, k.Type, want[name])
			}
			if k.Len == nil || k.TTLms == nil || k.Node != srv.Addr || k.Slot != nil {
				t.Errorf("%q: len %v ttl %v node %q slot %v", name, k.Len, k.TTLms, k.Node, k.Slot)
				continue
			}
			wantLen := map[string]int64{"hash:big": 251, "list:big": 130, "set:small": 5, "zset:scores": 3, "stream:events": 5, "str:text": int64(len("hello, 단단"))}
			if n, ok := wantLen[name]; ok && *k.Len != n {
				t.Errorf("%q: len %d, want %d", name, *k.Len, n)
			}
			if name == "str:ttl" && (*k.TTLms <= 0 || *k.TTLms > 3600000) {
				t.Errorf("str:ttl: ttl %d", *k.TTLms)
			} else if name != "str:ttl" && *k.TTLms != -1 {
				t.Errorf("%q: ttl %d, want -1", name, *k.TTLms)
			}
		}
	})

	t.Run("binary key round-trips", func(t *testing.T) {
		bin := []byte{'b', 'i', 'n', ':', 0xff, 0x00, 0xc3, '\n'}
		keys := h.searchAll("local", "pattern=bin:*&min=10")
		if len(keys) != 1 || !keys[0].Binary || keys[0].Name != `bin:\xff`+"\x00"+`\xc3`+"\n" {
			t.Fatalf("keys %+v", keys)
		}
		for _, enc := range []string{base64.StdEncoding.EncodeToString(bin), base64.RawURLEncoding.EncodeToString(bin)} {
			var v KeyView
			h.getJSON("/api/redis/local/key?name_b64="+url.QueryEscape(enc), &v)
			if v.String == nil || v.String.Value.Text != "binary name" || v.NameB64 != base64.StdEncoding.EncodeToString(bin) {
				t.Fatalf("view %+v", v)
			}
		}
		if status, b := h.do("GET", "/api/redis/local/key?name=x&name_b64=eA", nil, ""); status != 400 || !strings.Contains(string(b), "not both") {
			t.Fatalf("both forms: %d %s", status, b)
		}
		if status, b := h.do("GET", "/api/redis/local/key?name_b64=%%%", nil, ""); status != 400 {
			t.Fatalf("bad base64: %d %s", status, b)
		}
	})

	t.Run("key views", func(t *testing.T) {
		for _, tc := range []struct {
			key   string
			check func(t *testing.T, v KeyView)
		}{
			{"str:text", func(t *testing.T, v KeyView) {
				if v.String.Kind != "text" || v.String.Value.Text != "hello, 단단" || v.String.Size != int64(len("hello, 단단")) {
					t.Errorf("%+v", v.String)
				}
			}},
			{"str:json", func(t *testing.T, v KeyView) {
				if v.String.Kind != "json" || !strings.Contains(v.String.Pretty, "\n  \"a\": [") {
					t.Errorf("%+v", v.String)
				}
			}},
			{"str:bin", func(t *testing.T, v KeyView) {
				if v.String.Kind != "binary" || v.String.Value.B64 != "AAEC//4=" || !strings.Contains(v.String.Hex, "00 01 02 ff fe") {
					t.Errorf("%+v", v.String)
				}
			}},
			{"list:big", func(t *testing.T, v KeyView) {
				if len(v.Items) != 100 || v.Cursor != "100" || v.Items[99].Value.Text != "item 99" {
					t.Errorf("%d items, cursor %q", len(v.Items), v.Cursor)
				}
			}},
			{"zset:scores", func(t *testing.T, v KeyView) {
				if len(v.Items) != 3 || v.Items[0].Member.Text != "carol" || *v.Items[0].Score != -2 {
					t.Errorf("%+v", v.Items)
				}
			}},
			{"set:small", func(t *testing.T, v KeyView) {
				if len(v.Items) != 5 || v.Cursor != "" {
					t.Errorf("%d items, cursor %q", len(v.Items), v.Cursor)
				}
			}},
			{"stream:events", func(t *testing.T, v KeyView) {
				if len(v.Entries) != 5 || len(v.Groups) != 1 || v.Groups[0].Pending != 2 || len(v.Groups[0].Consumers) != 1 || v.Groups[0].Consumers[0].Name != "w1" {
					t.Errorf("entries %d groups %+v", len(v.Entries), v.Groups)
				}
			}},
		} {
			t.Run(tc.key, func(t *testing.T) {
				var v KeyView
				h.getJSON("/api/redis/local/key?name="+url.QueryEscape(tc.key), &v)
				tc.check(t, v)
			})
		}
		if status, _ := h.do("GET", "/api/redis/local/key?name=missing", nil, ""); status != 404 {
			t.Errorf("missing key: %d", status)
		}
	})

	t.Run("hash pages cover every field once", func(t *testing.T) {
		seen := map[string]bool{}
		cursor := ""
		for range 100 {
			var v KeyView
			h.getJSON("/api/redis/local/key?name=hash:big&cursor="+cursor, &v)
			for _, it := range v.Items {
				seen[it.Field.Text] = true
			}
			if cursor = v.Cursor; cursor == "" {
				break
			}
		}
		if len(seen) != 251 {
			t.Fatalf("%d fields", len(seen))
		}
	})

	t.Run("field search", func(t *testing.T) {
		for _, tc := range []struct {
			key, pattern string
			want         int
		}{
			{"hash:big", "field:01*", 10},
			{"hash:big", "field:2[0-4]?", 50},
			{"set:small", "a*", 2},
			{"zset:scores", "?o*", 1},
		} {
			var all []Item
			cursor := ""
			for range 1000 {
				var fp FieldPage
				h.getJSON("/api/redis/local/key/fields?"+url.Values{"name": {tc.key}, "pattern": {tc.pattern}, "min": {"3"}, "cursor": {cursor}}.Encode(), &fp)
				all = append(all, fp.Items...)
				if cursor = fp.Cursor; cursor == "" {
					break
				}
			}
			if len(all) != tc.want {
				t.Errorf("%s %s: %d matches, want %d", tc.key, tc.pattern, len(all), tc.want)
			}
		}
		if status, _ := h.do("GET", "/api/redis/local/key/fields?name=list:big&pattern=*", nil, ""); status != 400 {
			t.Errorf("field search on a list: %d", status)
		}
	})

	t.Run("memory", func(t *testing.T) {
		var m MemoryReply
		h.getJSON("/api/redis/local/key/memory?name=hash:big", &m)
		if m.Bytes < 1000 {
			t.Errorf("memory %d", m.Bytes)
		}
	})

	t.Run("clients", func(t *testing.T) {
		named := goredis.NewClient(&goredis.Options{Addr: srv.Addr, ClientName: "test-client-7f3a", Protocol: 2})
		defer named.Close()
		if err := named.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		var cr ClientsReply
		h.getJSON("/api/redis/local/clients?q=test-client&sort=age&desc=1", &cr)
		if len(cr.Clients) != 1 || cr.Clients[0].Name != "test-client-7f3a" || cr.Clients[0].Node != srv.Addr {
			t.Fatalf("clients %+v", cr.Clients)
		}
	})

	t.Run("slowlog", func(t *testing.T) {
		named := goredis.NewClient(&goredis.Options{Addr: srv.Addr, ClientName: "slow-tester", Protocol: 2})
		defer named.Close()
		if err := named.Echo(ctx, "marker-1234").Err(); err != nil {
			t.Fatal(err)
		}
		var sl SlowlogReply
		h.getJSON("/api/redis/local/slowlog?count=1000", &sl)
		found := false
		for _, e := range sl.Entries {
			if len(e.Command) == 2 && e.Command[1].Text == "marker-1234" && e.ClientName == "slow-tester" && e.ClientAddr != "" && e.Node == srv.Addr && e.ID > 0 {
				found = true
			}
		}
		if !found {
			t.Fatalf("no ECHO marker-1234 from slow-tester in %d entries", len(sl.Entries))
		}
	})

	t.Run("server views", func(t *testing.T) {
		var ir InfoReply
		h.getJSON("/api/redis/local/info?section=server", &ir)
		if len(ir.Nodes) != 1 || infoValue(ir.Nodes[0].Sections, "redis_version") == "" {
			t.Errorf("info %+v", ir)
		}
		var cfg ConfigReply
		h.getJSON("/api/redis/local/config?pattern=masterauth", &cfg)
		if len(cfg.Nodes) != 1 || len(cfg.Nodes[0].Params) != 1 || cfg.Nodes[0].Params[0].Value != "[redacted]" {
			t.Errorf("config %+v", cfg)
		}
		var cl ClusterReply
		h.getJSON("/api/redis/local/cluster", &cl)
		if cl.Mode != "standalone" {
			t.Errorf("cluster %+v", cl)
		}
		var st Stats
		h.getJSON("/api/redis/local/stats", &st)
		if st.Keys != int64(len(want)) || st.UsedMemory == 0 {
			t.Errorf("stats %+v", st)
		}
		var conns []ConnInfo
		h.getJSON("/api/redis/connections", &conns)
		if len(conns) != 1 || conns[0].Name != "local" || !conns[0].ReadOnly {
			t.Errorf("connections %+v", conns)
		}
	})

	t.Run("big keys", func(t *testing.T) {
		if status, b := h.do("POST", "/api/redis/local/bigkeys", url.Values{}, ""); status != http.StatusAccepted {
			t.Fatalf("start: %d %s", status, b)
		}
		var r BigKeysReply
		testkit.Eventually(t, 20*time.Second, func() error {
			h.getJSON("/api/redis/local/bigkeys", &r)
			if r.State != "done" {
				return fmt.Errorf("state %s", r.State)
			}
			return nil
		})
		for _, typ := range r.Types {
			if typ.Type == "hash" && (len(typ.ByLen) != 1 || typ.ByLen[0].Name != "hash:big" || typ.ByMem[0].MemoryBytes == 0) {
				t.Errorf("hash %+v", typ)
			}
			if typ.Type == "string" && (typ.Count != 306 || len(typ.ByLen) != 10) {
				t.Errorf("string count %d, top %d", typ.Count, len(typ.ByLen))
			}
		}
	})

	t.Run("search cancel", func(t *testing.T) {
		var page SearchPage
		h.getJSON("/api/redis/local/keys?pattern=*&min=1", &page)
		if page.Done {
			t.Skip("search ended in one page")
		}
		if status, b := h.do("POST", "/api/redis/local/keys/cancel?cursor="+page.Cursor, url.Values{}, ""); status != 200 || !strings.Contains(string(b), "true") {
			t.Fatalf("cancel: %d %s", status, b)
		}
		if status, _ := h.do("GET", "/api/redis/local/keys?pattern=*&min=1&cursor="+page.Cursor, nil, ""); status != 404 {
			t.Fatalf("cancelled cursor: %d", status)
		}
	})
}

// TestWrites: every write is refused on a read-only connection and for a
// viewer, and an allowed write is in the audit log.
func TestWrites(t *testing.T) {
	skipShort(t)
	srv := testkit.StartRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, "h", "f", "1").Err(); err != nil {
		t.Fatal(err)
	}
	ro := newHarness(t, standalone(srv.Addr, true))
	rw := newHarness(t, standalone(srv.Addr, false))
	writes := []struct {
		path string
		form url.Values
	}{
		{"/api/redis/local/key/delete", url.Values{"name": {"k"}}},
		{"/api/redis/local/key/ttl", url.Values{"name": {"k"}, "ttl_ms": {"60000"}}},
		{"/api/redis/local/key/value", url.Values{"name": {"k"}, "value": {"new"}}},
		{"/api/redis/local/key/field", url.Values{"name": {"h"}, "field": {"f"}, "value": {"2"}}},
		{"/redis/local/key/delete", url.Values{"name": {"k"}}},
		{"/redis/local/key/ttl", url.Values{"name": {"k"}, "ttl_ms": {"60000"}}},
		{"/redis/local/key/value", url.Values{"name": {"k"}, "value": {"new"}}},
		{"/redis/local/key/field", url.Values{"name": {"h"}, "field": {"f"}, "value": {"2"}}},
	}
	for _, w := range writes {
		t.Run("refused"+w.path, func(t *testing.T) {
			if status, b := rw.do("POST", w.path, w.form, "viewer"); status != http.StatusForbidden {
				t.Errorf("viewer on a writable connection: %d %s", status, b)
			}
			status, b := ro.do("POST", w.path, w.form, "operator")
			if strings.HasPrefix(w.path, "/api/") && status != http.StatusForbidden {
				t.Errorf("operator on a read-only connection: %d %s", status, b)
			}
			if !strings.Contains(string(b), "read-only") {
				t.Errorf("reply does not say read-only: %s", b)
			}
		})
	}
	if v, _ := rdb.Get(ctx, "k").Result(); v != "v" {
		t.Fatalf("k changed to %q", v)
	}
	if n, _ := rdb.PTTL(ctx, "k").Result(); n != -1 {
		t.Fatalf("k got a TTL %v", n)
	}
	// The guard refuses writes on a read-only connection even when asked
	// directly, below the handlers.
	if err := ro.p.conns["local"].keys().Set(ctx, "k", "x", 0).Err(); !errors.Is(err, ErrRefused) {
		t.Fatalf("SET through the read-only client: %v", err)
	}

	for _, tc := range []struct {
		name, path string
		form       url.Values
		check      func() error
		logged     string
	}{
		{"value", "/api/redis/local/key/value", url.Values{"name": {"k"}, "value": {"new"}}, func() error {
			if v, _ := rdb.Get(ctx, "k").Result(); v != "new" {
				return fmt.Errorf("k = %q", v)
			}
			return nil
		}, `SET "k" <3 bytes> XX KEEPTTL`},
		{"ttl", "/api/redis/local/key/ttl", url.Values{"name": {"k"}, "ttl_ms": {"60000"}}, func() error {
			if n, _ := rdb.PTTL(ctx, "k").Result(); n <= 0 {
				return fmt.Errorf("pttl %v", n)
			}
			return nil
		}, `PEXPIRE "k" 60000`},
		{"field", "/api/redis/local/key/field", url.Values{"name": {"h"}, "field": {"f"}, "value": {"2"}}, func() error {
			if v, _ := rdb.HGet(ctx, "h", "f").Result(); v != "2" {
				return fmt.Errorf("h.f = %q", v)
			}
			return nil
		}, `HSET "h" "f" <1 bytes>`},
		{"delete", "/api/redis/local/key/delete", url.Values{"name": {"k"}}, func() error {
			if n, _ := rdb.Exists(ctx, "k").Result(); n != 0 {
				return fmt.Errorf("k exists")
			}
			return nil
		}, `UNLINK "k"`},
	} {
		t.Run("allowed "+tc.name, func(t *testing.T) {
			status, b := rw.do("POST", tc.path, tc.form, "operator")
			if status != 200 {
				t.Fatalf("%d %s", status, b)
			}
			if err := tc.check(); err != nil {
				t.Fatal(err)
			}
			var who, command, outcome string
			err := rw.db.QueryRowContext(ctx, `SELECT who, command, outcome FROM redis_audit WHERE conn = 'local' ORDER BY id DESC LIMIT 1`).Scan(&who, &command, &outcome)
			if err != nil || who != "tester (operator)" || command != tc.logged || outcome != "ok" {
				t.Fatalf("audit row %q %q %q %v", who, command, outcome, err)
			}
		})
	}
	if status, b := rw.do("POST", "/api/redis/local/key/value", url.Values{"name": {"h"}, "value": {"x"}}, "operator"); status != 400 || !strings.Contains(string(b), "is a hash, not a string") {
		t.Errorf("editing a hash as a string: %d %s", status, b)
	}
	var audit []AuditEntry
	status, b := rw.do("GET", "/api/redis/local/audit", nil, "operator")
	if status != 200 || !strings.Contains(string(b), "UNLINK") {
		t.Errorf("audit: %d %s", status, b)
	}
	_ = audit
}
