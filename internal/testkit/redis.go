package testkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a standalone redis-server started by StartRedis.
type Redis struct {
	// Addr is the server's "127.0.0.1:PORT".
	Addr string
	// Dir holds redis.conf, redis.log and any files the server writes.
	Dir string
}

// StartRedis starts redis-server on a free loopback port in a temporary
// directory, with no persistence and protected mode off, and returns once it
// answers PING. Each arg is one more line of its config file, such as
// "maxmemory 10mb"; a leading "--" is dropped, so "--maxmemory 10mb" works
// too. The server is stopped when the test ends.
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	bin := lookPath(t, "redis-server", "redis-server")
	dir := t.TempDir()
	r, err := startRedis(t, bin, dir, args)
	if err != nil {
		t.Fatalf("start redis-server in %s: %v", dir, err)
	}
	return r
}

// startRedis starts one redis-server in dir with the config lines extra.
// The line "cluster-port" in extra gets a free port as its value.
func startRedis(t testing.TB, bin, dir string, extra []string) (*Redis, error) {
	t.Helper()
	conf := filepath.Join(dir, "redis.conf")
	log := filepath.Join(dir, "redis.log")
	for attempt := 1; ; attempt++ {
		addr, err := freeAddr()
		if err != nil {
			return nil, fmt.Errorf("find free port: %w", err)
		}
		_, port, _ := net.SplitHostPort(addr)
		var b strings.Builder
		fmt.Fprintf(&b, "port %s\nbind 127.0.0.1\ndir %s\nlogfile \"\"\ndaemonize no\n", port, strconv.Quote(dir))
		b.WriteString("protected-mode no\nsave \"\"\nappendonly no\n")
		for _, l := range extra {
			l = strings.TrimPrefix(l, "--")
			if l == "cluster-port" {
				busAddr, err := freeAddr()
				if err != nil {
					return nil, fmt.Errorf("find free port: %w", err)
				}
				_, busPort, _ := net.SplitHostPort(busAddr)
				l += " " + busPort
			}
			b.WriteString(l + "\n")
		}
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			return nil, fmt.Errorf("write config: %w", err)
		}
		if err := os.Remove(log); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove old log: %w", err)
		}
		p, err := start(t, procOpts{dir: dir, log: log}, bin, conf)
		if err != nil {
			return nil, err
		}
		err = waitReady(p, func() error {
			reply, err := redisDo(addr, "PING")
			if err != nil {
				return err
			}
			if reply != "PONG" {
				return fmt.Errorf("PING answered %q", reply)
			}
			return nil
		})
		if err == nil {
			return &Redis{Addr: addr, Dir: dir}, nil
		}
		p.stop()
		if attempt < startAttempts && addrInUse(log) {
			continue
		}
		return nil, fmt.Errorf("%w\n%s", err, tail(log))
	}
}

// redisDo sends one command to the server at addr and returns its reply: a
// status, an integer or a bulk string as text, array elements one a line. An
// error reply is an error.
func redisDo(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	return exchange(c, addr, args)
}

// exchange sends one command on c, reads its reply and closes c.
func exchange(c net.Conn, addr string, args []string) (string, error) {
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	reply, err := readReply(bufio.NewReader(c))
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", addr, args[0], err)
	}
	return reply, nil
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (string, error) {
	head, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	head = strings.TrimSuffix(head, "\r\n")
	if head == "" {
		return "", errors.New("empty reply")
	}
	switch head[0] {
	case '+', ':':
		return head[1:], nil
	case '-':
		return "", errors.New(head[1:])
	case '$':
		n, err := strconv.Atoi(head[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", head)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(head[1:])
		if err != nil {
			return "", fmt.Errorf("bad array length %q", head)
		}
		elems := make([]string, 0, max(n, 0))
		for range n {
			e, err := readReply(r)
			if err != nil {
				return "", err
			}
			elems = append(elems, e)
		}
		return strings.Join(elems, "\n"), nil
	default:
		return "", fmt.Errorf("unknown reply %q", head)
	}
}

// RedisCluster is a cluster of three masters with one replica each, started
// by StartRedisCluster.
type RedisCluster struct {
	// Masters are the masters' addresses, ordered by the slots they serve.
	Masters []string
	// Replicas are the replicas' addresses; Replicas[i] replicates Masters[i].
	Replicas []string
}

// Addrs returns the addresses of all nodes, masters first.
func (c *RedisCluster) Addrs() []string {
	return slices.Concat(c.Masters, c.Replicas)
}

// clusterNodes is the size of the cluster StartRedisCluster makes.
const clusterNodes = 6

// StartRedisCluster starts six redis-server nodes in cluster mode, joins them
// with `redis-cli --cluster create` into three masters with one replica each,
// and returns once every node reports cluster_state:ok and every replica's
// link to its master is up. The nodes are stopped when the test ends.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	bin := lookPath(t, "redis-server", "redis-server")
	cli := lookPath(t, "redis-cli", "redis-tools")
	root := t.TempDir()
	var addrs []string
	for i := range clusterNodes {
		dir := filepath.Join(root, fmt.Sprintf("node%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatalf("start redis cluster: %v", err)
		}
		r, err := startRedis(t, bin, dir, []string{
			"cluster-enabled yes",
			"cluster-config-file nodes.conf",
			"cluster-node-timeout 5000",
			// Roles stay as created: a slow test machine must not see a
			// replica take over a master in the middle of a test.
			"cluster-replica-no-failover yes",
			"cluster-port",
			"repl-diskless-sync-delay 0",
		})
		if err != nil {
			t.Fatalf("start redis cluster node in %s: %v", dir, err)
		}
		addrs = append(addrs, r.Addr)
	}

	log := filepath.Join(root, "cluster-create.log")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	args := append(slices.Clone(addrs), "--cluster-replicas", "1", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, append([]string{"--cluster", "create"}, args...)...).CombinedOutput()
	if werr := os.WriteFile(log, out, 0o644); werr != nil {
		t.Fatalf("start redis cluster: %v", werr)
	}
	if err != nil {
		t.Fatalf("start redis cluster: redis-cli --cluster create: %v\n%s", err, tail(log))
	}

	var c *RedisCluster
	err = poll(startTimeout, func() error {
		var err error
		c, err = clusterState(addrs)
		return err
	})
	if err != nil {
		t.Fatalf("start redis cluster in %s: %v", root, err)
	}
	return c
}

// clusterState returns the cluster of the nodes at addrs once all of them
// report cluster_state:ok, know every node and every slot, and every replica
// has its master link up.
func clusterState(addrs []string) (*RedisCluster, error) {
	for _, a := range addrs {
		info, err := redisDo(a, "CLUSTER", "INFO")
		if err != nil {
			return nil, err
		}
		for _, want := range []string{
			"cluster_state:ok",
			"cluster_slots_assigned:16384",
			fmt.Sprintf("cluster_known_nodes:%d", len(addrs)),
		} {
			if !strings.Contains(info, want+"\r\n") {
				return nil, fmt.Errorf("%s: CLUSTER INFO lacks %s", a, want)
			}
		}
	}
	nodes, err := redisDo(addrs[0], "CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	type master struct {
		id, addr  string
		firstSlot int
		replica   string
	}
	var masters []*master
	replicaOf := map[string]string{} // replica address by master id
	for l := range strings.Lines(nodes) {
		f := strings.Fields(l)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		addr, _, _ = strings.Cut(addr, ",")
		flags := strings.Split(f[2], ",")
		switch {
		case slices.Contains(flags, "master"):
			m := &master{id: f[0], addr: addr, firstSlot: -1}
			if len(f) > 8 {
				lo, _, _ := strings.Cut(f[8], "-")
				m.firstSlot, _ = strconv.Atoi(lo)
			}
			masters = append(masters, m)
		case slices.Contains(flags, "slave"):
			if f[3] == "-" {
				return nil, fmt.Errorf("replica %s has no master yet", addr)
			}
			replicaOf[f[3]] = addr
		}
	}
	slices.SortFunc(masters, func(a, b *master) int { return a.firstSlot - b.firstSlot })
	c := &RedisCluster{}
	for _, m := range masters {
		r, ok := replicaOf[m.id]
		if !ok {
			return nil, fmt.Errorf("master %s has no replica yet", m.addr)
		}
		c.Masters = append(c.Masters, m.addr)
		c.Replicas = append(c.Replicas, r)
	}
	if len(c.Masters)+len(c.Replicas) != len(addrs) {
		return nil, fmt.Errorf("CLUSTER NODES on %s lists %d masters and %d replicas", addrs[0], len(c.Masters), len(c.Replicas))
	}
	for _, m := range c.Masters {
		info, err := redisDo(m, "INFO", "replication")
		if err != nil {
			return nil, err
		}
		if !strings.Contains(info, "role:master\r\n") {
			return nil, fmt.Errorf("%s is listed as a master but is not one yet", m)
		}
	}
	for _, r := range c.Replicas {
		info, err := redisDo(r, "INFO", "replication")
		if err != nil {
			return nil, err
		}
		if !strings.Contains(info, "master_link_status:up\r\n") {
			return nil, fmt.Errorf("replica %s: master link not up", r)
		}
	}
	return c, nil
}
