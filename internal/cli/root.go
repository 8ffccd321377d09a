package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/parts"
)

// Run runs the command line args (args[0] is the program) and returns the
// exit code: 0 ok, 1 failure, 2 bad config or usage.
func Run(ctx context.Context, args []string) int {
	return New(parts.All(), os.Stdout, os.Stderr).Run(ctx, args[1:])
}

// App is the command line over a list of parts.
type App struct {
	parts          []component.Part
	stdout, stderr io.Writer
}

// New returns the command line for parts.
func New(ps []component.Part, stdout, stderr io.Writer) *App {
	return &App{parts: ps, stdout: stdout, stderr: stderr}
}

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Run runs args and returns the exit code.
func (a *App) Run(ctx context.Context, args []string) int {
	root := a.root()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	} else if strings.HasPrefix(err.Error(), "unknown command") {
		code = 2 // usage
	}
	if ee == nil || ee.err != errSilent {
		fmt.Fprintf(a.stderr, "dandan: %v\n", err)
	}
	return code
}

// errSilent marks a failure whose message was printed already.
var errSilent = errors.New("failed")

func (a *App) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "dandan",
		Short: "dandan (단단) is an SRE toolbox for web and media services in one binary",
		Long: `dandan (단단, "solid") is an SRE toolbox for teams that run web and media
services: metrics from access logs to a TV wall board, a Redis inspector,
shadow traffic, static fallback, API mocks, traffic forecasts, ChatOps and
headless-browser page checks. One binary, one config, one web UI.`,
		Example: `  dandan up --config examples/dandan.yaml   # run every enabled part behind one UI
  dandan config example > dandan.yaml        # start a config
  dandan config check dandan.yaml            # check it, every problem at once`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: 2, err: fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.PersistentFlags().StringP("config", "c", envOr("DANDAN_CONFIG", "dandan.yaml"), "config file (env DANDAN_CONFIG)")
	root.AddCommand(a.upCmd(), a.versionCmd(), a.configCmd())
	for _, p := range a.parts {
		run := a.runAlone(p.Name)
		if p.Command != nil {
			root.AddCommand(p.Command(component.Env{RunAlone: run, Section: a.section(p.Name)}))
			continue
		}
		if p.New == nil {
			continue
		}
		root.AddCommand(&cobra.Command{
			Use:     p.Name,
			Short:   "Run the " + p.Name + " part alone: " + p.Summary,
			Example: "  dandan " + p.Name + " --config dandan.yaml",
			Args:    cobra.NoArgs,
			RunE:    func(cmd *cobra.Command, _ []string) error { return run(cmd) },
		})
	}
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (a *App) schemas() []config.PartSchema {
	var out []config.PartSchema
	for _, p := range a.parts {
		if p.NewConfig != nil {
			out = append(out, config.PartSchema{Name: p.Name, NewConfig: p.NewConfig})
		}
	}
	return out
}

// load reads the config named by --config, printing every problem.
func (a *App) load(cmd *cobra.Command, path string) (*config.Config, error) {
	if path == "" {
		path, _ = cmd.Flags().GetString("config")
	}
	cfg, err := config.LoadFile(path, config.Options{Parts: a.schemas()})
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(a.stderr, "%v\nstart one with: dandan config example > %s\n", err, path)
		return nil, &exitError{code: 2, err: errSilent}
	}
	if err != nil {
		fmt.Fprintln(a.stderr, err)
		var le *config.LoadError
		if errors.As(err, &le) {
			fmt.Fprintf(a.stderr, "%s: %d problem(s)\n", path, len(le.Problems))
		}
		return nil, &exitError{code: 2, err: errSilent}
	}
	return cfg, nil
}

// section returns a function that loads the config and returns part
// name's section: `dandan watch --once` checks it without running.
func (a *App) section(name string) func(cmd *cobra.Command) (component.Config, string, error) {
	return func(cmd *cobra.Command) (component.Config, string, error) {
		cfg, err := a.load(cmd, "")
		if err != nil {
			return nil, "", err
		}
		sec, ok := cfg.Parts[name]
		if !ok {
			return nil, "", &exitError{code: 2, err: fmt.Errorf("%s has no %s section: add one (dandan config example shows it)", cfg.File, name)}
		}
		return sec.Config, cfg.DataDir, nil
	}
}
