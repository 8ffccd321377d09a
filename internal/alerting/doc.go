// Package alerting evaluates Prometheus rule files (recording and alerting
// rules, with for, keep_firing_for, labels and templated annotations)
// against the embedded metric store with Prometheus's own rule manager
// (github.com/prometheus/prometheus/rules), so their semantics are
// Prometheus's: evaluation slots, ALERTS and ALERTS_FOR_STATE, the `for`
// state restored after a restart, stale markers, resends every minute.
// Firing and resolved alerts are kept in the SQL store, recorded on the
// shared event log, and sent to Alertmanager-compatible webhooks and,
// optionally, an Alertmanager. RuleFromThreshold and WriteRuleFile turn a
// panel's threshold into a rule file that `promtool check rules` accepts.
package alerting
