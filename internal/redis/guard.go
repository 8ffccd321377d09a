package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// ErrRefused is wrapped by the error of every command the guard does not
// send.
var ErrRefused = errors.New("refused")

// guard is the one place where commands leave dandan: a go-redis hook on
// every client the inspector makes (the cluster client, each of its node
// clients, each per-node client, standalone and sentinel clients). It lets
// through only the commands the inspector uses to read, plus its few
// writes when the connection is not read-only, and never the dangerous ones
// (FLUSHALL, FLUSHDB, CONFIG SET, KEYS, DEBUG, SHUTDOWN, SCRIPT, EVAL,
// MODULE, REPLICAOF, …) whatever the connection says. It also reports
// redirects and new connections as topology events.
type guard struct {
	conn     string
	readOnly bool
	// onRedirect is called when a reply is MOVED or ASK.
	onRedirect func()
	// onDial is called after each new connection to addr.
	onDial func(addr string)
}

var _ goredis.Hook = (*guard)(nil)

// DialHook implements goredis.Hook.
func (g *guard) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err == nil && g.onDial != nil {
			g.onDial(addr)
		}
		return c, err
	}
}

// ProcessHook implements goredis.Hook.
func (g *guard) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if err := g.check(cmd.Args()); err != nil {
			cmd.SetErr(err)
			return err
		}
		err := next(ctx, cmd)
		g.observe(cmd.Err())
		return err
	}
}

// ProcessPipelineHook implements goredis.Hook: one refused command refuses
// the whole pipeline, before anything is sent.
func (g *guard) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, cmd := range cmds {
			if err := g.check(cmd.Args()); err != nil {
				for _, c := range cmds {
					c.SetErr(err)
				}
				return err
			}
		}
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			g.observe(cmd.Err())
		}
		return err
	}
}

func (g *guard) observe(err error) {
	if err == nil || g.onRedirect == nil {
		return
	}
	if s := err.Error(); strings.HasPrefix(s, "MOVED ") || strings.HasPrefix(s, "ASK ") {
		g.onRedirect()
	}
}

// check returns an error when args must not be sent.
func (g *guard) check(args []any) error {
	name, sub := commandName(args)
	switch classify(name, sub) {
	case cmdRead:
		return nil
	case cmdWrite:
		if !g.readOnly {
			return nil
		}
		return fmt.Errorf("command %s %w: connection %q is read-only", strings.ToUpper(name), ErrRefused, g.conn)
	}
	shown := strings.ToUpper(name)
	if sub != "" {
		shown += " " + strings.ToUpper(sub)
	}
	return fmt.Errorf("command %s %w: the inspector never sends it", shown, ErrRefused)
}

// commandName returns the lower-case command and subcommand of args.
func commandName(args []any) (name, sub string) {
	if len(args) > 0 {
		name = strings.ToLower(argString(args[0]))
	}
	if len(args) > 1 {
		sub = strings.ToLower(argString(args[1]))
	}
	return name, sub
}

func argString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return fmt.Sprint(a)
}

// commandClass is what the guard does with a command.
type commandClass int

const (
	cmdDenied commandClass = iota // never sent
	cmdRead                       // sent on every connection
	cmdWrite                      // sent only when the connection is not read-only
)

// classify is the allow-list. Anything not named here is denied, so the
// dangerous commands (FLUSHALL, FLUSHDB, CONFIG SET, KEYS, DEBUG, SHUTDOWN,
// SCRIPT, EVAL, EVALSHA, FCALL, FUNCTION, MODULE, REPLICAOF, SLAVEOF,
// MIGRATE, CLIENT KILL, CLUSTER RESET, SENTINEL FAILOVER, SENTINEL SET, …)
// can never be sent.
func classify(name, sub string) commandClass {
	switch name {
	// connection set-up, as go-redis sends it
	case "hello", "auth", "select", "readonly", "ping", "echo":
		return cmdRead
	// keys and values
	case "scan", "type", "pttl", "ttl", "exists", "strlen", "hlen", "llen", "scard", "zcard", "xlen",
		"get", "getrange", "hscan", "sscan", "zscan", "hget", "lrange", "zrange", "zscore",
		"xrange", "xrevrange", "xpending", "dump", "dbsize", "role", "bf.card":
		return cmdRead
	case "xinfo":
		return oneOf(sub, "stream", "groups", "consumers", "help")
	case "memory":
		return oneOf(sub, "usage", "stats", "doctor", "help")
	case "object":
		return oneOf(sub, "encoding", "freq", "idletime", "refcount", "help")
	// servers
	case "info":
		return cmdRead
	case "config":
		return oneOf(sub, "get", "help")
	case "slowlog":
		return oneOf(sub, "get", "len", "help")
	case "client":
		return oneOf(sub, "list", "info", "getname", "id", "setname", "setinfo", "help")
	case "cluster":
		return oneOf(sub, "nodes", "slots", "shards", "info", "keyslot", "countkeysinslot", "getkeysinslot", "myid", "links", "help")
	case "command":
		return oneOf(sub, "", "count", "docs", "info", "list", "getkeys", "help")
	// Sentinel: where the master and its replicas are, never a change
	case "sentinel":
		return oneOf(sub, "get-master-addr-by-name", "master", "masters", "replicas", "slaves", "sentinels", "myid", "ckquorum", "help")
	// the writes an operator may make on a writable connection
	case "unlink", "del", "pexpire", "expire", "persist", "set", "hset":
		return cmdWrite
	}
	return cmdDenied
}

func oneOf(sub string, allowed ...string) commandClass {
	for _, a := range allowed {
		if sub == a {
			return cmdRead
		}
	}
	return cmdDenied
}
