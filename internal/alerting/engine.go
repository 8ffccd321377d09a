package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/strutil"

	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/sqlstore"
)

// Options are what an Engine works with.
type Options struct {
	Config Config
	// Metrics is the metric store the rules read and write: the
	// *metricstore.Service of `dandan up` (what component.Deps.Metrics
	// and component.Deps.Query hold), or a *metricstore.Store. Its
	// expressions are evaluated with the store's PromQL engine; recording
	// rules write their series to it, alerting rules ALERTS and
	// ALERTS_FOR_STATE, from which an alert's `for` is restored after a
	// restart. It may be nil only when Config has no rule files.
	Metrics RuleStore
	// Events gets an event per alert, from firing to resolved; nil: none.
	Events events.Recorder
	// SQL keeps the alerts' history in the table alerts; nil: none.
	SQL sqlstore.Store
	// Logger gets the engine's messages; nil discards them.
	Logger *slog.Logger
	// Registerer gets the engine's metrics (dandan_alerts_*) and those of
	// Prometheus's rule manager (prometheus_rule_*); nil: none.
	Registerer prometheus.Registerer
	// QueryLink returns the path, under Config.ExternalURL, that shows an
	// expression: the alerts' generatorURL. Nil gives Prometheus's
	// /graph?g0.expr=…&g0.tab=1.
	QueryLink func(expr string) string
	// Client posts to receivers; nil uses a client of its own.
	Client *http.Client
}

// RuleStore is what rules are evaluated against: the store's series, to
// read (for restoring alerts) and write, and its PromQL engine.
// *metricstore.Service and *metricstore.Store implement it.
type RuleStore interface {
	RuleOptions() (storage.Queryable, storage.AppendableV2, rules.QueryFunc)
}

// The rule manager's settings: Prometheus's defaults.
const (
	// resendDelay is how often a firing (or resolved) alert is sent
	// again (--rules.alert.resend-delay).
	resendDelay = time.Minute
	// forGracePeriod is the least time left to a restored pending
	// alert's `for` after a restart (--rules.alert.for-grace-period).
	forGracePeriod = 10 * time.Minute
	// outageTolerance is how long dandan may be down and still restore
	// the alerts' `for` state (--rules.alert.for-outage-tolerance).
	outageTolerance = time.Hour
)

// Engine evaluates Prometheus rule files against the metric store with
// Prometheus's rule manager, and sends the alerts they fire.
//
// Its life: New builds it without I/O; Start creates its SQL table, loads
// the rule files (an error stops it) and evaluates each group every
// interval; Reload reads the files again and Configure takes a new
// config; Stop ends the evaluations and lets queued notifications go out by
// ctx's deadline. Stop is safe after a failed Start.
type Engine struct {
	opts      Options
	log       *slog.Logger
	m         *metrics
	extURL    *url.URL // never nil: empty when not configured
	queryLink func(string) string
	notifier  *notifier

	reloadMu sync.Mutex // serializes Start, Reload, Configure and Stop; guards cfg and recv
	cfg      Config
	recv     []receiverSpec // the notifier's receivers and what each was built from

	mu      sync.Mutex // guards mgr, cancel, runDone
	mgr     *rules.Manager
	cancel  context.CancelFunc // cancels the evaluations in progress
	runDone chan struct{}      // closed when mgr.Run has returned
}

var errNoStore = errors.New("rule_files: alert rules need the metric store (store.metrics.enabled)")

// New returns the engine of opts; it does no I/O.
func New(opts Options) (*Engine, error) {
	if opts.Metrics == nil && len(opts.Config.RuleFiles) > 0 {
		return nil, errNoStore
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Config = opts.Config.withDefaults()
	if opts.Client == nil {
		opts.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	e := &Engine{cfg: opts.Config, opts: opts, log: opts.Logger, queryLink: opts.QueryLink, extURL: &url.URL{}}
	if e.queryLink == nil {
		e.queryLink = strutil.TableLinkForExpression
	}
	if s := opts.Config.ExternalURL; s != "" {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("external_url: %w", err)
		}
		e.extURL = u
	}
	e.m = newMetrics(opts.Registerer, e.count)
	e.recv = e.receivers(opts.Config, nil)
	e.notifier = newNotifier(e.log, e.m, history{db: opts.SQL}, opts.Events, senders(e.recv))
	return e, nil
}

// withDefaults returns c with the defaults for the intervals left unset.
func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultConfig().Interval
	}
	if c.RepeatInterval <= 0 {
		c.RepeatInterval = DefaultConfig().RepeatInterval
	}
	return c
}

// receiverSpec is a receiver's sender with what it was built from, so
// that a reload keeps the receivers it does not change.
type receiverSpec struct {
	webhook      WebhookConfig // zero for the Alertmanager
	alertmanager string        // the Alertmanager's base URL; "" for a webhook
	repeat       time.Duration
	s            *sender
}

// receivers returns the receivers of cfg: those of old that cfg keeps as
// they were, and new ones for the rest.
func (e *Engine) receivers(cfg Config, old []receiverSpec) []receiverSpec {
	var out []receiverSpec
	used := make([]bool, len(old))
	find := func(want receiverSpec) *sender {
		for i, o := range old {
			if !used[i] && o.webhook == want.webhook && o.alertmanager == want.alertmanager && o.repeat == want.repeat {
				used[i] = true
				return o.s
			}
		}
		return nil
	}
	for _, w := range cfg.Webhooks {
		spec := receiverSpec{webhook: w, repeat: cfg.RepeatInterval.Std()}
		if spec.s = find(spec); spec.s == nil {
			wh := &webhook{
				cfg:         w,
				post:        poster{client: e.opts.Client, url: w.URL, token: w.BearerToken, timeout: w.timeout(), backoff: retryBackoff},
				externalURL: strings.TrimSuffix(cfg.ExternalURL, "/"),
				repeat:      spec.repeat,
				m:           e.m,
				log:         e.log,
				groups:      map[string]*webhookGroup{},
			}
			spec.s = newSender(w.receiver(), e.m, e.log, wh.handle)
		}
		out = append(out, spec)
	}
	if u := cfg.AlertmanagerURL; u != "" {
		spec := receiverSpec{alertmanager: u}
		if spec.s = find(spec); spec.s == nil {
			am := &alertmanager{
				post: poster{client: e.opts.Client, url: alertmanagerURL(u), timeout: DefaultWebhookTimeout, backoff: retryBackoff},
				m:    e.m,
				log:  e.log,
			}
			spec.s = newSender(alertmanagerReceiver, e.m, e.log, am.handle)
		}
		out = append(out, spec)
	}
	return out
}

func senders(specs []receiverSpec) []*sender {
	out := make([]*sender, len(specs))
	for i, r := range specs {
		out[i] = r.s
	}
	return out
}

// managerOptions are the rule manager's options; ctx bounds its
// evaluations.
func (e *Engine) managerOptions(ctx context.Context) *rules.ManagerOptions {
	o := &rules.ManagerOptions{
		ExternalURL:     e.extURL,
		NotifyFunc:      e.notify,
		Context:         ctx,
		Logger:          e.log,
		Registerer:      e.opts.Registerer,
		OutageTolerance: outageTolerance,
		ForGracePeriod:  forGracePeriod,
		ResendDelay:     resendDelay,
	}
	if e.opts.Metrics != nil {
		o.Queryable, o.AppendableV2, o.QueryFunc = e.opts.Metrics.RuleOptions()
	}
	return o
}

// Start creates the alerts table, loads the rule files and starts
// evaluating them.
func (e *Engine) Start(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	if e.opts.SQL != nil {
		if err := e.opts.SQL.Migrate(ctx, "alerts", migrations()); err != nil {
			return err
		}
	}
	files, longest, err := e.load()
	if err != nil {
		return err
	}
	// Alerts left firing by the last run are resolved by their validUntil
	// only once the rules have had time to restore and send them again.
	if err := e.notifier.start(ctx, 4*longest); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	mgr := rules.NewManager(e.managerOptions(runCtx))
	if err := e.update(mgr, files); err != nil {
		mgr.Stop()
		cancel()
		return err
	}
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		mgr.Run()
	}()
	e.mu.Lock()
	e.mgr, e.cancel, e.runDone = mgr, cancel, runDone
	e.mu.Unlock()
	e.log.Info("alert rules loaded", "groups", len(mgr.RuleGroups()), "rules", len(mgr.Rules()))
	return nil
}

// update hands the rule files to mgr.
func (e *Engine) update(mgr *rules.Manager, files []string) error {
	if err := mgr.Update(e.cfg.Interval.Std(), files, labels.EmptyLabels(), e.extURL.String(), e.evalIteration); err != nil {
		return fmt.Errorf("rule files: %w", err)
	}
	return nil
}

// Stop stops evaluating and sends what is queued, by ctx's deadline.
func (e *Engine) Stop(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	e.mu.Lock()
	mgr, cancel, runDone := e.mgr, e.cancel, e.runDone
	e.mgr, e.cancel, e.runDone = nil, nil, nil
	e.mu.Unlock()
	if mgr != nil {
		// The manager waits for the evaluations in progress; they are
		// cancelled when ctx is done first.
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			mgr.Stop()
			<-runDone
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			cancel()
			<-stopped
		}
		cancel()
	}
	e.notifier.stop(ctx)
	e.opts.Client.CloseIdleConnections()
	return nil
}

// Reload reads the rule files again. On an error (every problem, with its
// file, line and rule) the rules in force stay. Unchanged groups go on as
// they were; a changed group keeps the state of its rules that kept their
// name and labels; the firing alerts of rules that are gone resolve.
func (e *Engine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	mgr := e.manager()
	if mgr == nil {
		return errNotRunning
	}
	return e.reload(mgr)
}

var errNotRunning = errors.New("alerting engine is not running")

// Configure applies cfg, a valid alerting config, to the running engine:
// the rule files are read again and loaded with cfg's interval as Reload
// does, and the receivers (webhooks, repeat_interval, alertmanager_url)
// that changed replace the old ones, which send what they have queued; an
// unchanged receiver goes on as it was. On an error nothing changes and
// the rules in force stay. external_url cannot change while the engine
// runs: it keeps its value and is named in restart.
func (e *Engine) Configure(ctx context.Context, cfg Config) (restart []string, err error) {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	mgr := e.manager()
	if mgr == nil {
		return nil, errNotRunning
	}
	cfg = cfg.withDefaults()
	if cfg.ExternalURL != e.cfg.ExternalURL {
		restart = append(restart, "external_url")
		cfg.ExternalURL = e.cfg.ExternalURL
	}
	old := e.cfg
	e.cfg = cfg
	if err := e.reload(mgr); err != nil {
		e.cfg = old
		return restart, err
	}
	recv := e.receivers(cfg, e.recv)
	if !slices.Equal(senders(recv), senders(e.recv)) {
		e.notifier.setReceivers(senders(recv))
		e.recv = recv
		e.log.Info("alert receivers replaced", "receivers", len(recv))
	}
	return restart, nil
}

// reload loads the rule files of e.cfg into mgr, resolving the alerts of
// the rules that are gone; on an error the rules in force stay.
func (e *Engine) reload(mgr *rules.Manager) error {
	files, _, err := e.load()
	if err != nil {
		return err
	}
	// The firing alerts before, copied now: once a changed group is
	// replaced, its rules share their alerts with their successors.
	before := map[*rules.AlertingRule][]*rules.Alert{}
	for _, r := range mgr.AlertingRules() {
		before[r] = nil
		for _, a := range r.ActiveAlerts() {
			if a.State == rules.StateFiring {
				before[r] = append(before[r], a)
			}
		}
	}
	if err := e.update(mgr, files); err != nil {
		return err
	}
	e.resolveGone(before, mgr.AlertingRules())
	e.log.Info("alert rules reloaded", "groups", len(mgr.RuleGroups()), "rules", len(mgr.Rules()))
	return nil
}

// resolveGone resolves the alerts that fired, before a reload, in rules
// the reload removed: the rule manager stops such rules without a word,
// and their alerts would otherwise only resolve when their validUntil
// passes. The rules that replaced the rules of a changed group have taken
// over the alerts they still have.
func (e *Engine) resolveGone(before map[*rules.AlertingRule][]*rules.Alert, after []*rules.AlertingRule) {
	carried := map[uint64]bool{} // the alerts of the new rules, by labels
	for _, r := range after {
		if _, old := before[r]; old {
			delete(before, r) // unchanged: it goes on
			continue
		}
		for _, a := range r.ActiveAlerts() {
			carried[a.Labels.Hash()] = true
		}
	}
	now := time.Now()
	for r, alerts := range before {
		var send []*rules.Alert
		for _, a := range alerts {
			if carried[a.Labels.Hash()] {
				continue
			}
			a.State, a.ResolvedAt, a.LastSentAt = rules.StateInactive, now, now
			send = append(send, a)
		}
		if len(send) > 0 {
			e.notify(context.Background(), r.Query().String(), send...)
		}
	}
}

// load checks every rule file, as `promtool check rules` does, and
// returns them with the longest evaluation interval of their groups.
func (e *Engine) load() (files []string, longest time.Duration, err error) {
	files, err = e.cfg.files()
	if err != nil {
		return nil, 0, fmt.Errorf("rule files: %w", err)
	}
	longest = e.cfg.Interval.Std()
	groups := 0
	var errs []error
	for _, f := range files {
		rgs, err := parseFile(f, e.log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rg := range rgs.Groups {
			groups++
			longest = max(longest, time.Duration(rg.Interval))
		}
	}
	if len(errs) > 0 {
		return nil, 0, errors.Join(errs...)
	}
	if groups > 0 && e.opts.Metrics == nil {
		return nil, 0, errNoStore
	}
	return files, longest, nil
}

// evalIteration evaluates a group as Prometheus does, and counts its
// rules' evaluations in dandan_alerts_*.
func (e *Engine) evalIteration(ctx context.Context, g *rules.Group, ts time.Time) {
	start := time.Now()
	rules.DefaultEvalIterationFunc(ctx, g, ts)
	for _, r := range g.Rules() {
		if r.GetEvaluationTimestamp().Before(start) {
			continue // not evaluated: the group was stopped
		}
		e.m.evals.WithLabelValues(g.Name()).Inc()
		if r.LastError() != nil {
			e.m.evalFailures.WithLabelValues(g.Name()).Inc()
		}
	}
	e.m.groupDuration.WithLabelValues(g.Name()).Set(g.GetEvaluationTime().Seconds())
}

// notify hands the alerts a rule sent to the notifier; it is the rule
// manager's NotifyFunc.
func (e *Engine) notify(_ context.Context, expr string, alerts ...*rules.Alert) {
	if len(alerts) > 0 {
		e.notifier.send(alerts, e.generatorURL(expr))
	}
}

func (e *Engine) generatorURL(expr string) string {
	return strings.TrimSuffix(e.extURL.String(), "/") + e.queryLink(expr)
}

func (e *Engine) manager() *rules.Manager {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mgr
}

// groups returns the groups in force, by file and name.
func (e *Engine) groups() []*rules.Group {
	if mgr := e.manager(); mgr != nil {
		return mgr.RuleGroups()
	}
	return nil
}

func (e *Engine) count(s rules.AlertState) float64 {
	n := 0
	for _, g := range e.groups() {
		for _, r := range g.Rules() {
			if ar, ok := r.(*rules.AlertingRule); ok {
				for _, a := range ar.ActiveAlerts() {
					if a.State == s {
						n++
					}
				}
			}
		}
	}
	return float64(n)
}

// activeAlerts returns r's pending and firing alerts.
func activeAlerts(r *rules.AlertingRule) []*rules.Alert {
	var out []*rules.Alert
	for _, a := range r.ActiveAlerts() {
		if a.State == rules.StatePending || a.State == rules.StateFiring {
			out = append(out, a)
		}
	}
	return out
}

// Alert is an alert that is pending or firing now.
type Alert struct {
	Name        string            `json:"name"`
	State       string            `json:"state"`    // pending or firing
	Severity    string            `json:"severity"` // critical, warning or info, from the severity label
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	ActiveAt    time.Time         `json:"active_at"`         // since when its expression holds
	FiredAt     time.Time         `json:"fired_at,omitzero"` // zero while pending
	Value       Value             `json:"value"`             // at the last evaluation
	Group       string            `json:"group"`
	File        string            `json:"file"`
}

// Active returns the alerts pending or firing now, firing first, then by
// severity (critical first), name and labels.
func (e *Engine) Active() []Alert {
	out := []Alert{}
	for _, g := range e.groups() {
		for _, r := range g.Rules() {
			ar, ok := r.(*rules.AlertingRule)
			if !ok {
				continue
			}
			for _, a := range activeAlerts(ar) {
				out = append(out, Alert{
					Name:        ar.Name(),
					State:       a.State.String(),
					Severity:    string(severity(a.Labels.Get("severity"))),
					Labels:      a.Labels.Map(),
					Annotations: a.Annotations.Map(),
					ActiveAt:    a.ActiveAt.UTC(),
					FiredAt:     a.FiredAt.UTC(),
					Value:       Value(a.Value),
					Group:       g.Name(),
					File:        g.File(),
				})
			}
		}
	}
	rank := map[string]int{"critical": 0, "warning": 1, "info": 2}
	slices.SortStableFunc(out, func(a, b Alert) int {
		if a.State != b.State {
			return strings.Compare(a.State, b.State) // firing < pending
		}
		if d := rank[a.Severity] - rank[b.Severity]; d != 0 {
			return d
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return labels.Compare(labels.FromMap(a.Labels), labels.FromMap(b.Labels))
	})
	return out
}

// GroupStatus is a rule group as Rules shows it.
type GroupStatus struct {
	Name           string       `json:"name"`
	File           string       `json:"file"`
	Interval       float64      `json:"interval_s"`
	LastEvaluation time.Time    `json:"last_evaluation,omitzero"`
	EvaluationTime float64      `json:"evaluation_time_s"`
	Rules          []RuleStatus `json:"rules"`
}

// RuleStatus is one rule of a GroupStatus.
type RuleStatus struct {
	Name           string            `json:"name"`
	Type           string            `json:"type"` // alerting or recording
	Query          string            `json:"query"`
	For            float64           `json:"for_s,omitempty"`
	KeepFiringFor  float64           `json:"keep_firing_for_s,omitempty"`
	Labels         map[string]string `json:"labels"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Health         string            `json:"health"` // ok, err or unknown (not evaluated yet)
	LastError      string            `json:"last_error,omitempty"`
	LastEvaluation time.Time         `json:"last_evaluation,omitzero"`
	EvaluationTime float64           `json:"evaluation_time_s"`
	State          string            `json:"state,omitempty"`  // alerting: inactive, pending or firing
	Alerts         []Alert           `json:"alerts,omitempty"` // alerting: pending and firing
}

// Rules returns the rule groups in force, by file and name.
func (e *Engine) Rules() []GroupStatus {
	out := []GroupStatus{}
	active := map[string][]Alert{}
	for _, a := range e.Active() {
		k := a.File + "\x00" + a.Group + "\x00" + a.Name
		active[k] = append(active[k], a)
	}
	for _, g := range e.groups() {
		gs := GroupStatus{Name: g.Name(), File: g.File(), Interval: g.Interval().Seconds(), LastEvaluation: g.GetLastEvaluation().UTC(),
			EvaluationTime: g.GetEvaluationTime().Seconds(), Rules: []RuleStatus{}}
		for _, r := range g.Rules() {
			rs := RuleStatus{
				Name:           r.Name(),
				Type:           "recording",
				Query:          r.Query().String(),
				Labels:         r.Labels().Map(),
				Health:         string(r.Health()),
				LastEvaluation: r.GetEvaluationTimestamp().UTC(),
				EvaluationTime: r.GetEvaluationDuration().Seconds(),
			}
			if err := r.LastError(); err != nil {
				rs.LastError = err.Error()
			}
			if ar, ok := r.(*rules.AlertingRule); ok {
				rs.Type, rs.For, rs.KeepFiringFor = "alerting", ar.HoldDuration().Seconds(), ar.KeepFiringFor().Seconds()
				rs.Annotations = ar.Annotations().Map()
				rs.State = rules.StateInactive.String()
				if st := ar.State(); st != rules.StateUnknown {
					rs.State = st.String()
				}
				rs.Alerts = active[g.File()+"\x00"+g.Name()+"\x00"+ar.Name()]
			}
			gs.Rules = append(gs.Rules, rs)
		}
		out = append(out, gs)
	}
	return out
}

// History returns the alerts that fired, from the SQL store, the latest
// first; none without one.
func (e *Engine) History(ctx context.Context, f HistoryFilter) ([]HistoryEntry, error) {
	out, err := history{db: e.opts.SQL}.list(ctx, f)
	if out == nil {
		out = []HistoryEntry{}
	}
	return out, err
}
