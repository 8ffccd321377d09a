package redis

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/sqlstore"
	"github.com/dandan-sre/dandan/internal/ui"
)

//go:embed templates
var templatesFS embed.FS

// example is the part's commented section of the example config.
const example = `# Redis inspector: search keys, view values, clients, cluster, INFO,
# CONFIG, slow log and big keys of named connections, in the browser and
# the API. Read-only unless a connection says readonly: false; writes need
# the operator role and are kept in an audit log.
# redis:
#   connections:
#     local:
#       addr: 127.0.0.1:6379          # standalone
#     # cache:
#     #   cluster: [10.0.0.1:6379, 10.0.0.2:6379]   # seed addresses
#     #   username: inspector           # ACL user
#     #   password: ${REDIS_PASSWORD}
#     #   tls: {enabled: true, ca_file: /etc/ssl/redis-ca.pem}
#     # sessions:
#     #   sentinel: {master: mymaster, addrs: [10.0.0.5:26379]}
#     #   db: 0
#     #   readonly: false               # allow delete, TTL and edits
#     #   dial_timeout: 5s
#     #   command_timeout: 3s
#   scan_count: 1000          # COUNT of each SCAN: the work of one call
#   search_budget: 2s         # a search page answers after this long
#   parallel_nodes: 8         # cluster nodes scanned at once
#   search_ttl: 10m           # an idle search cursor expires
#   page_size: 100            # elements of a value per page
#   max_value_bytes: 256KiB   # of a string read at once
#   topology_max_age: 10m     # cluster map reloads on MOVED/ASK, reconnects, unknown nodes, or after this
#   bigkeys:
#     rate: 2000              # keys per second per node
#     batch: 20               # SCAN COUNT and pipeline size per step
#     top: 10                 # keys kept per type and measure
`

// Part returns the Redis inspector part.
func Part() component.Part {
	return component.Part{
		Name:      "redis",
		Summary:   "Search keys and view values, clients, cluster, INFO, slow log and big keys of Redis and Redis Cluster",
		Example:   example,
		NewConfig: func() component.Config { return DefaultConfig() },
		New: func(d component.Deps, c component.Config) (component.Component, error) {
			return New(d, c.(*Config))
		},
	}
}

// Redis is the running inspector.
type Redis struct {
	cfg   *Config
	log   *slog.Logger
	sql   sqlstore.Store
	pages *ui.Pages
	names []string
	conns map[string]*Conn
	big   map[string]*bigKeys
	ss    *searches
}

var (
	_ component.Component = (*Redis)(nil)
	_ component.Readier   = (*Redis)(nil)
)

// pageFiles are the part's page templates.
func pageFiles() []string {
	return []string{"index.html", "search.html", "results.html", "key.html", "items.html", "done.html",
		"clients.html", "cluster.html", "info.html", "config.html", "slowlog.html", "bigkeys.html"}
}

// goredisLog is where go-redis's own messages go (a sentinel's master
// switch, a failed pub/sub): the log of the newest part, not stderr.
var (
	goredisLog     atomic.Pointer[slog.Logger]
	goredisLogOnce sync.Once
)

type goredisLogger struct{}

func (goredisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := goredisLog.Load(); l != nil {
		l.InfoContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
	}
}

// New builds the inspector from its config; it dials nothing.
func New(d component.Deps, cfg *Config) (*Redis, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	goredisLog.Store(d.Logger)
	goredisLogOnce.Do(func() { goredis.SetLogger(goredisLogger{}) })
	p := &Redis{cfg: cfg, log: d.Logger, sql: d.SQL, names: cfg.names(), conns: map[string]*Conn{}, big: map[string]*bigKeys{},
		ss: &searches{ttl: cfg.SearchTTL.Std(), max: 64, byID: map[string]*search{}}}
	for _, n := range p.names {
		c, err := newConn(n, cfg.Connections[n], cfg.TopologyMaxAge.Std(), d.Logger.With("conn", n))
		if err != nil {
			return nil, err
		}
		p.conns[n] = c
		p.big[n] = newBigKeys(c, cfg.BigKeys)
	}
	if d.UI != nil {
		sub, err := fs.Sub(templatesFS, "templates")
		if err != nil {
			return nil, err
		}
		pfs, err := withPartials(sub, "partials.tmpl")
		if err != nil {
			return nil, err
		}
		if p.pages, err = d.UI.Parse(pfs, pageFiles()...); err != nil {
			return nil, fmt.Errorf("parse redis pages: %w", err)
		}
	}
	return p, nil
}

// Name implements component.Component.
func (p *Redis) Name() string { return "redis" }

// Start prepares the audit log. Redis servers are dialled on first use, so
// that one that is down does not stop dandan.
func (p *Redis) Start(ctx context.Context) error {
	if p.sql != nil {
		if err := p.sql.Migrate(ctx, "redis", auditMigrations()); err != nil {
			return err
		}
	}
	return nil
}

// Ready implements component.Readier: the inspector itself is ready once
// started; each connection's health shows on its page.
func (p *Redis) Ready() error { return nil }

// Stop cancels searches and big-keys scans and closes the connections.
func (p *Redis) Stop(ctx context.Context) error {
	p.ss.stopAll()
	var errs []error
	for _, n := range p.names {
		if err := p.big[n].stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop big-keys scan of %s: %w", n, err))
		}
		if err := p.conns[n].close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// Mount implements component.Component.
func (p *Redis) Mount(m *httpapi.Mux) {
	p.mountAPI(m)
	p.mountPages(m)
}
