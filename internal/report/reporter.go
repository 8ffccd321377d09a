package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/ui"
)

// Reporter is the report part's component: it builds the weekly reports
// on the configured schedule (and when asked on its page), keeps the
// newest weeks of files, and serves them.
type Reporter struct {
	cfg     *Config
	log     *slog.Logger
	query   Querier
	events  EventLister     // nil: reports say alerts are not available
	rec     events.Recorder // nil: runs are not recorded
	out     string
	printer *Printer
	pages   *ui.Pages
	now     func() time.Time

	runs    *prometheus.CounterVec
	lastOK  prometheus.Gauge
	lastDur prometheus.Gauge

	ctx    context.Context // ends at Stop; runs use it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex // guards state
	state RunState
}

// RunState is the state of the run in progress, or of the last one.
type RunState struct {
	Running  bool
	Reason   string    // schedule, catch-up, page
	From, To time.Time // the week
	Started  time.Time
	Took     time.Duration
	Err      string
	Files    []string // names written
}

// errRunning refuses a second run while one is in progress.
var errRunning = errors.New("a report is being built already")

// New builds the component. It needs the embedded metric store
// (Deps.Query): without it, it serves the page and says so (Ready and
// every run fail with the setting to change). It reads alerts from the
// event log when Deps.Events can list.
func New(d component.Deps, cfg *Config) (*Reporter, error) {
	q, _ := d.Query.(Querier)
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := cfg.Out
	if out == "" {
		// <data_dir>/reports: DataDir is the part's own <data_dir>/report.
		out = filepath.Join(filepath.Dir(d.DataDir), "reports")
	}
	r := &Reporter{cfg: cfg, log: log, query: q, rec: d.Events, out: out, printer: &Printer{Chromium: cfg.Chromium, Timeout: 10 * time.Minute}, now: time.Now}
	if ev, ok := d.Events.(EventLister); ok {
		r.events = ev
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if d.UI != nil {
		sub, err := fs.Sub(templatesFS, "templates")
		if err != nil {
			return nil, err
		}
		if r.pages, err = d.UI.Parse(sub, "reports.html"); err != nil {
			return nil, fmt.Errorf("parse report pages: %w", err)
		}
	}
	r.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dandan_report_runs_total", Help: "Runs of the weekly report, by result (ok or error).",
	}, []string{"result"})
	r.lastOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dandan_report_last_success_timestamp_seconds", Help: "When the last run of the weekly report succeeded, in Unix seconds.",
	})
	r.lastDur = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dandan_report_last_run_duration_seconds", Help: "How long the last run of the weekly report took.",
	})
	if d.Registerer != nil {
		for _, c := range []prometheus.Collector{r.runs, r.lastOK, r.lastDur} {
			if err := d.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register report metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Ready reports whether reports can be built: the metric store is on.
func (r *Reporter) Ready() error {
	if r.query == nil {
		return errNoStore
	}
	return nil
}

// Name returns "report".
func (r *Reporter) Name() string { return "report" }

// Out returns the directory of the report files.
func (r *Reporter) Out() string { return r.out }

// Start creates the out directory and, with a schedule, starts it: a run
// missed while dandan was down is made at once.
func (r *Reporter) Start(ctx context.Context) error {
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return fmt.Errorf("create report dir: %w", err)
	}
	if r.cfg.sched.IsZero() {
		return nil
	}
	r.wg.Go(r.schedule)
	return nil
}

// Stop ends the schedule and any run in progress, waiting for them until
// ctx ends.
func (r *Reporter) Stop(ctx context.Context) error {
	r.cancel()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop report: %w", ctx.Err())
	}
}

// schedule runs the weekly report at every scheduled time until Stop.
func (r *Reporter) schedule() {
	loc := r.cfg.Location()
	// The week the last scheduled run was for: made now if missing.
	last := r.cfg.sched.Last(r.now(), loc)
	if from, to := LastWeek(last, loc); !r.exists(from) {
		r.log.Info("building a missed weekly report", "file", FileName("", from, "html"))
		_ = r.Run(r.ctx, from, to, "catch-up")
	}
	for {
		next := r.cfg.sched.Next(r.now(), loc)
		t := time.NewTimer(next.Sub(r.now()))
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		from, to := LastWeek(next, loc)
		if err := r.Run(r.ctx, from, to, "schedule"); errors.Is(err, errRunning) {
			r.log.Warn("scheduled weekly report skipped: one was being built from the page", "file", FileName("", from, "html"))
		}
	}
}

// exists reports whether the overall report of the week from is there.
func (r *Reporter) exists(from time.Time) bool {
	_, err := os.Stat(filepath.Join(r.out, FileName("", from, "html")))
	return err == nil
}

// State returns the state of the run in progress or of the last one.
func (r *Reporter) State() RunState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// begin marks a run as started, or returns errRunning.
func (r *Reporter) begin(from, to time.Time, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state.Running {
		return errRunning
	}
	r.state = RunState{Running: true, Reason: reason, From: from, To: to, Started: r.now()}
	return nil
}

// startRun runs the week [from, to) in the background, unless a run is in
// progress (errRunning).
func (r *Reporter) startRun(from, to time.Time, reason string) error {
	if err := r.begin(from, to, reason); err != nil {
		return err
	}
	r.wg.Go(func() { r.run(r.ctx, from, to) })
	return nil
}

// Run builds the reports of the week [from, to): the overall one and one
// per job (report.jobs, or every job found), HTML and PDF, then removes
// the files of weeks beyond report.keep. It returns when done.
func (r *Reporter) Run(ctx context.Context, from, to time.Time, reason string) error {
	if err := r.begin(from, to, reason); err != nil {
		return err
	}
	return r.run(ctx, from, to)
}

func (r *Reporter) run(ctx context.Context, from, to time.Time) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	files, err := r.build(ctx, from, to)
	took := time.Since(start)
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
	}
	r.mu.Lock()
	r.state.Running, r.state.Took, r.state.Files = false, took, names
	if err != nil {
		r.state.Err = err.Error()
	}
	r.mu.Unlock()
	r.lastDur.Set(took.Seconds())
	if err != nil {
		r.runs.WithLabelValues("error").Inc()
		r.log.Error("weekly report failed", "err", err, "duration_s", took.Seconds())
		return err
	}
	r.runs.WithLabelValues("ok").Inc()
	r.lastOK.SetToCurrentTime()
	r.log.Info("weekly report built", "file", strings.Join(names, ","), "duration_s", took.Seconds())
	if removed, err := Prune(r.out, r.cfg.Keep); err != nil {
		r.log.Warn("old reports not removed", "err", err)
	} else if len(removed) > 0 {
		r.log.Info("old reports removed", "file", strings.Join(removed, ","))
	}
	if r.rec != nil {
		e := events.Event{Part: "report", Kind: "report_built", Text: "weekly report of " + fmtPeriod(from, to.Add(-time.Nanosecond)) + " built",
			Link: "/reports/" + FileName("", from, "html")}
		if _, err := r.rec.Record(ctx, e); err != nil {
			r.log.Warn("report run not recorded in the event log", "err", err)
		}
	}
	return nil
}

func (r *Reporter) build(ctx context.Context, from, to time.Time) ([]string, error) {
	if r.query == nil {
		return nil, errNoStore
	}
	opts := Options{Jobs: r.cfg.Jobs, From: from, To: to, Location: r.cfg.Location()}
	all, err := Build(ctx, r.query, r.events, opts)
	if err != nil {
		return nil, err
	}
	path, err := Write(all, r.out)
	if err != nil {
		return nil, err
	}
	html := []string{path}
	jobs := r.cfg.Jobs
	if len(jobs) == 0 {
		jobs = all.Jobs
	}
	for _, j := range jobs {
		o := opts
		o.Job = j
		w, err := Build(ctx, r.query, r.events, o)
		if err != nil {
			return html, err
		}
		path, err := Write(w, r.out)
		if err != nil {
			return html, err
		}
		html = append(html, path)
	}
	pdfs, err := r.printer.Print(ctx, html...)
	return append(html, pdfs...), err
}

var (
	_ component.Component = (*Reporter)(nil)
	_ component.Readier   = (*Reporter)(nil)
)
