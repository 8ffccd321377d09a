package redis

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dandan-sre/dandan/internal/testkit"
)

// dangerous are commands the inspector must never send, whatever the
// connection's readonly setting.
func dangerous() [][]any {
	return [][]any{
		{"FLUSHALL"}, {"flushall", "async"}, {"FLUSHDB"}, {"CONFIG", "SET", "maxmemory", "1"}, {"config", "rewrite"},
		{"config", "resetstat"}, {"KEYS", "*"}, {"DEBUG", "SLEEP", "0"}, {"SHUTDOWN", "NOSAVE"}, {"SCRIPT", "FLUSH"},
		{"script", "load", "return 1"}, {"EVAL", "return 1", "0"}, {"EVALSHA", "x", "0"}, {"eval_ro", "return 1", "0"},
		{"FCALL", "f", "0"}, {"FUNCTION", "FLUSH"}, {"MODULE", "LOAD", "/x.so"}, {"REPLICAOF", "127.0.0.1", "1"},
		{"SLAVEOF", "NO", "ONE"}, {"CLIENT", "KILL", "ID", "1"}, {"CLUSTER", "RESET"}, {"CLUSTER", "FAILOVER"},
		{"MIGRATE", "h", "1", "k", "0", "1"}, {"MONITOR"}, {"SAVE"}, {"ACL", "SETUSER", "x"}, {"SWAPDB", "0", "1"},
		{"RESTORE", "k", "0", "x"}, {"LPUSH", "k", "v"}, {"SENTINEL", "FAILOVER", "mymaster"}, {"sentinel", "set", "m", "quorum", "1"},
		{"SENTINEL", "RESET", "*"}, {"SENTINEL", "REMOVE", "m"}, {"SENTINEL", "MONITOR", "m", "h", "1", "1"}, {"SENTINEL", "CONFIG", "SET", "x", "y"},
		{"SENTINEL", "FLUSHCONFIG"}, {"SENTINEL", "DEBUG"}, {"SENTINEL", "SIMULATE-FAILURE", "crash-after-election"},
	}
}

func TestGuardClassify(t *testing.T) {
	for _, args := range dangerous() {
		for _, readOnly := range []bool{true, false} {
			g := &guard{conn: "c", readOnly: readOnly}
			if err := g.check(args); !errors.Is(err, ErrRefused) {
				t.Errorf("%v (readonly %v): %v, want refused", args, readOnly, err)
			}
		}
	}
	for _, tc := range []struct {
		args     []any
		readOnly bool
		ok       bool
	}{
		{[]any{"scan", "0"}, true, true},
		{[]any{"CONFIG", "GET", "*"}, true, true},
		{[]any{"client", "list"}, true, true},
		{[]any{"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m"}, true, true},
		{[]any{"sentinel", "replicas", "m"}, true, true},
		{[]any{"unlink", "k"}, true, false},
		{[]any{"unlink", "k"}, false, true},
		{[]any{"set", "k", "v"}, true, false},
		{[]any{"hset", "k", "f", "v"}, false, true},
		{[]any{}, true, false},
	} {
		err := (&guard{conn: "c", readOnly: tc.readOnly}).check(tc.args)
		if (err == nil) != tc.ok {
			t.Errorf("%v readonly %v: %v", tc.args, tc.readOnly, err)
		}
	}
}

// TestGuardOnServer: no dangerous command reaches a real server through
// any client of a writable connection, alone or in a pipeline, and no route
// sends a command the guard denies (INFO commandstats tells what the server
// ran).
func TestGuardOnServer(t *testing.T) {
	skipShort(t)
	srv := testkit.StartRedis(t)
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2})
	t.Cleanup(func() { admin.Close() })
	ctx := context.Background()
	seed(t, admin)
	h := newHarness(t, standalone(srv.Addr, false))
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	c := h.p.conns["local"]
	for _, args := range dangerous() {
		if err := c.keys().Do(ctx, args...).Err(); !errors.Is(err, ErrRefused) {
			t.Errorf("%v: %v", args, err)
		}
		pipe := c.keys().Pipeline()
		pipe.Get(ctx, "str:text")
		pipe.Do(ctx, args...)
		if _, err := pipe.Exec(ctx); !errors.Is(err, ErrRefused) {
			t.Errorf("pipeline with %v: %v", args, err)
		}
	}
	// Every route, with parameters that try to smuggle commands.
	evil := url.Values{"name": {"str:text"}, "pattern": {"*\r\nFLUSHALL\r\n"}, "type": {"string\r\nFLUSHALL"}, "node": {"all"},
		"section": {"all"}, "count": {"5"}, "cursor": {""}, "min": {"3"}, "q": {"FLUSHALL"}, "ttl_ms": {"60000"}, "field": {"f"}, "value": {"FLUSHALL"}}
	for _, rt := range []string{
		"GET /api/redis/connections", "GET /api/redis/local/keys", "GET /api/redis/local/key", "GET /api/redis/local/key/fields",
		"GET /api/redis/local/key/memory", "GET /api/redis/local/clients", "GET /api/redis/local/cluster", "GET /api/redis/local/info",
		"GET /api/redis/local/stats", "GET /api/redis/local/config", "GET /api/redis/local/slowlog", "GET /api/redis/local/bigkeys",
		"POST /api/redis/local/key/ttl", "GET /redis", "GET /redis/local", "GET /redis/local/search", "GET /redis/local/key",
		"GET /redis/local/key/more", "GET /redis/local/clients", "GET /redis/local/cluster", "GET /redis/local/info",
		"GET /redis/local/config", "GET /redis/local/slowlog", "GET /redis/local/bigkeys",
	} {
		method, path, _ := strings.Cut(rt, " ")
		var form url.Values
		if method == http.MethodPost {
			form = evil
		} else {
			path += "?" + evil.Encode()
		}
		if status, b := h.do(method, path, form, "operator"); status >= 500 {
			t.Errorf("%s: %d %s", rt, status, b)
		}
	}
	stats, err := admin.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range parseInfo(stats)[0].Fields {
		name := strings.TrimPrefix(f.Key, "cmdstat_")
		cmd, sub, _ := strings.Cut(name, "|")
		if name == "info" || name == "config|resetstat" {
			continue // the test's own
		}
		if classify(cmd, sub) == cmdDenied {
			t.Errorf("the server ran %s", name)
		}
	}
}
