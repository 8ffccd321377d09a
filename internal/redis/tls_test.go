package redis

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dandan-sre/dandan/internal/testkit"
)

// TestTLS runs the inspector against a redis-server that accepts only TLS:
// with the CA from ca_file; with a client certificate when the server
// requires one; and refused when the server's certificate cannot be
// verified or a required client certificate is missing.
func TestTLS(t *testing.T) {
	skipShort(t)
	srv := testkit.StartRedisTLS(t, "slowlog-log-slower-than 0", "slowlog-max-len 1000")
	mtls := testkit.StartRedisTLS(t, "tls-auth-clients yes")
	files, mfiles := srv.TLS(), mtls.TLS()
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, TLSConfig: files.ClientConfig(t)})
	t.Cleanup(func() { rdb.Close() })
	want := seed(t, rdb)
	mrdb := goredis.NewClient(&goredis.Options{Addr: mtls.Addr, Protocol: 2, TLSConfig: mfiles.ClientConfig(t)})
	t.Cleanup(func() { mrdb.Close() })
	ctx := context.Background()
	if err := mrdb.Set(ctx, "mtls:key", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	ro := true
	cfg := DefaultConfig()
	cfg.ScanCount = 50
	cfg.Connections = map[string]*ConnConfig{
		"tls":       {Addr: srv.Addr, TLS: TLSConfig{Enabled: true, CAFile: files.CA}, ReadOnly: &ro},
		"mtls":      {Addr: mtls.Addr, TLS: TLSConfig{Enabled: true, CAFile: mfiles.CA, CertFile: mfiles.ClientCert, KeyFile: mfiles.ClientKey}, ReadOnly: &ro},
		"mtls-bad":  {Addr: mtls.Addr, TLS: TLSConfig{Enabled: true, CAFile: mfiles.CA}, ReadOnly: &ro},
		"untrusted": {Addr: srv.Addr, TLS: TLSConfig{Enabled: true}, ReadOnly: &ro},
		"by-name":   {Addr: srv.Addr, TLS: TLSConfig{Enabled: true, CAFile: files.CA, ServerName: "localhost"}, ReadOnly: &ro},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cfg)

	t.Run("search", func(t *testing.T) {
		var all []string
		for k := range want {
			all = append(all, k)
		}
		sort.Strings(all)
		keys := h.searchAll("tls", "pattern=*&min=100")
		if got := keyNames(keys, t); !slices.Equal(got, all) {
			t.Fatalf("got %d keys, want %d", len(got), len(all))
		}
		for _, k := range keys {
			if k.Node != srv.Addr || k.Type == "" || k.Len == nil || k.TTLms == nil {
				t.Fatalf("hit %+v", k)
			}
		}
		if got := h.searchAll("by-name", "pattern=user:00*&min=1000"); len(got) != 100 {
			t.Errorf("server_name localhost: %d keys, want 100", len(got))
		}
	})

	t.Run("key view", func(t *testing.T) {
		var v KeyView
		h.getJSON("/api/redis/tls/key?name=zset:scores", &v)
		if v.Type != "zset" || len(v.Items) != 3 || v.Items[0].Member.Text != "carol" {
			t.Errorf("zset:scores: %+v", v)
		}
		h.getJSON("/api/redis/tls/key?name=str:json", &v)
		if v.String == nil || v.String.Kind != "json" {
			t.Errorf("str:json: %+v", v.String)
		}
	})

	t.Run("info and slowlog", func(t *testing.T) {
		var ir InfoReply
		h.getJSON("/api/redis/tls/info?section=server", &ir)
		if len(ir.Nodes) != 1 || !strings.HasSuffix(srv.Addr, ":"+infoValue(ir.Nodes[0].Sections, "tcp_port")) {
			t.Errorf("INFO server over TLS: %+v", ir)
		}
		named := goredis.NewClient(&goredis.Options{Addr: srv.Addr, ClientName: "tls-tester", Protocol: 2, TLSConfig: files.ClientConfig(t)})
		defer named.Close()
		if err := named.Echo(ctx, "tls-marker").Err(); err != nil {
			t.Fatal(err)
		}
		var sl SlowlogReply
		h.getJSON("/api/redis/tls/slowlog?count=1000", &sl)
		found := false
		for _, e := range sl.Entries {
			if len(e.Command) == 2 && e.Command[1].Text == "tls-marker" && e.ClientName == "tls-tester" && e.Node == srv.Addr {
				found = true
			}
		}
		if !found {
			t.Errorf("no ECHO tls-marker in %d slowlog entries", len(sl.Entries))
		}
	})

	t.Run("client certificate", func(t *testing.T) {
		var v KeyView
		h.getJSON("/api/redis/mtls/key?name=mtls:key", &v)
		if v.String == nil || v.String.Value.Text != "v" {
			t.Errorf("mtls:key: %+v", v)
		}
		status, b := h.do("GET", "/api/redis/mtls-bad/key?name=mtls:key", nil, "")
		if status != http.StatusServiceUnavailable {
			t.Errorf("no client certificate: %d %s", status, b)
		}
	})

	t.Run("untrusted server certificate", func(t *testing.T) {
		status, b := h.do("GET", "/api/redis/untrusted/keys?"+url.Values{"pattern": {"*"}}.Encode(), nil, "")
		if status != http.StatusServiceUnavailable || !strings.Contains(string(b), "certificate") {
			t.Errorf("unknown CA: %d %s", status, b)
		}
	})
}
