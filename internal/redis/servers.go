package redis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// onNodes runs f on each node, at most parallel at once, and returns the
// results in node order with an error per node.
func onNodes[T any](ctx context.Context, nodes []*node, parallel int, f func(context.Context, *node) (T, error)) ([]T, []error) {
	out := make([]T, len(nodes))
	errs := make([]error, len(nodes))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = f(ctx, n)
		})
	}
	wg.Wait()
	return out, errs
}

// NodeError is a node that did not answer.
type NodeError struct {
	Node  string `json:"node"`
	Error string `json:"error"`
}

func nodeErrors(nodes []*node, errs []error) []NodeError {
	var out []NodeError
	for i, err := range errs {
		if err != nil {
			out = append(out, NodeError{Node: nodes[i].Addr, Error: err.Error()})
		}
	}
	return out
}

// ClientsReply is GET /api/redis/{conn}/clients.
type ClientsReply struct {
	Clients []ClientInfo `json:"clients"`
	Errors  []NodeError  `json:"errors,omitempty"`
}

func (p *Redis) clients(ctx context.Context, c *Conn, sel, filter, sortBy string, desc bool) (*ClientsReply, error) {
	nodes, err := c.pickNodes(ctx, sel)
	if err != nil {
		return nil, err
	}
	lists, errs := onNodes(ctx, nodes, p.cfg.ParallelNodes, func(ctx context.Context, n *node) ([]ClientInfo, error) {
		s, err := n.client.ClientList(ctx).Result()
		if err != nil {
			return nil, err
		}
		cs := parseClientList(s)
		for i := range cs {
			cs[i].Node = n.Addr
		}
		return cs, nil
	})
	out := &ClientsReply{Clients: []ClientInfo{}, Errors: nodeErrors(nodes, errs)}
	filter = strings.ToLower(filter)
	for _, l := range lists {
		for _, ci := range l {
			if filter == "" || strings.Contains(strings.ToLower(ci.Name), filter) || strings.Contains(ci.Addr, filter) {
				out.Clients = append(out.Clients, ci)
			}
		}
	}
	slices.SortStableFunc(out.Clients, func(a, b ClientInfo) int {
		var r int
		switch sortBy {
		case "addr":
			r = cmp.Compare(a.Addr, b.Addr)
		case "name":
			r = cmp.Compare(a.Name, b.Name)
		case "age":
			r = cmp.Compare(a.Age, b.Age)
		case "idle":
			r = cmp.Compare(a.Idle, b.Idle)
		case "cmd":
			r = cmp.Compare(a.Cmd, b.Cmd)
		case "node":
			r = cmp.Compare(a.Node, b.Node)
		default:
			r = cmp.Compare(a.ID, b.ID)
		}
		if desc {
			r = -r
		}
		return r
	})
	return out, nil
}

// ClusterReply is GET /api/redis/{conn}/cluster.
type ClusterReply struct {
	Mode  string        `json:"mode"` // standalone, sentinel or cluster
	Nodes []ClusterNode `json:"nodes"`
	// State is cluster_state from CLUSTER INFO (ok or fail).
	State string `json:"state,omitempty"`
	// SlotsAssigned, SlotsOK, SlotsFail are from CLUSTER INFO.
	SlotsAssigned int64 `json:"slots_assigned"`
	SlotsOK       int64 `json:"slots_ok"`
	SlotsFail     int64 `json:"slots_fail"`
	// Refreshes counts cluster map loads; Reason says why the last one
	// happened; At is when.
	Refreshes int       `json:"refreshes"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"loaded_at"`
}

func (p *Redis) clusterView(ctx context.Context, c *Conn, refresh bool) (*ClusterReply, error) {
	if c.sentinels != nil {
		view, _, err := c.sentinelServers(ctx)
		if err != nil {
			return nil, err
		}
		return &ClusterReply{Mode: "sentinel", Nodes: view}, nil
	}
	if c.cluster == nil {
		n := c.singleNode()
		return &ClusterReply{Mode: c.cfg.kind(), Nodes: []ClusterNode{{Addr: n.Addr, Role: "master", LinkState: "connected", Slots: []SlotRange{}}}}, nil
	}
	var topo []ClusterNode
	var err error
	if refresh {
		topo, err = c.reload(ctx, "asked for in the UI or API")
	} else {
		topo, err = c.topology(ctx)
	}
	if err != nil {
		return nil, err
	}
	out := &ClusterReply{Mode: "cluster", Nodes: slices.Clone(topo)}
	// Masters first, by first slot; each replica after its master.
	first := func(n ClusterNode) int {
		if len(n.Slots) > 0 {
			return n.Slots[0].From
		}
		return slots
	}
	byID := map[string]ClusterNode{}
	for _, n := range topo {
		byID[n.ID] = n
	}
	slices.SortStableFunc(out.Nodes, func(a, b ClusterNode) int {
		ma, mb := a, b
		if a.MasterID != "" {
			ma = byID[a.MasterID]
		}
		if b.MasterID != "" {
			mb = byID[b.MasterID]
		}
		if r := cmp.Compare(first(ma), first(mb)); r != 0 {
			return r
		}
		if r := cmp.Compare(ma.ID, mb.ID); r != 0 {
			return r
		}
		return cmp.Compare(a.Role, b.Role)
	})
	masters, err := c.masters(ctx)
	if err == nil && len(masters) > 0 {
		if s, err := masters[0].client.ClusterInfo(ctx).Result(); err == nil {
			info := parseInfo(s)
			out.State = infoValue(info, "cluster_state")
			out.SlotsAssigned = infoInt(info, "cluster_slots_assigned")
			out.SlotsOK = infoInt(info, "cluster_slots_ok")
			out.SlotsFail = infoInt(info, "cluster_slots_fail") + infoInt(info, "cluster_slots_pfail")
		}
	}
	out.Refreshes, out.Reason, out.At = c.topoStats()
	return out, nil
}

// NodeInfo is INFO of one node.
type NodeInfo struct {
	Node     string        `json:"node"`
	Role     string        `json:"role"`
	Sections []InfoSection `json:"sections"`
}

// InfoReply is GET /api/redis/{conn}/info.
type InfoReply struct {
	Nodes  []NodeInfo  `json:"nodes"`
	Errors []NodeError `json:"errors,omitempty"`
}

func (p *Redis) info(ctx context.Context, c *Conn, sel, section string) (*InfoReply, error) {
	nodes, err := c.pickNodes(ctx, sel)
	if err != nil {
		return nil, err
	}
	infos, errs := onNodes(ctx, nodes, p.cfg.ParallelNodes, func(ctx context.Context, n *node) (NodeInfo, error) {
		var s string
		var err error
		if section == "" {
			s, err = n.client.Info(ctx).Result()
		} else {
			s, err = n.client.Info(ctx, section).Result()
		}
		return NodeInfo{Node: n.Addr, Role: n.Role, Sections: parseInfo(s)}, err
	})
	out := &InfoReply{Errors: nodeErrors(nodes, errs)}
	for i, ni := range infos {
		if errs[i] == nil {
			out.Nodes = append(out.Nodes, ni)
		}
	}
	return out, nil
}

// Stats is GET /api/redis/{conn}/stats: the counters the info page charts,
// summed over the masters.
type Stats struct {
	Time             int64   `json:"time"` // unix ms
	OpsPerSec        int64   `json:"ops_per_sec"`
	UsedMemory       int64   `json:"used_memory_bytes"`
	ConnectedClients int64   `json:"connected_clients"`
	Hits             int64   `json:"keyspace_hits"`
	Misses           int64   `json:"keyspace_misses"`
	HitRatio         float64 `json:"hit_ratio"`
	Keys             int64   `json:"keys"`
}

func (p *Redis) stats(ctx context.Context, c *Conn) (*Stats, error) {
	nodes, err := c.masters(ctx)
	if err != nil {
		return nil, err
	}
	infos, errs := onNodes(ctx, nodes, p.cfg.ParallelNodes, func(ctx context.Context, n *node) ([]InfoSection, error) {
		s, err := n.client.Info(ctx, "stats", "memory", "clients", "keyspace").Result()
		return parseInfo(s), err
	})
	st := &Stats{Time: time.Now().UnixMilli()}
	for i, in := range infos {
		if errs[i] != nil {
			return nil, fmt.Errorf("INFO on %s: %w", nodes[i].Addr, errs[i])
		}
		st.OpsPerSec += infoInt(in, "instantaneous_ops_per_sec")
		st.UsedMemory += infoInt(in, "used_memory")
		st.ConnectedClients += infoInt(in, "connected_clients")
		st.Hits += infoInt(in, "keyspace_hits")
		st.Misses += infoInt(in, "keyspace_misses")
		for _, s := range in {
			if s.Name != "Keyspace" {
				continue
			}
			for _, f := range s.Fields {
				keys, _, _ := strings.Cut(strings.TrimPrefix(f.Value, "keys="), ",")
				n, _ := strconv.ParseInt(keys, 10, 64)
				st.Keys += n
			}
		}
	}
	if st.Hits+st.Misses > 0 {
		st.HitRatio = float64(st.Hits) / float64(st.Hits+st.Misses)
	}
	return st, nil
}

// ConfigParam is one CONFIG GET parameter.
type ConfigParam struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NodeConfig is CONFIG GET * of one node.
type NodeConfig struct {
	Node   string        `json:"node"`
	Params []ConfigParam `json:"params"`
}

// ConfigReply is GET /api/redis/{conn}/config.
type ConfigReply struct {
	Nodes  []NodeConfig `json:"nodes"`
	Errors []NodeError  `json:"errors,omitempty"`
}

// secretParam reports whether a CONFIG parameter holds a secret.
func secretParam(name string) bool {
	return strings.Contains(name, "pass") || strings.Contains(name, "masterauth") || strings.Contains(name, "secret")
}

func (p *Redis) configView(ctx context.Context, c *Conn, sel, pattern string) (*ConfigReply, error) {
	nodes, err := c.pickNodes(ctx, sel)
	if err != nil {
		return nil, err
	}
	if pattern == "" {
		pattern = "*"
	}
	cfgs, errs := onNodes(ctx, nodes, p.cfg.ParallelNodes, func(ctx context.Context, n *node) (NodeConfig, error) {
		m, err := n.client.ConfigGet(ctx, pattern).Result()
		nc := NodeConfig{Node: n.Addr}
		for k, v := range m {
			if secretParam(k) && v != "" {
				v = "[redacted]"
			}
			nc.Params = append(nc.Params, ConfigParam{Name: k, Value: v})
		}
		slices.SortFunc(nc.Params, func(a, b ConfigParam) int { return cmp.Compare(a.Name, b.Name) })
		return nc, err
	})
	out := &ConfigReply{Errors: nodeErrors(nodes, errs)}
	for i, nc := range cfgs {
		if errs[i] == nil {
			out.Nodes = append(out.Nodes, nc)
		}
	}
	return out, nil
}

// SlowEntry is one slow log entry.
type SlowEntry struct {
	Node       string    `json:"node"`
	ID         int64     `json:"id"`
	Time       time.Time `json:"time"`
	DurationUS int64     `json:"duration_us"`
	Command    []Blob    `json:"command"`
	ClientAddr string    `json:"client_addr"`
	ClientName string    `json:"client_name"`
}

// CommandLine returns the command as redis-cli would print it.
func (e SlowEntry) CommandLine() string {
	parts := make([]string, len(e.Command))
	for i, a := range e.Command {
		b := []byte(a.Text)
		if a.B64 != "" {
			b, _ = decodeB64(a.B64)
		}
		parts[i] = cliQuote(b)
	}
	return strings.Join(parts, " ")
}

// SlowlogReply is GET /api/redis/{conn}/slowlog.
type SlowlogReply struct {
	Entries []SlowEntry `json:"entries"`
	Errors  []NodeError `json:"errors,omitempty"`
}

func (p *Redis) slowlog(ctx context.Context, c *Conn, sel string, count int) (*SlowlogReply, error) {
	nodes, err := c.pickNodes(ctx, sel)
	if err != nil {
		return nil, err
	}
	logs, errs := onNodes(ctx, nodes, p.cfg.ParallelNodes, func(ctx context.Context, n *node) ([]SlowEntry, error) {
		ls, err := n.client.SlowLogGet(ctx, int64(count)).Result()
		var out []SlowEntry
		for _, l := range ls {
			e := SlowEntry{Node: n.Addr, ID: l.ID, Time: l.Time.UTC(), DurationUS: l.Duration.Microseconds(), ClientAddr: l.ClientAddr, ClientName: l.ClientName}
			for _, a := range l.Args {
				e.Command = append(e.Command, newBlob([]byte(a)))
			}
			out = append(out, e)
		}
		return out, err
	})
	out := &SlowlogReply{Entries: []SlowEntry{}, Errors: nodeErrors(nodes, errs)}
	for _, l := range logs {
		out.Entries = append(out.Entries, l...)
	}
	slices.SortStableFunc(out.Entries, func(a, b SlowEntry) int {
		if r := b.Time.Compare(a.Time); r != 0 {
			return r
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if len(out.Entries) > count {
		out.Entries = out.Entries[:count]
	}
	return out, nil
}
