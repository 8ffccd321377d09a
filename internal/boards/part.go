package boards

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dandan-sre/dandan/internal/alerting"
	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/ui"
)

//go:embed templates
var templatesFS embed.FS

const example = `# Boards: dashboards of PromQL panels, a built-in board per access-log
# job (service-<job>), and the TV wall board at /tv. Boards are YAML in
# the folder below (one per file, in git) or made in the UI.
boards:
  folder: boards           # *.yaml boards; missing folder: none
  refresh: 30s             # how often panels reload
  # services:              # capacity for the service boards' "capacity used"
  #   web: {rps_per_instance: 500, instances: 4}
  tv:
    playlist: []           # boards /tv rotates through; empty: every service board
    interval: 30s          # time on each board
    refresh: 15s
  alerting:
    rule_files: []         # Prometheus rule files (globs), evaluated in-process
    interval: 30s
    repeat_interval: 4h    # webhooks hear of a firing alert again this often
    webhooks: []           # Alertmanager-style webhook receivers
    #  - {name: oncall, url: https://hooks.example/alerts, bearer_token: ${HOOK_TOKEN}}
    alertmanager_url: ""   # also send to a real Alertmanager
  # boards:                # boards may also be written here (write $$ for PromQL's $)
  #   - name: edge
  #     title: Edge
  #     panels:
  #       - {title: Requests per second, kind: stat, unit: req/s, queries: [{expr: 'sum(rate(http_requests_total[1m]))'}]}
`

// Part returns the boards part.
func Part() component.Part {
	return component.Part{
		Name:      "boards",
		Summary:   "Dashboards, a built-in board per service, and the TV wall board",
		Example:   example,
		NewConfig: func() component.Config { return DefaultConfig() },
		New: func(d component.Deps, c component.Config) (component.Component, error) {
			return New(d, c.(*Config))
		},
	}
}

// Boards is the running part.
type Boards struct {
	deps  component.Deps
	log   *slog.Logger
	pages *ui.Pages
	sql   sqlBoards

	alerts *alerting.Engine

	reloadMu sync.Mutex // serializes reading the folder and Reload

	mu       sync.Mutex // guards the fields below
	cfg      *Config    // replaced whole by Reload; read it with config
	folder   []*Board
	ferr     []string
	jobsList []string  // the jobs last found
	jobsAt   time.Time // when
}

var (
	_ component.Component = (*Boards)(nil)
	_ component.Reloader  = (*Boards)(nil)
)

// New builds the part; no I/O.
func New(d component.Deps, cfg *Config) (*Boards, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Boards{cfg: cfg, deps: d, log: d.Logger, sql: sqlBoards{d.SQL}}
	var store alerting.RuleStore // nil when store.metrics.enabled is false
	if rs, ok := d.Query.(alerting.RuleStore); ok {
		store = rs
	}
	eng, err := alerting.New(alerting.Options{Config: cfg.Alerting, Metrics: store, Events: d.Events, SQL: d.SQL,
		Logger: d.Logger.With("component", "alerting"), Registerer: d.Registerer,
		QueryLink: func(expr string) string { return "/watch/query?q=" + url.QueryEscape(expr) }})
	if err != nil {
		return nil, err
	}
	b.alerts = eng
	if d.UI != nil {
		sub, err := fs.Sub(templatesFS, "templates")
		if err != nil {
			return nil, err
		}
		if b.pages, err = d.UI.ParseWith(sub, []string{"panels.tmpl"}, "index.html", "board.html", "panel.html", "tv.html", "edit.html", "alerts.html"); err != nil {
			return nil, fmt.Errorf("parse boards pages: %w", err)
		}
	}
	return b, nil
}

// Name returns "boards".
func (b *Boards) Name() string { return "boards" }

// Start prepares the SQL table and reads the boards folder.
func (b *Boards) Start(ctx context.Context) error {
	if b.deps.SQL != nil {
		if err := b.deps.SQL.Migrate(ctx, "boards", migrations()); err != nil {
			return err
		}
	}
	b.reload()
	return b.alerts.Start(ctx)
}

// Stop stops evaluating alert rules, letting queued notifications out by
// ctx's deadline.
func (b *Boards) Stop(ctx context.Context) error { return b.alerts.Stop(ctx) }

// config returns the section in force.
func (b *Boards) config() *Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg
}

// Reload takes a new boards section while running: its boards, services
// and TV settings take effect, the folder it names is read again, and the
// alerting engine gets its alerting config (see alerting.Engine.Configure:
// a rule file that does not load leaves the rules in force). Boards saved
// in the SQL store are untouched. A board file that does not load is
// skipped, as at start, and named in err.
func (b *Boards) Reload(ctx context.Context, c component.Config) (restart []string, err error) {
	cfg, ok := c.(*Config)
	if !ok {
		return nil, fmt.Errorf("boards: reload with a %T section, want a *boards.Config", c)
	}
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	folder, problems := readFolder(cfg.Folder)
	b.mu.Lock()
	b.cfg, b.folder, b.ferr = cfg, folder, problems
	b.mu.Unlock()
	var errs []error
	for _, p := range problems {
		errs = append(errs, fmt.Errorf("board not loaded: %s", p))
	}
	keys, err := b.alerts.Configure(ctx, cfg.Alerting)
	for _, k := range keys {
		restart = append(restart, "alerting."+k)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("alerting: %w", err))
	}
	return restart, errors.Join(errs...)
}

// reload reads the folder's boards; a bad file is reported and skipped.
func (b *Boards) reload() []string {
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	boards, problems := readFolder(b.config().Folder)
	for _, p := range problems {
		b.log.Warn("board not loaded", "err", p)
	}
	b.mu.Lock()
	b.folder, b.ferr = boards, problems
	b.mu.Unlock()
	return problems
}

// readFolder reads the boards of dir, one a file; a file that does not
// load is skipped and named in problems. A missing dir has no boards.
func readFolder(dir string) (boards []*Board, problems []string) {
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			problems = append(problems, err.Error())
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
				continue
			}
			path := filepath.Join(dir, name)
			data, err := os.ReadFile(path)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			var bd Board
			if err := config.DecodeDocument(path, data, &bd); err != nil {
				problems = append(problems, err.Error())
				continue
			}
			bd.source = "folder " + path
			boards = append(boards, &bd)
		}
	}
	return boards, problems
}

// all returns every board: from the config, the folder, the SQL store and
// the built-in service boards, the first of a name winning in that order.
func (b *Boards) all(ctx context.Context) []*Board {
	var out []*Board
	seen := map[string]bool{}
	add := func(bs ...*Board) {
		for _, bd := range bs {
			if !seen[bd.Name] {
				seen[bd.Name] = true
				out = append(out, bd)
			}
		}
	}
	b.mu.Lock()
	cfg, folder := b.cfg, b.folder
	b.mu.Unlock()
	add(cfg.Boards...)
	add(folder...)
	if b.deps.SQL != nil {
		if ui, err := b.sql.list(ctx); err == nil {
			add(ui...)
		} else {
			b.log.Warn("listing boards failed", "err", err)
		}
	}
	for _, job := range b.jobs(ctx) {
		add(serviceBoard(job, cfg.Services[job]))
	}
	return out
}

// jobs returns the access-log jobs the store has, asked at most every
// 30 s (every page and panel request needs them).
func (b *Boards) jobs(ctx context.Context) []string {
	if b.deps.Query == nil {
		return nil
	}
	b.mu.Lock()
	if time.Since(b.jobsAt) < 30*time.Second {
		jobs := b.jobsList
		b.mu.Unlock()
		return jobs
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	vals, err := b.deps.Query.QueryInstant(ctx, `count by (job) (last_over_time(http_requests_total[1d]))`, time.Now())
	if err != nil {
		return nil
	}
	var jobs []string
	for _, v := range vals {
		if j := v.Labels.Get("job"); j != "" && boardName.MatchString("service-"+j) {
			jobs = append(jobs, j)
		}
	}
	sort.Strings(jobs)
	b.mu.Lock()
	b.jobsList, b.jobsAt = jobs, time.Now()
	b.mu.Unlock()
	return jobs
}

// board returns the board called name, looked up in all's order without
// listing every board (each panel of a page asks for its board).
func (b *Boards) board(ctx context.Context, name string) (*Board, error) {
	b.mu.Lock()
	cfg, folder := b.cfg, b.folder
	b.mu.Unlock()
	for _, bd := range cfg.Boards {
		if bd.Name == name {
			return bd, nil
		}
	}
	for _, bd := range folder {
		if bd.Name == name {
			return bd, nil
		}
	}
	if b.deps.SQL != nil {
		bd, err := b.sql.get(ctx, name)
		if err == nil {
			return bd, nil
		}
		if !errors.Is(err, errNoBoard) {
			b.log.Warn("reading a board failed", "board", name, "err", err)
		}
	}
	if job, ok := strings.CutPrefix(name, "service-"); ok && slices.Contains(b.jobs(ctx), job) {
		return serviceBoard(job, cfg.Services[job]), nil
	}
	return nil, errNoBoard
}

// playlist returns the TV's boards.
func (b *Boards) playlist(ctx context.Context) []string {
	if pl := b.config().TV.Playlist; len(pl) > 0 {
		return pl
	}
	var out []string
	for _, bd := range b.all(ctx) {
		if bd.source == "built-in" {
			out = append(out, bd.Name)
		}
	}
	if len(out) == 0 {
		for _, bd := range b.all(ctx) {
			out = append(out, bd.Name)
		}
	}
	return slices.Clip(out)
}
