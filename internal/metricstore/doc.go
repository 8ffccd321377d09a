// Package metricstore is dandan's embedded metric store: Prometheus's TSDB
// and PromQL engine, used as libraries behind a small interface of ours
// (Appender, Appendable), with retention by time and size and WAL replay
// after a crash. It answers the Prometheus HTTP API under /api/v1/ with
// Prometheus's JSON shapes (plus our "code") and accepts remote_write.
package metricstore
