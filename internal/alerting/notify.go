package alerting

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"

	"github.com/dandan-sre/dandan/internal/events"
)

// notice is one alert as receivers see it.
type notice struct {
	fingerprint  string
	labels       map[string]string
	annotations  map[string]string
	value        float64
	activeAt     time.Time
	startsAt     time.Time // when it fired
	endsAt       time.Time // when it resolved; zero while firing
	sentAt       time.Time // when the engine sent it
	validUntil   time.Time // taken as resolved after, without news
	generatorURL string
}

func (n *notice) resolved() bool { return !n.endsAt.IsZero() }

// change is what a notice changes for the alert's record.
type change int

const (
	unchanged   change = iota // still firing, or resolved already
	fired                     // newly firing
	resolvedNow               // firing until now
)

// delivery is a notice for receivers, with what it changed.
type delivery struct {
	notice
	change change
}

// notifier records alerts (history, events) and hands them to receivers,
// in the order the rules sent them, from one goroutine.
type notifier struct {
	log    *slog.Logger
	m      *metrics
	hist   history
	events events.Recorder
	// recv are the receivers; only the notifier's goroutine touches it
	// after start.
	recv []*sender
	// retired are the receivers a reload replaced, finishing their
	// queues; only the notifier's goroutine touches it after start.
	retired []*sender

	in   chan []delivery // batches from the rules
	swap chan []*sender  // new receivers from a reload

	mu     sync.Mutex // guards closed
	closed bool

	// open holds the firing alerts' rows by fingerprint; only the
	// notifier's goroutine touches it after start.
	open map[string]*openRow
	// sweepAfter is when alerts left firing by a previous run may be
	// resolved by their validUntil: by then the rules have sent again
	// the ones that still fire.
	sweepAfter time.Time
	sweepEvery time.Duration

	done   chan struct{}
	cancel context.CancelFunc
}

const (
	queueSize     = 1024
	sweepInterval = 15 * time.Second
)

func newNotifier(log *slog.Logger, m *metrics, h history, ev events.Recorder, recv []*sender) *notifier {
	return &notifier{log: log, m: m, hist: h, events: ev, recv: recv, in: make(chan []delivery, queueSize), swap: make(chan []*sender), sweepEvery: sweepInterval, done: make(chan struct{})}
}

// start loads the alerts left firing and starts the goroutines.
func (n *notifier) start(ctx context.Context, grace time.Duration) error {
	open, err := n.hist.loadOpen(ctx)
	if err != nil {
		return err
	}
	n.open = open
	n.sweepAfter = time.Now().Add(grace)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	for _, s := range n.recv {
		go s.run(runCtx)
	}
	go n.run(runCtx)
	return nil
}

// stop lets the queued notices go out until ctx is done, then abandons them.
func (n *notifier) stop(ctx context.Context) {
	n.mu.Lock()
	if n.closed || n.cancel == nil {
		n.closed = true
		n.mu.Unlock()
		return
	}
	n.closed = true
	close(n.in)
	n.mu.Unlock()
	defer n.cancel()
	wait := func(done chan struct{}) {
		select {
		case <-done:
		case <-ctx.Done():
			n.cancel()
			<-done
		}
	}
	wait(n.done)
	for _, s := range n.recv {
		wait(s.done)
	}
	for _, s := range n.retired {
		wait(s.done)
	}
}

// setReceivers makes recv the receivers of the running notifier: the ones
// new to it start, the ones left out send what they have queued and stop.
// What the rules sent before goes to the receivers before; what they send
// from then on goes to recv.
func (n *notifier) setReceivers(recv []*sender) {
	select {
	case n.swap <- recv:
	case <-n.done:
	}
}

// replace is setReceivers in the notifier's goroutine.
func (n *notifier) replace(ctx context.Context, recv []*sender) {
	n.retired = slices.DeleteFunc(n.retired, func(s *sender) bool {
		select {
		case <-s.done:
			return true
		default:
			return false
		}
	})
	for _, s := range n.recv {
		if !slices.Contains(recv, s) {
			close(s.q)
			n.retired = append(n.retired, s)
		}
	}
	for _, s := range recv {
		if !slices.Contains(n.recv, s) {
			go s.run(ctx)
		}
	}
	n.recv = recv
}

// send queues the alerts a rule sent; it never blocks the rule's group.
func (n *notifier) send(alerts []*rules.Alert, generatorURL string) {
	batch := make([]delivery, len(alerts))
	for i, a := range alerts {
		batch[i].notice = newNotice(a, generatorURL)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	select {
	case n.in <- batch:
	default:
		n.m.dropped.WithLabelValues("queue").Add(float64(len(batch)))
		n.log.Warn("alert queue full: notifications dropped", "alerts", len(batch))
	}
}

func newNotice(a *rules.Alert, generatorURL string) notice {
	n := notice{
		fingerprint:  fingerprint(a.Labels),
		labels:       a.Labels.Map(),
		annotations:  a.Annotations.Map(),
		value:        a.Value,
		activeAt:     a.ActiveAt.UTC(),
		startsAt:     a.FiredAt.UTC(),
		sentAt:       a.LastSentAt.UTC(),
		validUntil:   a.ValidUntil.UTC(),
		generatorURL: generatorURL,
	}
	if !a.ResolvedAt.IsZero() {
		n.endsAt = a.ResolvedAt.UTC()
	}
	return n
}

// fingerprint is Alertmanager's: a hash of the label set, in hex.
func fingerprint(ls labels.Labels) string {
	set := make(model.LabelSet, ls.Len())
	ls.Range(func(l labels.Label) { set[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return set.Fingerprint().String()
}

func (n *notifier) run(ctx context.Context) {
	defer close(n.done)
	defer func() {
		for _, s := range n.recv {
			close(s.q)
		}
	}()
	tick := time.NewTicker(n.sweepEvery)
	defer tick.Stop()
	for {
		select {
		case batch, ok := <-n.in:
			if !ok {
				return
			}
			n.handle(ctx, batch)
		case recv := <-n.swap:
			// What was queued before the swap (the alerts of rules the
			// reload removed, resolved) goes to the receivers before it.
			for queued := true; queued; {
				select {
				case batch, ok := <-n.in:
					if queued = ok; ok {
						n.handle(ctx, batch)
					}
				default:
					queued = false
				}
			}
			n.replace(ctx, recv)
		case now := <-tick.C:
			n.sweep(ctx, now)
		}
	}
}

// handle records a batch from the rules and delivers it.
func (n *notifier) handle(ctx context.Context, batch []delivery) {
	for i := range batch {
		batch[i].change = n.record(ctx, &batch[i].notice)
	}
	n.deliver(batch)
}

func (n *notifier) deliver(batch []delivery) {
	if len(batch) == 0 {
		return
	}
	for _, s := range n.recv {
		s.enqueue(batch)
	}
}

// record keeps the alert's history and event and says what changed.
// Failures to write are logged: receivers hear of the alert regardless.
func (n *notifier) record(ctx context.Context, a *notice) change {
	row, open := n.open[a.fingerprint]
	if open {
		// Firing since before a restart, when the rule's state was
		// restored and it fired again: it started when it first fired.
		a.startsAt = row.notice.startsAt
	}
	switch {
	case !a.resolved() && open:
		row.notice = *a
		if err := n.hist.touch(ctx, row.id, a); err != nil {
			n.log.Warn("alert history not updated", "err", err)
		}
		return unchanged
	case !a.resolved():
		row := &openRow{notice: *a}
		if n.events != nil {
			id, err := n.events.Record(ctx, alertEvent(a))
			if err != nil {
				n.log.Warn("alert event not recorded", "err", err)
			}
			row.eventID = id
		}
		id, err := n.hist.insert(ctx, a, row.eventID)
		if err != nil {
			n.log.Warn("alert history not updated", "err", err)
		}
		row.id = id
		n.open[a.fingerprint] = row
		return fired
	case open:
		n.close(ctx, row, a.endsAt)
		return resolvedNow
	}
	return unchanged
}

// close ends an open alert's row and event at `at`.
func (n *notifier) close(ctx context.Context, row *openRow, at time.Time) {
	delete(n.open, row.notice.fingerprint)
	if row.id != 0 {
		if err := n.hist.resolve(ctx, row.id, at); err != nil {
			n.log.Warn("alert history not updated", "err", err)
		}
	}
	if n.events != nil && row.eventID != 0 {
		if err := n.events.End(ctx, row.eventID, at); err != nil {
			n.log.Warn("alert event not ended", "err", err)
		}
	}
}

// sweep resolves the alerts not sent again before their validUntil: their
// rule is gone, or stopped firing while dandan was down. Receivers hear
// of them as resolved, as Alertmanager resolves alerts whose endsAt passed.
func (n *notifier) sweep(ctx context.Context, now time.Time) {
	if now.Before(n.sweepAfter) {
		return
	}
	var batch []delivery
	for _, fp := range slices.Sorted(maps.Keys(n.open)) {
		row := n.open[fp]
		if row.notice.validUntil.After(now) {
			continue
		}
		d := delivery{notice: row.notice, change: resolvedNow}
		d.endsAt, d.sentAt = row.notice.validUntil, now
		n.close(ctx, row, d.endsAt)
		batch = append(batch, d)
	}
	n.deliver(batch)
}

// alertEvent is the event of a firing alert on the shared time axis.
func alertEvent(a *notice) events.Event {
	text := a.labels["alertname"]
	if s := strings.TrimSpace(a.annotations["summary"]); s != "" {
		text += ": " + s
	}
	if len(text) > 2000 {
		text = strings.ToValidUTF8(text[:1997], "") + "..."
	}
	ls := a.labels
	if len(ls) > 32 {
		// The event log keeps 32 labels: the alert's name, its
		// severity and job first, then the rest in order.
		ls = map[string]string{}
		for _, k := range []string{"alertname", "severity", "job", "instance"} {
			if v, ok := a.labels[k]; ok {
				ls[k] = v
			}
		}
		for _, k := range slices.Sorted(maps.Keys(a.labels)) {
			if len(ls) == 32 {
				break
			}
			ls[k] = a.labels[k]
		}
	}
	return events.Event{
		Time:     a.startsAt,
		Part:     "alerts",
		Kind:     "alert",
		Severity: severity(a.labels["severity"]),
		Text:     text,
		Labels:   ls,
		Lasting:  true,
	}
}

// severity maps an alert's severity label to the event log's; anything
// else is a warning.
func severity(s string) events.Severity {
	switch strings.ToLower(s) {
	case "critical", "page", "error":
		return events.Critical
	case "info", "informational", "none":
		return events.Info
	}
	return events.Warning
}
