package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/hostmetrics"
	"github.com/dandan-sre/dandan/internal/journal"
	"github.com/dandan-sre/dandan/internal/logs"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/remotewrite"
	"github.com/dandan-sre/dandan/internal/tail"
	"github.com/dandan-sre/dandan/internal/ui"
	"github.com/dandan-sre/dandan/internal/webstatus"
)

// Agent is the watchdog: it tails access logs into the engine, scrapes
// status pages and the host, and commits everything every interval to a
// journal that the outputs (the embedded store, remote_write, OpenTSDB)
// read at their own pace.
type Agent struct {
	cfg  *Config
	deps component.Deps
	log  *slog.Logger

	jobs    []*logJob
	demo    *demo
	j       *journal.Journal
	enc     remotewrite.Encoder
	sources []*source
	outputs []output
	meta    map[string]metricstore.Metadata
	m       *agentMetrics
	pages   *ui.Pages
	recent  recent // the last commits' samples, for outputs keeping up
	// rwMinBackoff and rwMaxBackoff bound remote_write retries; zero:
	// the sender's defaults (tests make them short).
	rwMinBackoff, rwMaxBackoff time.Duration

	cancel  context.CancelFunc // stops readers and sources
	wg      sync.WaitGroup     // readers, sources, the commit loop
	outStop context.CancelFunc // stops outputs
	outWG   sync.WaitGroup

	mu      sync.Mutex // guards last and lastErr
	last    []metricstore.Sample
	lastT   time.Time
	lastErr error
	prevT   int64 // the last commit's time, Unix ms
}

// source is a scraped source (a status page, the host) with its latest
// samples waiting for the next commit.
type source struct {
	name     string
	interval time.Duration
	collect  func(ctx context.Context, now time.Time) ([]metricstore.Sample, error)

	mu      sync.Mutex
	pending []metricstore.Sample
	lastErr error
	lastAt  time.Time
}

// New returns the agent of cfg; it does no I/O.
func New(deps component.Deps, cfg *Config) (*Agent, error) {
	a := &Agent{cfg: cfg, deps: deps, log: deps.Logger, meta: map[string]metricstore.Metadata{}}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for _, jc := range cfg.Jobs {
		j, err := newLogJob(jc, a.log)
		if err != nil {
			return nil, fmt.Errorf("jobs %s: %w", jc.Name, err)
		}
		a.jobs = append(a.jobs, j)
	}
	if cfg.Demo.Enabled {
		a.demo = newDemo(filepath.Join(deps.DataDir, "demo", "access.log"), cfg.Demo.Rate)
		jc := &JobConfig{Name: "demo", Files: []string{a.demo.path}, Format: "media-nginx", FromStart: true, demo: true,
			PathRules: []string{"/live/*/*.ts=/live/{channel}/{segment}.ts", "/vod/*/*=/vod/{id}/{file}"}}
		var verr config.Errors
		jc.validate(&verr, "demo")
		if err := verr.Err(); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		j, err := newLogJob(jc, a.log)
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		a.jobs = append(a.jobs, j)
	}
	client := &http.Client{}
	scr := webstatus.New(client)
	for _, s := range cfg.Status {
		t := webstatus.Target{Job: s.Job, Kind: webstatus.Kind(s.Kind), URL: s.URL, Timeout: s.Timeout.Std()}
		a.sources = append(a.sources, &source{name: "status:" + s.Job, interval: s.Interval.Std(),
			collect: func(ctx context.Context, now time.Time) ([]metricstore.Sample, error) { return scr.Scrape(ctx, t, now) }})
	}
	if cfg.Host.Enabled {
		hc := hostmetrics.New(hostmetrics.Options{})
		a.sources = append(a.sources, &source{name: "host", interval: cfg.Host.Interval.Std(), collect: hc.Collect})
	}
	for k, v := range logsMetadata() {
		a.meta[k] = v
	}
	if len(cfg.Status) > 0 {
		for k, v := range webstatus.Metadata() {
			a.meta[k] = v
		}
	}
	if cfg.Host.Enabled {
		for k, v := range hostmetrics.Metadata() {
			a.meta[k] = v
		}
	}
	a.m = newAgentMetrics(deps.Registerer)
	return a, nil
}

// Name returns "watch".
func (a *Agent) Name() string { return "watch" }

// Start opens the journal, restores the counts and positions of the last
// commit, and starts reading, scraping, committing and sending.
func (a *Agent) Start(ctx context.Context) error {
	if err := os.MkdirAll(a.deps.DataDir, 0o750); err != nil {
		return err
	}
	j, err := journal.Open(filepath.Join(a.deps.DataDir, "journal"), journal.Options{
		MaxBytes: int64(a.cfg.Queue.MaxSize), Sync: a.cfg.Queue.Sync, Logger: a.log,
		OnDrop: func(consumer string, records, samples int64) {
			a.log.Error("queue full: samples dropped before they were sent", "output", consumer, "samples", samples)
			a.m.dropped.WithLabelValues(consumer, "queue_full").Add(float64(samples))
			if a.deps.Events != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, _ = a.deps.Events.Record(ctx, events.Event{Part: "watch", Kind: "samples_dropped", Severity: events.Critical,
					Text:   fmt.Sprintf("%s: %d samples dropped: the queue (queue.max_size) filled before the receiver took them", consumer, samples),
					Labels: map[string]string{"output": consumer}, Link: "/watch"})
			}
		},
	})
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	a.j = j
	if err := a.restore(); err != nil {
		j.Close()
		return err
	}
	if err := a.openOutputs(); err != nil {
		j.Close()
		return err
	}
	if a.demo != nil {
		if err := a.demo.prepare(); err != nil {
			j.Close()
			return fmt.Errorf("demo: %w", err)
		}
	}
	for _, job := range a.jobs {
		if err := job.start(); err != nil {
			a.closeFollowers()
			j.Close()
			return fmt.Errorf("jobs %s: %w", job.cfg.Name, err)
		}
	}
	if sm, ok := a.deps.Metrics.(interface {
		SetMetadata(string, metricstore.Metadata)
	}); ok {
		for k, v := range a.meta {
			sm.SetMetadata(k, v)
		}
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	if a.demo != nil {
		a.wg.Go(func() { a.demo.run(rctx) })
	}
	for _, job := range a.jobs {
		a.wg.Go(func() { job.run(rctx) })
	}
	for _, s := range a.sources {
		a.wg.Go(func() { a.scrape(rctx, s) })
	}
	a.wg.Go(func() { a.commitLoop(rctx) })
	octx, ostop := context.WithCancel(context.WithoutCancel(ctx))
	a.outStop = ostop
	for _, o := range a.outputs {
		a.outWG.Go(func() { o.run(octx) })
	}
	return nil
}

// restore reads the last commit and gives each job its counts and positions.
func (a *Agent) restore() error {
	rec, _, ok, err := a.j.Last()
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	if !ok {
		return nil
	}
	var meta recordMeta
	payload, err := decodeRecord(rec, &meta)
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	samples, err := remotewrite.Decode(payload)
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	for _, job := range a.jobs {
		job.restore(familiesOf(samples, job.cfg.Name, meta.T), meta.Files[job.cfg.Name])
		job.markEmitted(samples)
		for _, s := range samples {
			if s.T == meta.T && s.Labels.Get("__name__") == "dandan_watch_lines_read_total" && s.Labels.Get("job") == job.cfg.Name {
				job.lines = uint64(s.V)
			}
		}
	}
	a.prevT = meta.T
	a.log.Info("restored counts and file positions", "commit", time.UnixMilli(meta.T).UTC(), "series", len(samples))
	return nil
}

// scrape collects s on its interval until ctx is done.
func (a *Agent) scrape(ctx context.Context, s *source) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		now := time.Now()
		cctx, cancel := context.WithTimeout(ctx, s.interval)
		samples, err := s.collect(cctx, now)
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.pending = append(s.pending, samples...)
		if len(s.pending) > 100000 { // outputs stuck: keep the newest
			s.pending = slices.Delete(s.pending, 0, len(s.pending)-100000)
		}
		if err != nil && (s.lastErr == nil || s.lastErr.Error() != err.Error()) {
			a.log.Warn("scrape failed", "source", s.name, "err", err)
		}
		s.lastErr, s.lastAt = err, now
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// commitLoop commits every interval until ctx is done, then once more.
func (a *Agent) commitLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.Interval.Std())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.commit(time.Now()); err != nil {
				a.log.Error("commit failed", "err", err)
			}
		}
	}
}

// commit writes one record: every job's series and positions, and the
// sources' pending samples.
func (a *Agent) commit(now time.Time) error {
	ts := now.UnixMilli()
	meta := recordMeta{T: ts, Files: map[string][]tail.Position{}}
	var samples []metricstore.Sample
	prev := a.prevT
	if prev == 0 {
		prev = ts - a.cfg.Interval.Std().Milliseconds()
	}
	for _, job := range a.jobs {
		var pos []tail.Position
		samples, pos = job.snapshot(samples, ts, prev)
		meta.Files[job.cfg.Name] = pos
	}
	for _, s := range a.sources {
		s.mu.Lock()
		samples = append(samples, s.pending...)
		s.pending = s.pending[:0]
		s.mu.Unlock()
	}
	payload := a.enc.Encode(nil, samples, a.meta)
	rec, err := encodeRecord(nil, &meta, payload)
	if err == nil {
		var pos journal.Pos
		pos, err = a.j.Append(rec, len(samples))
		if err == nil {
			a.recent.put(pos, samples)
		}
	}
	a.mu.Lock()
	if err == nil {
		a.last, a.lastT, a.prevT = samples, now, ts
	}
	a.lastErr = err
	a.mu.Unlock()
	if err != nil {
		a.m.commitErrors.Inc()
		return err
	}
	a.m.commits.Inc()
	a.m.samples.Add(float64(len(samples)))
	return nil
}

// Stop stops reading, commits what was counted, gives the outputs until
// ctx's deadline to catch up, and closes the journal.
func (a *Agent) Stop(ctx context.Context) error {
	if a.cancel == nil {
		return nil
	}
	a.cancel()
	a.wg.Wait()
	var errs []error
	if err := a.commit(time.Now()); err != nil {
		errs = append(errs, err)
	}
	a.closeFollowers()
	// Outputs get until shortly before the deadline to send what is left;
	// what they have not sent stays in the journal for the next start.
	wait := time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = max(0, time.Until(dl)/2)
	}
	done := make(chan struct{})
	go func() {
		for _, o := range a.outputs {
			o.drain()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(wait):
	}
	a.outStop()
	a.outWG.Wait()
	if err := a.j.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (a *Agent) closeFollowers() {
	for _, job := range a.jobs {
		if job.fol != nil {
			job.fol.Close()
		}
	}
}

// Ready reports the last commit's error, if any.
func (a *Agent) Ready() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lastErr != nil {
		return fmt.Errorf("commit: %w", a.lastErr)
	}
	return nil
}

// logsMetadata describes the access-log families for the store's metadata.
func logsMetadata() map[string]metricstore.Metadata {
	return map[string]metricstore.Metadata{
		logs.MetricRequests:             {Type: "counter", Help: "Requests in the access log, by path template, method and status."},
		logs.MetricDuration:             {Type: "histogram", Help: "Request durations in the access log.", Unit: "seconds"},
		logs.MetricBytes:                {Type: "counter", Help: "Response bytes in the access log.", Unit: "bytes"},
		logs.MetricReferer:              {Type: "counter", Help: "Requests in the access log by path template and referer host."},
		logs.MetricInvalid:              {Type: "counter", Help: "Access-log lines that did not match the log format."},
		logs.MetricCapped:               {Type: "counter", Help: "Access-log lines counted under path=\"other\" because the job had reached its cap of path templates."},
		RollupRequests:                  {Type: "counter", Help: "Requests in the access log by job and status: http_requests_total summed over paths and methods."},
		RollupBytes:                     {Type: "counter", Help: "Response bytes in the access log by job: http_response_bytes_total summed over paths, methods and statuses.", Unit: "bytes"},
		RollupDuration:                  {Type: "histogram", Help: "Request durations in the access log by job: http_request_duration_seconds summed over paths and methods.", Unit: "seconds"},
		"dandan_watch_lines_read_total": {Type: "counter", Help: "Access-log lines read by the watchdog, by job."},
		"dandan_watch_file_lag_bytes":   {Type: "gauge", Help: "Bytes written to a tailed file that the watchdog has not read yet.", Unit: "bytes"},
	}
}

// agentMetrics are the agent's own metrics on dandan's registry.
type agentMetrics struct {
	commits, commitErrors, samples prometheus.Counter
	dropped                        *prometheus.CounterVec
}

func newAgentMetrics(reg prometheus.Registerer) *agentMetrics {
	m := &agentMetrics{
		commits:      prometheus.NewCounter(prometheus.CounterOpts{Name: "dandan_watch_commits_total", Help: "Commits of samples and file positions to the journal."}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "dandan_watch_commit_errors_total", Help: "Commits that failed."}),
		samples:      prometheus.NewCounter(prometheus.CounterOpts{Name: "dandan_watch_samples_total", Help: "Samples committed to the journal."}),
		dropped:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dandan_watch_samples_dropped_total", Help: "Samples an output never sent, by output and reason."}, []string{"output", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.commits, m.commitErrors, m.samples, m.dropped)
	}
	return m
}
