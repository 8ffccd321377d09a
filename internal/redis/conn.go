package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// clientName is how the inspector names its connections in CLIENT LIST.
const clientName = "dandan-redis"

// Conn is one named connection: a client for key commands (a cluster
// client follows MOVED and ASK) and, on a cluster, a client per node and
// the cluster map, refreshed on events.
type Conn struct {
	name   string
	cfg    *ConnConfig
	log    *slog.Logger
	maxAge time.Duration
	tls    *tls.Config

	single  *goredis.Client        // standalone or sentinel
	cluster *goredis.ClusterClient // cluster
	// sentinels are a sentinel connection's own clients of its sentinels,
	// in the config's order, to learn the master's and the replicas'
	// addresses (the failover client keeps its own).
	sentinels []*goredis.SentinelClient
	// sentinelAt is the index of the sentinel that answered last.
	sentinelAt atomic.Int32

	mu sync.Mutex // guards clients, dialed, topo, topoAt, stale, refreshes, reason
	// clients are the per-node clients of a cluster, by address.
	clients map[string]*goredis.Client
	dialed  map[string]bool
	topo    []ClusterNode
	topoAt  time.Time
	stale   bool
	// refreshes counts topology loads, reason says why the last happened.
	refreshes int
	reason    string

	// refreshMu lets one topology load run at a time.
	refreshMu sync.Mutex
}

// newConn builds the clients of cc; nothing is dialled until used.
func newConn(name string, cc *ConnConfig, maxAge time.Duration, log *slog.Logger) (*Conn, error) {
	c := &Conn{name: name, cfg: cc, log: log, maxAge: maxAge, clients: map[string]*goredis.Client{}, dialed: map[string]bool{}, stale: true, reason: "first use"}
	if cc.TLS.Enabled {
		t, err := tlsConfig(cc.TLS)
		if err != nil {
			return nil, fmt.Errorf("connection %s: %w", name, err)
		}
		c.tls = t
	}
	switch cc.kind() {
	case "cluster":
		c.cluster = goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs:                      cc.Cluster,
			ClientName:                 clientName,
			Protocol:                   2,
			Username:                   cc.Username,
			Password:                   cc.Password.Reveal(),
			TLSConfig:                  c.tls,
			DialTimeout:                cc.dialTimeout(),
			ReadTimeout:                cc.commandTimeout(),
			WriteTimeout:               cc.commandTimeout(),
			PoolSize:                   4,
			MaxRetries:                 1,
			ClusterStateReloadInterval: maxAge,
			MaintNotificationsConfig:   &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
			NewClient: func(opt *goredis.Options) *goredis.Client {
				cl := goredis.NewClient(opt)
				cl.AddHook(c.guard())
				return cl
			},
		})
		c.cluster.AddHook(c.guard())
	case "sentinel":
		s := cc.Sentinel
		c.single = goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName:       s.Master,
			SentinelAddrs:    s.Addrs,
			SentinelUsername: s.Username,
			SentinelPassword: s.Password.Reveal(),
			ClientName:       clientName,
			Protocol:         2,
			Username:         cc.Username,
			Password:         cc.Password.Reveal(),
			DB:               cc.DB,
			TLSConfig:        c.tls,
			DialTimeout:      cc.dialTimeout(),
			ReadTimeout:      cc.commandTimeout(),
			WriteTimeout:     cc.commandTimeout(),
			PoolSize:         4,
			MaxRetries:       1,
		})
		c.single.AddHook(c.guard())
		for _, addr := range s.Addrs {
			sc := goredis.NewSentinelClient(&goredis.Options{
				Addr:                     addr,
				ClientName:               clientName,
				Protocol:                 2,
				Username:                 s.Username,
				Password:                 s.Password.Reveal(),
				TLSConfig:                c.tls, // as go-redis's failover client dials them
				DialTimeout:              cc.dialTimeout(),
				ReadTimeout:              cc.commandTimeout(),
				WriteTimeout:             cc.commandTimeout(),
				PoolSize:                 1,
				MaxRetries:               1,
				MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
			})
			sc.AddHook(c.guard())
			c.sentinels = append(c.sentinels, sc)
		}
	default:
		c.single = c.newClient(cc.Addr)
	}
	return c, nil
}

// guard returns the hook every client of c carries.
func (c *Conn) guard() *guard {
	return &guard{conn: c.name, readOnly: c.cfg.readOnly(), onRedirect: c.redirected, onDial: c.dialedTo}
}

// newClient returns a guarded client of one server at addr.
func (c *Conn) newClient(addr string) *goredis.Client {
	cl := goredis.NewClient(&goredis.Options{
		Addr:                     addr,
		ClientName:               clientName,
		Protocol:                 2,
		Username:                 c.cfg.Username,
		Password:                 c.cfg.Password.Reveal(),
		DB:                       c.cfg.DB,
		TLSConfig:                c.tls,
		DialTimeout:              c.cfg.dialTimeout(),
		ReadTimeout:              c.cfg.commandTimeout(),
		WriteTimeout:             c.cfg.commandTimeout(),
		PoolSize:                 4,
		MaxRetries:               1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	cl.AddHook(c.guard())
	return cl
}

func tlsConfig(t TLSConfig) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load tls.cert_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// close closes every client.
func (c *Conn) close() error {
	var errs []error
	if c.single != nil {
		errs = append(errs, c.single.Close())
	}
	if c.cluster != nil {
		errs = append(errs, c.cluster.Close())
	}
	for _, sc := range c.sentinels {
		errs = append(errs, sc.Close())
	}
	c.mu.Lock()
	for _, cl := range c.clients {
		errs = append(errs, cl.Close())
	}
	c.clients = map[string]*goredis.Client{}
	c.mu.Unlock()
	return errors.Join(errs...)
}

// keys returns the client for commands on one key: it routes by slot on a
// cluster and follows MOVED and ASK.
func (c *Conn) keys() goredis.UniversalClient {
	if c.cluster != nil {
		return c.cluster
	}
	return c.single
}

// redirected is a topology event: a MOVED or ASK reply.
func (c *Conn) redirected() {
	c.invalidate("MOVED/ASK redirect")
	if c.cluster != nil {
		c.cluster.ReloadState(context.Background())
	}
}

// dialedTo is a topology event when it is a reconnect.
func (c *Conn) dialedTo(addr string) {
	c.mu.Lock()
	again := c.dialed[addr]
	c.dialed[addr] = true
	c.mu.Unlock()
	if again && c.cluster != nil {
		c.invalidate("reconnect to " + addr)
	}
}

// invalidate marks the cluster map stale; the next use reloads it.
func (c *Conn) invalidate(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stale {
		c.stale, c.reason = true, reason
	}
}

// node is one server the inspector talks to directly.
type node struct {
	Addr   string
	ID     string // cluster node ID
	Role   string // master or replica
	client *goredis.Client
}

// nodeClient returns the per-node client of a cluster node at addr.
func (c *Conn) nodeClient(addr string) *goredis.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.clients[addr]
	if !ok {
		cl = c.newClient(addr)
		c.clients[addr] = cl
	}
	return cl
}

// singleNode is the one node of a standalone connection.
func (c *Conn) singleNode() *node {
	return &node{Addr: c.cfg.Addr, Role: "master", client: c.single}
}

// topology returns the cluster map, loading it when it is stale (after an
// event) or older than topology_max_age. CLUSTER NODES is slow on big
// clusters, so it is called only then.
func (c *Conn) topology(ctx context.Context) ([]ClusterNode, error) {
	c.mu.Lock()
	if !c.stale && time.Since(c.topoAt) < c.maxAge && c.topo != nil {
		t := c.topo
		c.mu.Unlock()
		return t, nil
	}
	c.mu.Unlock()
	return c.reload(ctx, "")
}

// reload loads the cluster map now; reason "" keeps the recorded one.
func (c *Conn) reload(ctx context.Context, reason string) ([]ClusterNode, error) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.mu.Lock()
	if reason == "" && !c.stale && c.topo != nil && time.Since(c.topoAt) < c.maxAge {
		t := c.topo // another caller loaded it while this one waited
		c.mu.Unlock()
		return t, nil
	}
	if reason == "" {
		reason = c.reason
		if !c.stale {
			reason = "older than topology_max_age"
		}
	}
	var seeds []string
	for _, n := range c.topo {
		if n.Role == "master" && !n.Failing {
			seeds = append(seeds, n.Addr)
		}
	}
	c.mu.Unlock()
	seeds = append(seeds, c.cfg.Cluster...)
	var lastErr error
	for _, addr := range slices.Compact(seeds) {
		s, err := c.nodeClient(addr).ClusterNodes(ctx).Result()
		if err != nil {
			lastErr = fmt.Errorf("CLUSTER NODES on %s: %w", addr, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		nodes := parseClusterNodes(s)
		for i := range nodes {
			nodes[i].Myself = false // the answering node's view is shared by all
		}
		c.mu.Lock()
		c.topo, c.topoAt, c.stale = nodes, time.Now(), false
		c.refreshes++
		c.reason = reason
		c.mu.Unlock()
		c.log.Debug("cluster map loaded", "addr", addr, "nodes", len(nodes), "reason", reason)
		return nodes, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no seed address")
	}
	return nil, fmt.Errorf("load cluster map of %s: %w", c.name, lastErr)
}

// topoStats says how often the map was loaded and why the last time.
func (c *Conn) topoStats() (refreshes int, reason string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refreshes, c.reason, c.topoAt
}

// masters returns the masters that serve slots (a cluster) or the one
// server.
func (c *Conn) masters(ctx context.Context) ([]*node, error) {
	if c.sentinels != nil {
		m, err := c.sentinelMaster(ctx)
		if err != nil {
			return nil, err
		}
		return []*node{m}, nil
	}
	if c.cluster == nil {
		return []*node{c.singleNode()}, nil
	}
	topo, err := c.topology(ctx)
	if err != nil {
		return nil, err
	}
	var out []*node
	for _, n := range topo {
		if n.Role == "master" && len(n.Slots) > 0 {
			out = append(out, &node{Addr: n.Addr, ID: n.ID, Role: n.Role, client: c.nodeClient(n.Addr)})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cluster %s has no master serving slots", c.name)
	}
	return out, nil
}

// allNodes returns every node, masters first, or the one server.
func (c *Conn) allNodes(ctx context.Context) ([]*node, error) {
	if c.sentinels != nil {
		_, nodes, err := c.sentinelServers(ctx)
		return nodes, err
	}
	if c.cluster == nil {
		return []*node{c.singleNode()}, nil
	}
	topo, err := c.topology(ctx)
	if err != nil {
		return nil, err
	}
	var masters, replicas []*node
	for _, n := range topo {
		if slices.Contains(n.Flags, "noaddr") || n.Addr == "" || n.Addr == ":0" {
			continue
		}
		nd := &node{Addr: n.Addr, ID: n.ID, Role: n.Role, client: c.nodeClient(n.Addr)}
		if n.Role == "master" {
			masters = append(masters, nd)
		} else {
			replicas = append(replicas, nd)
		}
	}
	return append(masters, replicas...), nil
}

// pickNodes returns the nodes named by sel: "" or "all" for every node, or
// one address. An address the map does not know is a topology event: the
// map is reloaded once before the address is refused.
func (c *Conn) pickNodes(ctx context.Context, sel string) ([]*node, error) {
	all, err := c.allNodes(ctx)
	if err != nil {
		return nil, err
	}
	if sel == "" || sel == "all" {
		return all, nil
	}
	for attempt := 0; attempt < 2; attempt++ {
		for _, n := range all {
			if n.Addr == sel {
				return []*node{n}, nil
			}
		}
		if attempt == 0 && c.cluster != nil {
			c.invalidate("unknown node " + sel)
			if all, err = c.allNodes(ctx); err != nil {
				return nil, err
			}
		}
	}
	return nil, fmt.Errorf("node %q is not part of connection %s: %w", sel, c.name, errUnknownNode)
}

// errUnknownNode is wrapped when a request names a node the connection lacks.
var errUnknownNode = errors.New("unknown node")
