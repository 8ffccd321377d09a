package component

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/sqlstore"
	"github.com/dandan-sre/dandan/internal/ui"
)

// Component is a running part.
//
// Its life: Part.New builds it from Deps and its config without I/O; Start
// returns once it serves (an error stops `dandan up`); Mount registers its
// routes and pages, each with a role; Stop drains by ctx's deadline and is
// safe to call after a failed Start.
type Component interface {
	Name() string                    // "relay": config key, URL segment, log value
	Start(ctx context.Context) error // returns once serving
	Stop(ctx context.Context) error  // drains by ctx deadline; safe after failed Start
	Mount(m *httpapi.Mux)            // routes and pages, each with a role
}

// Readier is implemented by components that can tell whether they work
// right now; a non-nil error shows on /readyz and the status page.
type Readier interface {
	Ready() error
}

// Reloader is implemented by components that take a new config section
// while running, on SIGHUP and POST /api/config/reload.
//
// Reload gets the component's whole section, decoded and valid, of the
// type its Part.NewConfig returns. It is called on every reload, also
// when the section is unchanged, so that the files a section names (rule
// files, a folder) are read again. What it cannot apply while running it
// leaves as it was and names in restart, by key path within the section
// ("alerting.external_url"); err says what failed to apply, which keeps
// what was in force. Reloads are never concurrent with each other, Start
// or Stop.
type Reloader interface {
	Reload(ctx context.Context, cfg Config) (restart []string, err error)
}

// Config is a part's config section; its defaults come from Part.NewConfig.
type Config = config.Validator

// Part describes one part of dandan: everything needed to configure it,
// build it and offer its command. parts.All lists them.
type Part struct {
	Name    string // config key, URL segment, command name
	Summary string // one line for the UI and `dandan --help`
	// Example is the part's commented section of the example config.
	Example   string
	NewConfig func() Config                         // defaults; Validate reports by key path; nil: no section
	New       func(Deps, Config) (Component, error) // no I/O until Start; nil for a command-only part
	// Command returns the part's own command, `dandan <name>`, given what
	// the command needs from the CLI: running the part alone (with the
	// shared pieces: server, UI, store) as `up` would with only this part
	// enabled, and loading the part's config section. Nil gets a plain
	// `dandan <name>` that runs the part alone.
	Command func(env Env) *cobra.Command
}

// Env is what a part's command gets from the CLI.
type Env struct {
	// RunAlone runs only this part until SIGINT or SIGTERM.
	RunAlone RunAlone
	// Section loads the config named by cmd's --config and returns the
	// part's section, decoded and valid, with the whole config's data
	// dir; problems are printed already and the error is for the exit code.
	Section func(cmd *cobra.Command) (c Config, dataDir string, err error)
}

// RunAlone loads the config named by cmd's --config and runs only the part
// it was made for until SIGINT or SIGTERM.
type RunAlone func(cmd *cobra.Command) error

// Deps is what a part gets from the shared pieces, each labelled for it.
type Deps struct {
	Logger     *slog.Logger          // with part=<name>
	DataDir    string                // the part's own directory under data_dir
	Registerer prometheus.Registerer // dandan's registry
	SQL        sqlstore.Store        // the shared SQL store; usable from Start on
	// Metrics appends samples to the embedded metric store; usable from
	// Start on. Nil when store.metrics.enabled is false.
	Metrics metricstore.Appendable
	// Query answers PromQL instant queries on the embedded store; usable
	// from Start on. Nil when store.metrics.enabled is false.
	Query metricstore.Querier
	// Events records what the part did on dandan's shared time axis
	// (alerts, outages, actions); usable from Start on.
	Events events.Recorder
	// UI renders pages in the shared layout: parse the part's templates
	// with UI.Parse in New, render them from the part's page handlers.
	UI *ui.UI
}
