package redis

import (
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/dandan-sre/dandan/internal/config"
)

// Config is the redis section: named connections and the limits that keep
// the inspector gentle with production servers.
type Config struct {
	// Connections by name; the name is the URL segment {conn}.
	Connections map[string]*ConnConfig `yaml:"connections"`
	// ScanCount is the COUNT of every SCAN/HSCAN/SSCAN/ZSCAN: the work one
	// call does on the server.
	ScanCount int `yaml:"scan_count"`
	// SearchBudget bounds the time one search page may scan before it
	// answers with what it has and a cursor to go on.
	SearchBudget config.Duration `yaml:"search_budget"`
	// ParallelNodes bounds how many cluster nodes one search scans at once.
	ParallelNodes int `yaml:"parallel_nodes"`
	// SearchTTL is how long an idle search's cursor stays valid.
	SearchTTL config.Duration `yaml:"search_ttl"`
	// PageSize is how many elements of a value one page shows.
	PageSize int `yaml:"page_size"`
	// MaxValueBytes is how much of a string value is read at once.
	MaxValueBytes config.Size `yaml:"max_value_bytes"`
	// TopologyMaxAge is the longest the cluster map is trusted without an
	// event (MOVED, ASK, a reconnect, an unknown node) refreshing it.
	TopologyMaxAge config.Duration `yaml:"topology_max_age"`
	// BigKeys tunes the background big-keys scan.
	BigKeys BigKeysConfig `yaml:"bigkeys"`
}

// BigKeysConfig tunes the big-keys scan.
type BigKeysConfig struct {
	// Rate is the most keys per second the scan inspects on each node.
	Rate int `yaml:"rate"`
	// Batch is the SCAN COUNT of one step; each step's keys are inspected
	// in one pipeline.
	Batch int `yaml:"batch"`
	// Top is how many keys it keeps per type and measure.
	Top int `yaml:"top"`
}

// ConnConfig is one named connection: exactly one of addr, cluster or
// sentinel.
type ConnConfig struct {
	// Addr is a standalone server, host:port.
	Addr string `yaml:"addr"`
	// Cluster holds seed addresses of a Redis Cluster.
	Cluster []string `yaml:"cluster"`
	// Sentinel finds the master through Redis Sentinel.
	Sentinel *SentinelConfig `yaml:"sentinel"`
	// DB is the database number (standalone and sentinel only).
	DB int `yaml:"db"`
	// Username is the ACL user; empty is "default".
	Username string `yaml:"username"`
	// Password is the ACL user's password or requirepass.
	Password config.Secret `yaml:"password"`
	// TLS configures an encrypted connection.
	TLS TLSConfig `yaml:"tls"`
	// ReadOnly, true unless set to false, refuses every write.
	ReadOnly *bool `yaml:"readonly"`
	// DialTimeout bounds connecting; 0 means 5s.
	DialTimeout config.Duration `yaml:"dial_timeout"`
	// CommandTimeout bounds each command; 0 means 3s.
	CommandTimeout config.Duration `yaml:"command_timeout"`
}

// SentinelConfig names the master and the sentinels that know it.
type SentinelConfig struct {
	Master   string        `yaml:"master"`
	Addrs    []string      `yaml:"addrs"`
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
}

// TLSConfig configures TLS to Redis.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Defaults of the redis section.
const (
	defaultScanCount      = 1000
	defaultSearchBudget   = 2 * time.Second
	defaultParallelNodes  = 8
	defaultSearchTTL      = 10 * time.Minute
	defaultPageSize       = 100
	defaultMaxValueBytes  = 256 << 10
	defaultTopologyMaxAge = 10 * time.Minute
	defaultBigKeysRate    = 2000
	defaultBigKeysBatch   = 20
	defaultBigKeysTop     = 10
	defaultDialTimeout    = 5 * time.Second
	defaultCommandTimeout = 3 * time.Second
)

// DefaultConfig returns the section's defaults, with no connection.
func DefaultConfig() *Config {
	return &Config{
		ScanCount:      defaultScanCount,
		SearchBudget:   config.Duration(defaultSearchBudget),
		ParallelNodes:  defaultParallelNodes,
		SearchTTL:      config.Duration(defaultSearchTTL),
		PageSize:       defaultPageSize,
		MaxValueBytes:  defaultMaxValueBytes,
		TopologyMaxAge: config.Duration(defaultTopologyMaxAge),
		BigKeys:        BigKeysConfig{Rate: defaultBigKeysRate, Batch: defaultBigKeysBatch, Top: defaultBigKeysTop},
	}
}

// connName is what a connection may be called: it is a URL segment.
var connName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// Validate reports every problem by key path.
func (c *Config) Validate() error {
	var errs config.Errors
	if len(c.Connections) == 0 {
		errs.Add("connections", "at least one connection is required, e.g. connections: {local: {addr: 127.0.0.1:6379}}")
	}
	for _, name := range c.names() {
		cc := c.Connections[name]
		p := "connections." + name
		if !connName.MatchString(name) {
			errs.Add(p, "a connection name is lower-case letters, digits, '.', '_' or '-' (it is a URL segment)")
		}
		if cc == nil {
			errs.Add(p, "expected a mapping with addr, cluster or sentinel")
			continue
		}
		cc.validate(&errs, p)
	}
	positiveInt(&errs, "scan_count", c.ScanCount, 1, 100000)
	positiveInt(&errs, "parallel_nodes", c.ParallelNodes, 1, 1024)
	positiveInt(&errs, "page_size", c.PageSize, 1, 10000)
	positiveInt(&errs, "bigkeys.rate", c.BigKeys.Rate, 1, 10000000)
	positiveInt(&errs, "bigkeys.batch", c.BigKeys.Batch, 1, 10000)
	positiveInt(&errs, "bigkeys.top", c.BigKeys.Top, 1, 1000)
	for _, d := range []struct {
		path string
		v    config.Duration
	}{{"search_budget", c.SearchBudget}, {"search_ttl", c.SearchTTL}, {"topology_max_age", c.TopologyMaxAge}} {
		if d.v <= 0 {
			errs.Add(d.path, "must be more than 0")
		}
	}
	if c.MaxValueBytes < 1024 {
		errs.Add("max_value_bytes", "must be at least 1KiB")
	}
	return errs.Err()
}

func (cc *ConnConfig) validate(errs *config.Errors, p string) {
	kinds := 0
	if cc.Addr != "" {
		kinds++
		hostPort(errs, p+".addr", cc.Addr)
	}
	if len(cc.Cluster) > 0 {
		kinds++
		for i, a := range cc.Cluster {
			hostPort(errs, p+".cluster["+strconv.Itoa(i)+"]", a)
		}
		if cc.DB != 0 {
			errs.Add(p+".db", "a cluster has only database 0")
		}
	}
	if s := cc.Sentinel; s != nil {
		kinds++
		if s.Master == "" {
			errs.Add(p+".sentinel.master", "required: the master name the sentinels monitor")
		}
		if len(s.Addrs) == 0 {
			errs.Add(p+".sentinel.addrs", "at least one sentinel address is required")
		}
		for i, a := range s.Addrs {
			hostPort(errs, p+".sentinel.addrs["+strconv.Itoa(i)+"]", a)
		}
	}
	switch kinds {
	case 0:
		errs.Add(p, "set one of addr (standalone), cluster (seed addresses) or sentinel")
	case 1:
	default:
		errs.Add(p, "set only one of addr, cluster or sentinel")
	}
	if cc.DB < 0 || cc.DB > 1023 {
		errs.Add(p+".db", "must be between 0 and 1023")
	}
	if cc.DialTimeout < 0 {
		errs.Add(p+".dial_timeout", "must not be negative")
	}
	if cc.CommandTimeout < 0 {
		errs.Add(p+".command_timeout", "must not be negative")
	}
	t := cc.TLS
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		errs.Add(p+".tls.enabled", "TLS settings are given but enabled is false")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs.Add(p+".tls", "cert_file and key_file go together")
	}
	for _, f := range []struct{ path, file string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if f.file == "" {
			continue
		}
		if _, err := os.Stat(f.file); err != nil {
			errs.Add(p+".tls."+f.path, "%v", err)
		}
	}
}

// readOnly reports whether the connection refuses writes: true unless the
// config says readonly: false.
func (cc *ConnConfig) readOnly() bool { return cc.ReadOnly == nil || *cc.ReadOnly }

// kind names the connection's kind: standalone, cluster or sentinel.
func (cc *ConnConfig) kind() string {
	switch {
	case len(cc.Cluster) > 0:
		return "cluster"
	case cc.Sentinel != nil:
		return "sentinel"
	}
	return "standalone"
}

func (cc *ConnConfig) dialTimeout() time.Duration {
	if cc.DialTimeout > 0 {
		return cc.DialTimeout.Std()
	}
	return defaultDialTimeout
}

func (cc *ConnConfig) commandTimeout() time.Duration {
	if cc.CommandTimeout > 0 {
		return cc.CommandTimeout.Std()
	}
	return defaultCommandTimeout
}

// names returns the connection names, sorted.
func (c *Config) names() []string {
	names := make([]string, 0, len(c.Connections))
	for n := range c.Connections {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func positiveInt(errs *config.Errors, path string, v, lo, hi int) {
	if v < lo || v > hi {
		errs.Add(path, "must be between %d and %d, got %d", lo, hi, v)
	}
}

func hostPort(errs *config.Errors, path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		errs.Add(path, "not a host:port address %q", addr)
	}
}
