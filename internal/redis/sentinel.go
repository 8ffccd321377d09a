package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// A sentinel connection's data goes through go-redis's failover client,
// which asks the sentinels for the master and follows +switch-master. The
// inspector also asks them itself, through its own guarded clients, so
// that every hit, key view and server view names the real master
// (host:port, not the master's name), and so that INFO, CONFIG, clients and
// the slow log can be read on the replicas too.

// onSentinels runs f on the sentinels, starting with the one that answered
// last, until one answers.
func (c *Conn) onSentinels(ctx context.Context, f func(*goredis.SentinelClient) error) error {
	n := len(c.sentinels)
	first := int(c.sentinelAt.Load())
	var errs []error
	for i := range n {
		j := (first + i) % n
		err := f(c.sentinels[j])
		if err == nil {
			c.sentinelAt.Store(int32(j))
			return nil
		}
		errs = append(errs, fmt.Errorf("sentinel %s: %w", c.sentinels[j].String(), err))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("no sentinel of %s answered: %w", c.name, errors.Join(errs...))
}

// sentinelMaster returns the master the sentinels name now, served by the
// failover client.
func (c *Conn) sentinelMaster(ctx context.Context) (*node, error) {
	name := c.cfg.Sentinel.Master
	var addr string
	err := c.onSentinels(ctx, func(sc *goredis.SentinelClient) error {
		hp, err := sc.GetMasterAddrByName(ctx, name).Result()
		if errors.Is(err, goredis.Nil) {
			return fmt.Errorf("monitors no master named %q", name)
		}
		if err != nil {
			return err
		}
		if len(hp) != 2 {
			return fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME answered %q", hp)
		}
		addr = net.JoinHostPort(hp[0], hp[1])
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &node{Addr: addr, Role: "master", client: c.single}, nil
}

// sentinelServers returns the master and its replicas as the sentinels
// know them, for the server view, and the nodes the inspector can read:
// the master (through the failover client) and the replicas that are
// neither down nor disconnected.
func (c *Conn) sentinelServers(ctx context.Context) ([]ClusterNode, []*node, error) {
	name := c.cfg.Sentinel.Master
	var master map[string]string
	var replicas []map[string]string
	err := c.onSentinels(ctx, func(sc *goredis.SentinelClient) error {
		m, err := sc.Master(ctx, name).Result()
		if err != nil {
			if strings.Contains(err.Error(), "No such master") {
				return fmt.Errorf("monitors no master named %q", name)
			}
			return err
		}
		r, err := sc.Replicas(ctx, name).Result()
		if err != nil {
			return err
		}
		master, replicas = m, r
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	view := []ClusterNode{sentinelNode(master, "master", "")}
	for _, r := range replicas {
		view = append(view, sentinelNode(r, "replica", master["runid"]))
	}
	slices.SortStableFunc(view[1:], func(a, b ClusterNode) int { return strings.Compare(a.Addr, b.Addr) })
	nodes := []*node{{Addr: view[0].Addr, ID: view[0].ID, Role: "master", client: c.single}}
	for _, v := range view[1:] {
		if v.Failing || v.LinkState != "connected" {
			continue
		}
		nodes = append(nodes, &node{Addr: v.Addr, ID: v.ID, Role: "replica", client: c.nodeClient(v.Addr)})
	}
	return view, nodes, nil
}

// sentinelNode turns a SENTINEL MASTER or REPLICAS entry into a server of
// the server view.
func sentinelNode(m map[string]string, role, masterID string) ClusterNode {
	n := ClusterNode{ID: m["runid"], Addr: net.JoinHostPort(m["ip"], m["port"]), Role: role, MasterID: masterID,
		LinkState: "connected", Slots: []SlotRange{}}
	if f := m["flags"]; f != "" {
		n.Flags = strings.Split(f, ",")
	}
	for _, f := range n.Flags {
		switch f {
		case "s_down", "o_down":
			n.Failing = true
		case "disconnected":
			n.LinkState = "disconnected"
		}
	}
	if role == "replica" && m["master-link-status"] == "err" {
		n.Flags = append(n.Flags, "master_link_down")
	}
	return n
}
