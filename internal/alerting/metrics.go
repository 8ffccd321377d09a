package alerting

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/rules"
)

// metrics are the engine's own metrics.
type metrics struct {
	evals         *prometheus.CounterVec
	evalFailures  *prometheus.CounterVec
	groupDuration *prometheus.GaugeVec
	sent          *prometheus.CounterVec
	failed        *prometheus.CounterVec
	dropped       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, active func(rules.AlertState) float64) *metrics {
	m := &metrics{
		evals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dandan_alerts_rule_evaluations_total",
			Help: "Rule evaluations, by rule group.",
		}, []string{"group"}),
		evalFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dandan_alerts_rule_evaluation_failures_total",
			Help: "Rule evaluations that failed, by rule group.",
		}, []string{"group"}),
		groupDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dandan_alerts_rule_group_last_duration_seconds",
			Help: "How long the last evaluation of each rule group took.",
		}, []string{"group"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dandan_alerts_notifications_total",
			Help: "Notifications delivered, by receiver.",
		}, []string{"receiver"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dandan_alerts_notifications_failed_total",
			Help: "Notifications not delivered after every retry, by receiver.",
		}, []string{"receiver"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dandan_alerts_notifications_dropped_total",
			Help: "Notifications dropped because a receiver's queue was full, by receiver.",
		}, []string{"receiver"}),
	}
	if reg != nil {
		reg.MustRegister(m.evals, m.evalFailures, m.groupDuration, m.sent, m.failed, m.dropped,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "dandan_alerts_firing",
				Help: "Alerts firing now.",
			}, func() float64 { return active(rules.StateFiring) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "dandan_alerts_pending",
				Help: "Alerts pending now: their expression holds, their `for` has not passed yet.",
			}, func() float64 { return active(rules.StatePending) }))
	}
	return m
}
