package redis

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dandan-sre/dandan/internal/config"
)

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", false}, // as the server: SCAN skips matching for a lone *
		{"*", "anything", true},
		{"user:*", "user:1", true},
		{"user:*", "users", false},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h[ae]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[^e]llo", "hallo", true},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hallo", true},
		{`h\*llo`, "h*llo", true},
		{`h\*llo`, "hello", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"[abc", "a", true},
		{"ab\\", "ab\\", true},
		{"**", "", false},
		{"a**", "a", true},
		{"", "", true},
		{"", "a", false},
	} {
		if got := globMatch([]byte(tc.pattern), []byte(tc.s)); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func FuzzGlobMatch(f *testing.F) {
	f.Add("user:*", "user:1")
	f.Add("h[^a-z]?*", "h1xx")
	f.Add(`\[*]`, "[x]")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := globMatch([]byte(pattern), []byte(s))
		if s != "" && !globMatch([]byte("*"), []byte(s)) {
			t.Fatal("* does not match")
		}
		// A pattern with every special byte escaped matches itself only.
		var esc strings.Builder
		for _, c := range []byte(s) {
			if strings.IndexByte(`*?[]\`, c) >= 0 {
				esc.WriteByte('\\')
			}
			esc.WriteByte(c)
		}
		if !globMatch([]byte(esc.String()), []byte(s)) {
			t.Fatalf("escaped %q does not match %q", esc.String(), s)
		}
		if !strings.ContainsAny(pattern, `*?[\`) && got != (pattern == s) {
			t.Fatalf("literal %q vs %q: %v", pattern, s, got)
		}
	})
}

func TestKeySlot(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"", 0}, {"foo", 12182}, {"bar", 5061}, {"{user1000}.following", 3443}, {"{user1000}.followers", 3443},
		{"foo{}{bar}", 8363}, {"foo{{bar}}zap", 4015}, {"foo{bar}{zap}", 5061}, {"123456789", 12739},
	} {
		if got := keySlot([]byte(tc.key)); got != tc.want {
			t.Errorf("keySlot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}

func FuzzBytesParam(f *testing.F) {
	f.Add([]byte("user:1"))
	f.Add([]byte{0xff, 0, '\n', 0xc3})
	f.Fuzz(func(t *testing.T, key []byte) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			got, ok, err := bytesParam(url.Values{"name_b64": {enc.EncodeToString(key)}}, "name")
			if err != nil || !ok || !bytes.Equal(got, key) {
				t.Fatalf("%q: %q %v %v", key, got, ok, err)
			}
		}
		// What a reply says round-trips.
		k := newKeyInfo(key, "n", false)
		back, err := decodeB64(k.NameB64)
		if err != nil || !bytes.Equal(back, key) {
			t.Fatalf("name_b64 of %q: %q %v", key, back, err)
		}
		if !k.Binary && k.Name != string(key) || !utf8.ValidString(k.Name) {
			t.Fatalf("name %q of %q, binary %v", k.Name, key, k.Binary)
		}
		// Arbitrary input never panics.
		_, _, _ = bytesParam(url.Values{"name_b64": {string(key)}}, "name")
		_ = cliQuote(key)
	})
}

func TestCLIQuote(t *testing.T) {
	if got := cliQuote([]byte("a\"b\\c\n\x00\xff é")); got != `"a\"b\\c\n\x00\xff \xc3\xa9"` {
		t.Errorf("got %s", got)
	}
}

func FuzzParseClusterNodes(f *testing.F) {
	f.Add("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected\n" +
		"67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922 [93->-292f8b365bb7edb5e285caf0b7e6ddc7265a2f4f] [77-<-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]\n" +
		"e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 16383\n" +
		"6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 master,fail - 1426238316232 1426238315000 5 disconnected\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range parseClusterNodes(s) {
			for _, r := range n.Slots {
				if r.From < 0 || r.To >= slots || r.From > r.To {
					t.Fatalf("bad range %+v", r)
				}
			}
			_ = n.SlotCount()
		}
	})
}

func TestParseClusterNodes(t *testing.T) {
	ns := parseClusterNodes("e7d1 127.0.0.1:30001@31001,h myself,master - 0 0 1 connected 0-5460 16383 [93->-abcd]\n" +
		"07c3 127.0.0.1:30004@31004 slave,fail e7d1 0 1 4 disconnected\nshort line\n")
	if len(ns) != 2 {
		t.Fatalf("%d nodes", len(ns))
	}
	a, b := ns[0], ns[1]
	if !a.Myself || a.Role != "master" || a.Addr != "127.0.0.1:30001" || a.Hostname != "h" || a.SlotCount() != 5462 || a.Migrating[93] != "abcd" {
		t.Errorf("%+v", a)
	}
	if b.Role != "replica" || b.MasterID != "e7d1" || !b.Failing || b.LinkState != "disconnected" {
		t.Errorf("%+v", b)
	}
}

func FuzzParseClientList(f *testing.F) {
	f.Add("id=3 addr=127.0.0.1:52555 laddr=127.0.0.1:6379 fd=8 name=x age=1 idle=0 flags=N db=0 cmd=client|list user=default\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range parseClientList(s) {
			if c.Fields == nil {
				t.Fatal("nil fields")
			}
		}
	})
}

func FuzzParseInfo(f *testing.F) {
	f.Add("# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		secs := parseInfo(s)
		_ = infoInt(secs, "redis_version")
	})
}

func TestParseInfo(t *testing.T) {
	secs := parseInfo("orphan:1\r\n# Server\r\nredis_version:7.0.15\r\nbad line\r\n# Stats\r\ninstantaneous_ops_per_sec:42\r\n")
	if len(secs) != 3 || infoValue(secs, "redis_version") != "7.0.15" || infoInt(secs, "instantaneous_ops_per_sec") != 42 || infoInt(secs, "orphan") != 1 {
		t.Errorf("%+v", secs)
	}
}

func TestCursorFraction(t *testing.T) {
	for _, tc := range []struct {
		cursor uint64
		want   float64
	}{{0, 0}, {1, 0.5}, {2, 0.25}, {3, 0.75}, {7, 0.875}} {
		if got := cursorFraction(tc.cursor); got != tc.want {
			t.Errorf("cursorFraction(%d) = %v, want %v", tc.cursor, got, tc.want)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // messages, in order; none: valid
	}{
		{"standalone", "redis:\n  connections:\n    local: {addr: 127.0.0.1:6379}\n", nil},
		{"cluster and sentinel", "redis:\n  connections:\n    c: {cluster: [a:1, b:2], username: u, password: p, readonly: false}\n    s: {sentinel: {master: m, addrs: [x:26379]}, db: 2}\n", nil},
		{"none", "redis: {}\n", []string{"redis.connections: at least one connection is required"}},
		{"two kinds", "redis:\n  connections:\n    x: {addr: a:1, cluster: [b:2]}\n", []string{"redis.connections.x: set only one of addr, cluster or sentinel"}},
		{"no kind", "redis:\n  connections:\n    x: {db: 1}\n", []string{"redis.connections.x: set one of addr"}},
		{"bad addr", "redis:\n  connections:\n    x: {addr: nohost}\n", []string{`redis.connections.x.addr: not a host:port address "nohost"`}},
		{"cluster db", "redis:\n  connections:\n    x: {cluster: [a:1], db: 3}\n", []string{"redis.connections.x.db: a cluster has only database 0"}},
		{"sentinel parts", "redis:\n  connections:\n    x: {sentinel: {addrs: []}}\n", []string{"redis.connections.x.sentinel.master: required", "redis.connections.x.sentinel.addrs: at least one"}},
		{"bad name", "redis:\n  connections:\n    Bad/Name: {addr: a:1}\n", []string{"redis.connections.Bad/Name: a connection name is lower-case"}},
		{"tls off", "redis:\n  connections:\n    x: {addr: a:1, tls: {ca_file: /nonexistent}}\n", []string{"redis.connections.x.tls.enabled: TLS settings are given but enabled is false", "redis.connections.x.tls.ca_file"}},
		{"limits", "redis:\n  connections:\n    x: {addr: a:1}\n  scan_count: 0\n  bigkeys: {rate: 0}\n", []string{"redis.scan_count: must be between 1 and 100000, got 0", "redis.bigkeys.rate: must be between"}},
		{"unknown key", "redis:\n  connections:\n    x: {adr: a:1}\n", []string{`redis.connections.x.adr: unknown key (did you mean "addr"?)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load("t.yaml", []byte(tc.yaml), config.Options{Parts: []config.PartSchema{{Name: "redis", NewConfig: func() config.Validator { return DefaultConfig() }}}})
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestExample: the part's example, uncommented, is a valid config.
func TestExample(t *testing.T) {
	var b strings.Builder
	for l := range strings.Lines(Part().Example) {
		l = strings.TrimPrefix(l, "# ")
		if strings.HasPrefix(strings.TrimSpace(l), "#") || strings.TrimSpace(l) == "" || !strings.HasPrefix(l, "redis:") && !strings.HasPrefix(l, " ") {
			continue
		}
		b.WriteString(l)
	}
	_, err := config.Load("example.yaml", []byte(b.String()), config.Options{Parts: []config.PartSchema{{Name: "redis", NewConfig: func() config.Validator { return DefaultConfig() }}}})
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if !strings.Contains(b.String(), "addr: 127.0.0.1:6379") {
		t.Fatalf("example lost its connection:\n%s", b.String())
	}
}
