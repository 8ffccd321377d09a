package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/sqlstore"
)

func command(env component.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Build the weekly report, or run the report part alone",
		Long: `Report alone runs the report part as dandan up would with only it enabled:
the schedule of report.schedule and the /reports page.

dandan report weekly builds one report now; see its --help.`,
		Example: `  dandan report weekly --out reports/
  dandan report --config dandan.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return env.RunAlone(cmd) },
	}
	cmd.AddCommand(weeklyCommand(env))
	return cmd
}

// weeklyFlags are the flags of `dandan report weekly`.
type weeklyFlags struct {
	job, from, to, out    string
	storeDir, url, tokenF string
	timezone              string
	noPDF                 bool
}

func weeklyCommand(env component.Env) *cobra.Command {
	var f weeklyFlags
	cmd := &cobra.Command{
		Use:   "weekly",
		Short: "Build the weekly report of one job or of all jobs, as HTML and PDF",
		Long: `Weekly builds the weekly report and writes weekly-<job|all>-<YYYY-MM-DD>.html
(self-contained: inline CSS and SVG charts) and the same .pdf (printed by
headless Chromium, A4) into --out. The date is the period's first day.

The period is the last full week, Monday 00:00 to Monday 00:00, unless
--from and --to say otherwise (a date, YYYY-MM-DD, is midnight in the
time zone; or RFC 3339). Every figure is compared with the period of the
same length just before.

Where the figures come from, one of:
  (default)    the config's metric store, <data_dir>/metrics, read while
               dandan is not running (the store is locked by a running
               dandan); alerts from <data_dir>/dandan.db when it exists.
               report.timezone, report.jobs and report.out of the config
               apply.
  --store-dir  that metric store directory, no config needed; alerts from
               dandan.db beside it when it exists.
  --url        a running dandan's API (GET /api/v1/query_range and
               /api/events) with the viewer token in --token-file.

Without --job the report covers every job (report.jobs when the config is
read), with a table of jobs; with --job, that job alone.`,
		Example: `  # last week, from the config's data dir, dandan stopped
  dandan report weekly --config dandan.yaml --out reports/
  # one job, a chosen week, from a running dandan
  dandan report weekly --job web --from 2026-03-02 --to 2026-03-09 \
      --url http://dandan:8080 --token-file viewer.token --out reports/
  # a copied store, no PDF
  dandan report weekly --store-dir backup/metrics --out /tmp/r --no-pdf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWeekly(cmd, env, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.job, "job", "", "report on this job alone; default: every job")
	fl.StringVar(&f.from, "from", "", "start of the period: YYYY-MM-DD (midnight) or RFC 3339; default: last Monday before this week")
	fl.StringVar(&f.to, "to", "", "end of the period, excluded; default: --from plus 7 days, or this week's Monday")
	fl.StringVar(&f.out, "out", "", "directory of the files; default: report.out of the config (required with --store-dir or --url)")
	fl.StringVar(&f.storeDir, "store-dir", "", "read this metric store directory instead of the config's")
	fl.StringVar(&f.url, "url", "", "ask a running dandan at this URL, such as http://127.0.0.1:8080")
	fl.StringVar(&f.tokenF, "token-file", "", "with --url: file holding a viewer token")
	fl.StringVar(&f.timezone, "timezone", "", "IANA time zone of days and times; default: report.timezone, or the host's")
	fl.BoolVar(&f.noPDF, "no-pdf", false, "write the HTML file only (no Chromium needed)")
	return cmd
}

// bigRetention keeps a store opened by the command from deleting blocks
// that dandan's own retention keeps.
const bigRetention = 100 * 365 * 24 * time.Hour

func runWeekly(cmd *cobra.Command, env component.Env, f weeklyFlags) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	stdout := cmd.OutOrStdout()
	if f.url != "" && f.storeDir != "" {
		return errors.New("give --url or --store-dir, not both")
	}
	if f.tokenF != "" && f.url == "" {
		return errors.New("--token-file goes with --url")
	}
	if f.job != "" && !jobRE.MatchString(f.job) {
		return fmt.Errorf("--job %q is not a job name", f.job)
	}
	var (
		q      Querier
		ev     EventLister
		cfg    = DefaultConfig()
		out    = f.out
		closer []io.Closer
	)
	defer func() {
		for _, c := range closer {
			c.Close()
		}
	}()
	switch {
	case f.url != "":
		rem := &Remote{URL: f.url}
		if f.tokenF != "" {
			b, err := os.ReadFile(f.tokenF)
			if err != nil {
				return fmt.Errorf("read token: %w", err)
			}
			rem.Token = strings.TrimSpace(string(b))
		}
		q, ev = rem, rem
	case f.storeDir != "":
		st, err := openStore(ctx, f.storeDir)
		if err != nil {
			return err
		}
		closer = append(closer, st)
		q = st
		if ev, err = openEvents(ctx, filepath.Dir(f.storeDir), &closer); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "alerts left out: %v\n", err)
		}
	default:
		c, dataDir, err := env.Section(cmd)
		if err != nil {
			return err
		}
		cfg = c.(*Config)
		if out == "" {
			out = cfg.Out
			if out == "" {
				out = filepath.Join(dataDir, "reports")
			}
		}
		st, err := openStore(ctx, filepath.Join(dataDir, "metrics"))
		if err != nil {
			return err
		}
		closer = append(closer, st)
		q = st
		if ev, err = openEvents(ctx, dataDir, &closer); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "alerts left out: %v\n", err)
		}
	}
	if out == "" {
		return errors.New("--out is required with --store-dir or --url")
	}
	loc := cfg.Location()
	if f.timezone != "" {
		var err error
		if loc, err = loadLocation(f.timezone); err != nil {
			return fmt.Errorf("--timezone: %w", err)
		}
	}
	from, to, err := period(f.from, f.to, time.Now(), loc)
	if err != nil {
		return err
	}
	opts := Options{Job: f.job, Jobs: cfg.Jobs, From: from, To: to, Location: loc}
	var pr *Printer
	if !f.noPDF {
		pr = &Printer{Chromium: cfg.Chromium}
	}
	start := time.Now()
	w, files, err := Generate(ctx, q, ev, opts, out, pr)
	for _, p := range files {
		fmt.Fprintln(stdout, p)
	}
	if err != nil {
		return err
	}
	for _, n := range w.Notes {
		fmt.Fprintln(cmd.ErrOrStderr(), n)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "weekly report of %s built in %s (queries %s)\n",
		fmtPeriod(w.From, w.To.Add(-time.Nanosecond)), time.Since(start).Round(time.Millisecond), w.Took.Round(time.Millisecond))
	return nil
}

// period reads --from and --to; both empty is the last full week.
func period(fromS, toS string, now time.Time, loc *time.Location) (from, to time.Time, err error) {
	from, to = LastWeek(now, loc)
	if fromS != "" {
		if from, err = parseWhen(fromS, loc); err != nil {
			return from, to, fmt.Errorf("--from: %w", err)
		}
		to = from.AddDate(0, 0, 7)
	}
	if toS != "" {
		if to, err = parseWhen(toS, loc); err != nil {
			return from, to, fmt.Errorf("--to: %w", err)
		}
		if fromS == "" {
			from = to.AddDate(0, 0, -7)
		}
	}
	if !to.After(from) {
		return from, to, fmt.Errorf("--to %s is not after --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return from, to, nil
}

func parseWhen(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%q: want YYYY-MM-DD or RFC 3339 (2026-03-02T00:00:00+01:00)", s)
	}
	return t.In(loc), nil
}

// openStore opens an existing metric store for reading.
func openStore(ctx context.Context, dir string) (*metricstore.Store, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("no metric store at %s: give --store-dir, or --url of a running dandan", dir)
	}
	st, err := metricstore.Open(ctx, dir, metricstore.Options{Retention: bigRetention})
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("the metric store %s is in use (dandan is running): ask it instead with --url http://HOST:PORT --token-file FILE", dir)
	}
	return st, err
}

// openEvents opens the event log of the default SQLite store in dataDir,
// when it exists.
func openEvents(ctx context.Context, dataDir string, closer *[]io.Closer) (EventLister, error) {
	path := filepath.Join(dataDir, "dandan.db")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no event log at %s (with PostgreSQL as the SQL store, use --url)", path)
	}
	db, err := sqlstore.Open(ctx, "", dataDir)
	if err != nil {
		return nil, err
	}
	*closer = append(*closer, db)
	return events.New(db, nil), nil
}
