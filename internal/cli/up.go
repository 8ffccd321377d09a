package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/dandan-sre/dandan/internal/buildinfo"
	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/server"
	"github.com/dandan-sre/dandan/internal/sqlstore"
)

func (a *App) upCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Run every part the config enables, behind one web UI and HTTP API",
		Long: `Up loads the config, opens the SQL store, starts every enabled part in
order and serves the web UI and the API. It prints the URL to open (with a
one-time login link when a login is needed). SIGINT or SIGTERM stops it:
requests in flight finish and parts stop in reverse order within
server.shutdown_timeout. SIGHUP (or POST /api/config/reload) reads the
config again: an invalid one changes nothing; a valid one reloads the
parts that can take their new section (boards: boards, folder, alert
rules and receivers) and log.level, and names what needs a restart.`,
		Example: `  dandan up --config examples/dandan.yaml
  DANDAN_CONFIG=/etc/dandan/dandan.yaml dandan up`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.load(cmd, "")
			if err != nil {
				return err
			}
			return a.upUntilSignal(cmd, cfg, "")
		},
	}
}

// upUntilSignal runs cfg until SIGINT or SIGTERM; only, when set, is the
// one part run alone.
func (a *App) upUntilSignal(cmd *cobra.Command, cfg *config.Config, only string) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	return a.up(ctx, cfg, only)
}

// runAlone returns the component.RunAlone of the part name: `up` with only
// that part enabled, whatever else the config enables.
func (a *App) runAlone(name string) component.RunAlone {
	return func(cmd *cobra.Command) error {
		cfg, err := a.load(cmd, "")
		if err != nil {
			return err
		}
		if err := alone(cfg, name); err != nil {
			return &exitError{code: 2, err: err}
		}
		return a.upUntilSignal(cmd, cfg, name)
	}
}

// alone leaves in cfg only the section of part name, enabled.
func alone(cfg *config.Config, name string) error {
	sec, ok := cfg.Parts[name]
	if !ok {
		return fmt.Errorf("%s has no %s section: add one (dandan config example shows it)", cfg.File, name)
	}
	sec.Enabled = true
	cfg.Parts = map[string]config.PartSection{name: sec}
	return nil
}

// loadAgain reads the config file at path again for a reload, as it was
// read at start; only, when set, is the one part run alone.
func (a *App) loadAgain(path, only string) (*config.Config, error) {
	cfg, err := config.LoadFile(path, config.Options{Parts: a.schemas()})
	if err != nil {
		return nil, err
	}
	if only != "" {
		if err := alone(cfg, only); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// newLogger returns the log of cfg at level, which a reload may change.
func newLogger(cfg config.Log, level *slog.LevelVar, w *os.File) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(cfg.Level))
	level.Set(l)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// storeComponent shows the SQL store among the components: ready while it
// answers a ping; closed last.
type storeComponent struct{ db *sqlstore.DB }

func (s storeComponent) Name() string                    { return "store" }
func (s storeComponent) Start(ctx context.Context) error { return s.db.Start(ctx) }
func (s storeComponent) Stop(context.Context) error      { return s.db.Close() }
func (s storeComponent) Mount(*httpapi.Mux)              {}
func (s storeComponent) Ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		return fmt.Errorf("sql store %s: %w", s.db.Redacted(), err)
	}
	return nil
}

var _ component.Readier = storeComponent{}

// eventsComponent prepares the event log and records dandan's own start
// and stop on it.
type eventsComponent struct {
	s       *events.Store
	version string
}

func (e eventsComponent) Name() string       { return "events" }
func (e eventsComponent) Mount(*httpapi.Mux) {}
func (e eventsComponent) Start(ctx context.Context) error {
	if err := e.s.Migrate(ctx); err != nil {
		return err
	}
	_, err := e.s.Record(ctx, events.Event{Part: "dandan", Kind: "start", Text: "dandan " + e.version + " started"})
	return err
}
func (e eventsComponent) Stop(ctx context.Context) error {
	_, err := e.s.Record(ctx, events.Event{Part: "dandan", Kind: "stop", Text: "dandan stopped"})
	return err
}

func (a *App) up(ctx context.Context, cfg *config.Config, only string) error {
	level := new(slog.LevelVar)
	log := newLogger(cfg.Log, level, os.Stderr)
	info := buildinfo.Get()
	log.Info("starting", "version", info.Version, "file", cfg.File)
	// SIGHUP reloads the config once dandan is up; one that comes while
	// it starts waits until then.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dandan_build_info", Help: "Build information of the running dandan; always 1."},
		[]string{"version", "revision", "goversion"})
	bi.WithLabelValues(info.Version, info.Revision, info.GoVersion).Set(1)
	reg.MustRegister(bi)

	db, err := sqlstore.New(cfg.Store.SQL.URL.Reveal(), cfg.DataDir)
	if err != nil {
		return err
	}

	// The shared components: the SQL store, the event log, then the
	// metric store.
	evs := events.New(db, log.With("part", "events"))
	shared := []component.Component{storeComponent{db}, eventsComponent{evs, info.Version}}
	var metrics *metricstore.Service
	var appendable metricstore.Appendable // nil, not a nil *Service, when off
	var querier metricstore.Querier
	if m := cfg.Store.Metrics; m.Enabled {
		metrics = metricstore.NewService(filepath.Join(cfg.DataDir, "metrics"), metricstore.Options{
			Retention:     m.Retention.Std(),
			RetentionSize: int64(m.RetentionSize),
			QueryTimeout:  m.QueryTimeout.Std(),
			Logger:        log.With("part", "metrics"),
			Registerer:    reg,
		})
		shared = append(shared, metrics)
		appendable, querier = metrics, metrics
	}
	runner := component.NewRunner(log, shared)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dandan_ready", Help: "1 when every component is ready, else 0."}, func() float64 {
		if runner.Ready() != nil {
			return 0
		}
		return 1
	}))
	var infos []server.PartInfo
	for _, p := range a.parts {
		if p.New == nil {
			continue // a command-only part (e.g. a one-shot tool) runs no component
		}
		sec, ok := cfg.Parts[p.Name]
		infos = append(infos, server.PartInfo{Name: p.Name, Summary: p.Summary, Example: p.Example, Enabled: ok && sec.Enabled})
	}
	srv, err := server.New(server.Options{Config: cfg, Logger: log, Registry: reg, SQL: db, Status: runner, Parts: infos, Version: info.Version})
	if err != nil {
		db.Close()
		return err
	}
	if metrics != nil {
		metrics.Mount(srv.Mux())
	}
	evs.Mount(srv.Mux())
	rl := &configReloader{
		load:   func() (*config.Config, error) { return a.loadAgain(cfg.File, only) },
		log:    log,
		level:  level,
		events: evs,
		parts:  a.parts,
		comps:  map[string]component.Component{},
		cur:    cfg,
	}
	srv.Mux().API("POST /api/config/reload", httpapi.Admin, rl.apiReload)
	for _, p := range a.parts {
		sec, ok := cfg.Parts[p.Name]
		if p.New == nil || !ok || !sec.Enabled {
			continue
		}
		deps := component.Deps{
			Logger:     log.With("part", p.Name),
			DataDir:    filepath.Join(cfg.DataDir, p.Name),
			Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"part": p.Name}, reg),
			SQL:        db,
			Metrics:    appendable,
			Query:      querier,
			Events:     evs,
			UI:         srv.UI(),
		}
		c, err := p.New(deps, sec.Config)
		if err != nil {
			db.Close()
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		c.Mount(srv.Mux())
		runner.Add(c)
		rl.comps[p.Name] = c
	}
	if err := srv.Listen(); err != nil {
		db.Close()
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()

	drain := cfg.Server.ShutdownTimeout.Std()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	hupDone := make(chan struct{})
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
		defer cancel()
		var errs []error
		if err := srv.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("drain HTTP requests: %w", err))
		}
		// A reload in progress finishes before the parts stop.
		stopWatch()
		<-hupDone
		rl.close()
		if err := runner.Stop(sctx); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}

	startErr := runner.Start(ctx)
	if startErr == nil {
		if startErr = srv.Start(ctx); startErr != nil {
			startErr = fmt.Errorf("prepare sessions: %w", startErr)
			_ = runner.Stop(context.WithoutCancel(ctx))
		}
	}
	if startErr != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if ctx.Err() != nil {
			log.Info("stopped while starting")
			return nil // a signal during start is a stop, not a failure
		}
		return startErr
	}
	srv.Open()
	a.banner(srv, info)
	log.Info("ready", "addr", srv.Addr().String())
	go runner.Watch(watchCtx, 5*time.Second)
	go func() {
		defer close(hupDone)
		rl.onSIGHUP(watchCtx, hup)
	}()

	select {
	case <-ctx.Done():
		log.Info("stopping", "drain_s", drain.Seconds())
	case err := <-serveErr:
		_ = shutdown()
		return fmt.Errorf("serve HTTP: %w", err)
	}
	t0 := time.Now()
	if err := shutdown(); err != nil {
		return err
	}
	log.Info("stopped", "duration_s", time.Since(t0).Seconds())
	return nil
}

// banner tells the person who ran `dandan up` where to go. It goes to the
// terminal, not the log: the login link is a one-time secret.
func (a *App) banner(srv *server.Server, info buildinfo.Info) {
	url := srv.URL()
	fmt.Fprintf(a.stderr, "\n  dandan %s is up: %s\n", info.Version, url)
	if srv.Auth().NeedsLogin() && srv.LoginLinkEnabled() {
		fmt.Fprintf(a.stderr, "  One-time login link (admin, 15 minutes): %slogin?ticket=%s\n", url, srv.Auth().NewTicket(15*time.Minute))
	}
	fmt.Fprintln(a.stderr)
}
