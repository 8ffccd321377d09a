package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/dandan-sre/dandan/internal/config"
)

// sender delivers batches to one receiver from its own goroutine, so that
// a slow receiver holds up neither the rules nor the other receivers.
type sender struct {
	name   string
	q      chan []delivery
	done   chan struct{}
	handle func(ctx context.Context, batch []delivery)
	m      *metrics
	log    *slog.Logger
}

func newSender(name string, m *metrics, log *slog.Logger, handle func(context.Context, []delivery)) *sender {
	return &sender{name: name, q: make(chan []delivery, queueSize), done: make(chan struct{}), handle: handle, m: m, log: log}
}

func (s *sender) enqueue(batch []delivery) {
	select {
	case s.q <- batch:
	default:
		s.m.dropped.WithLabelValues(s.name).Add(float64(len(batch)))
		s.log.Warn("receiver queue full: notifications dropped", "receiver", s.name, "alerts", len(batch))
	}
}

func (s *sender) run(ctx context.Context) {
	defer close(s.done)
	for batch := range s.q {
		s.handle(ctx, batch)
	}
}

// retryBackoff are the waits before the second, third and fourth attempt
// to deliver a notification.
var retryBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}

// poster POSTs JSON to one URL, retrying network errors, 429 and 5xx.
type poster struct {
	client  *http.Client
	url     string
	token   config.Secret
	timeout time.Duration
	backoff []time.Duration
}

func (p *poster) post(ctx context.Context, body []byte) error {
	var err error
	for i := 0; ; i++ {
		err = p.once(ctx, body)
		var perm *permanentError
		if err == nil || errors.As(err, &perm) || i == len(p.backoff) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(p.backoff[i]):
		}
	}
}

// permanentError is a refusal that trying again will not change.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func (p *poster) once(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return &permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "dandan")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token.Reveal())
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("POST %s: %s: %s", p.url, resp.Status, strings.TrimSpace(string(msg)))
	if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests {
		return &permanentError{err}
	}
	return err
}

// webhookMessage is Alertmanager's webhook payload (version 4), field for
// field: github.com/prometheus/alertmanager/notify/webhook.Message.
type webhookMessage struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"` // firing or resolved
	Alerts            []webhookAlert    `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
}

// webhookAlert is one alert of a webhookMessage (Alertmanager's
// template.Alert).
type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"` // zero while firing, as Alertmanager sends it
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// webhook groups alerts by alertname, as Alertmanager's default route does,
// and posts a group when one of its alerts fires or resolves, and every
// repeat interval while some fire. Only its sender's goroutine uses it.
type webhook struct {
	cfg         WebhookConfig
	post        poster
	externalURL string
	repeat      time.Duration
	m           *metrics
	log         *slog.Logger
	groups      map[string]*webhookGroup
}

type webhookGroup struct {
	name      string
	alerts    map[string]notice // by fingerprint
	lastFlush time.Time
}

func (w *webhook) handle(ctx context.Context, batch []delivery) {
	now := time.Now()
	touched := map[string]bool{}
	changed := map[string]bool{}
	for _, d := range batch {
		name := d.labels["alertname"]
		g := w.groups[name]
		if g == nil {
			if d.resolved() && d.change != resolvedNow {
				continue
			}
			g = &webhookGroup{name: name, alerts: map[string]notice{}}
			if d.change == unchanged {
				// Firing since before a restart: it was told then.
				g.lastFlush = now
			}
			w.groups[name] = g
		}
		if d.resolved() && d.change != resolvedNow {
			continue // sent again by the rule; told already
		}
		g.alerts[d.fingerprint] = d.notice
		touched[name] = true
		if d.change != unchanged {
			changed[name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(touched)) {
		g := w.groups[name]
		if changed[name] || now.Sub(g.lastFlush) >= w.repeat {
			w.flush(ctx, g, now)
		}
	}
}

func (w *webhook) flush(ctx context.Context, g *webhookGroup, now time.Time) {
	msg := w.message(g)
	g.lastFlush = now
	for fp, a := range g.alerts {
		if a.resolved() {
			delete(g.alerts, fp)
		}
	}
	if len(g.alerts) == 0 {
		delete(w.groups, g.name)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		w.log.Error("webhook payload not encoded", "receiver", w.cfg.receiver(), "err", err)
		return
	}
	if err := w.post.post(ctx, body); err != nil {
		w.m.failed.WithLabelValues(w.cfg.receiver()).Inc()
		w.log.Warn("webhook notification failed", "receiver", w.cfg.receiver(), "err", err)
		return
	}
	w.m.sent.WithLabelValues(w.cfg.receiver()).Inc()
}

// message builds the payload of g: its alerts sorted by labels, firing if
// any fires.
func (w *webhook) message(g *webhookGroup) webhookMessage {
	alerts := slices.SortedFunc(maps.Values(g.alerts), func(a, b notice) int {
		return strings.Compare(model.LabelSet(toModel(a.labels)).String(), model.LabelSet(toModel(b.labels)).String())
	})
	group := map[string]string{"alertname": g.name}
	msg := webhookMessage{
		Receiver:          w.cfg.receiver(),
		Status:            "resolved",
		GroupLabels:       group,
		CommonLabels:      common(alerts, func(n notice) map[string]string { return n.labels }),
		CommonAnnotations: common(alerts, func(n notice) map[string]string { return n.annotations }),
		ExternalURL:       w.externalURL,
		Version:           "4",
		GroupKey:          "{}:" + model.LabelSet(toModel(group)).String(),
	}
	if w.cfg.MaxAlerts > 0 && len(alerts) > w.cfg.MaxAlerts {
		msg.TruncatedAlerts = uint64(len(alerts) - w.cfg.MaxAlerts)
		alerts = alerts[:w.cfg.MaxAlerts]
	}
	for _, a := range alerts {
		wa := webhookAlert{
			Status:       "firing",
			Labels:       a.labels,
			Annotations:  a.annotations,
			StartsAt:     a.startsAt,
			GeneratorURL: a.generatorURL,
			Fingerprint:  a.fingerprint,
		}
		if a.resolved() {
			wa.Status, wa.EndsAt = "resolved", a.endsAt
		} else {
			msg.Status = "firing"
		}
		msg.Alerts = append(msg.Alerts, wa)
	}
	return msg
}

func toModel(m map[string]string) model.LabelSet {
	out := make(model.LabelSet, len(m))
	for k, v := range m {
		out[model.LabelName(k)] = model.LabelValue(v)
	}
	return out
}

// common returns the pairs every alert has.
func common(alerts []notice, of func(notice) map[string]string) map[string]string {
	out := map[string]string{}
	if len(alerts) == 0 {
		return out
	}
	maps.Copy(out, of(alerts[0]))
	for _, a := range alerts[1:] {
		m := of(a)
		for k, v := range out {
			if m[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

// postableAlert is one alert of Alertmanager's POST /api/v2/alerts, as
// Prometheus's notifier sends it.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// alertmanagerBatch is the most alerts posted at once, as Prometheus's.
const alertmanagerBatch = 256

// alertmanager posts every alert the rules send, firing or resolved, to an
// Alertmanager, which keeps a firing alert until its endsAt passes.
type alertmanager struct {
	post poster
	m    *metrics
	log  *slog.Logger
}

const alertmanagerReceiver = "alertmanager"

func (a *alertmanager) handle(ctx context.Context, batch []delivery) {
	for chunk := range slices.Chunk(batch, alertmanagerBatch) {
		out := make([]postableAlert, len(chunk))
		for i, d := range chunk {
			out[i] = postableAlert{Labels: d.labels, Annotations: d.annotations, StartsAt: d.startsAt, EndsAt: d.validUntil, GeneratorURL: d.generatorURL}
			if d.resolved() {
				out[i].EndsAt = d.endsAt
			}
		}
		body, err := json.Marshal(out)
		if err != nil {
			a.log.Error("alertmanager payload not encoded", "err", err)
			return
		}
		if err := a.post.post(ctx, body); err != nil {
			a.m.failed.WithLabelValues(alertmanagerReceiver).Inc()
			a.log.Warn("alertmanager notification failed", "addr", a.post.url, "err", err)
			continue
		}
		a.m.sent.WithLabelValues(alertmanagerReceiver).Inc()
	}
}

// alertmanagerURL returns where alerts are posted for the base URL.
func alertmanagerURL(base string) string {
	base = strings.TrimSuffix(base, "/")
	if strings.HasSuffix(base, "/api/v2/alerts") {
		return base
	}
	return base + "/api/v2/alerts"
}
