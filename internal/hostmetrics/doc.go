// Package hostmetrics collects the host's CPU, memory, load, filesystems,
// disk and network I/O, file descriptors and process counts as
// metricstore.Samples named and scaled exactly as node_exporter's, so that
// its dashboards and alerts work on dandan's store unchanged. It reads
// through gopsutil, and /proc directly where gopsutil has no cheap call;
// Docs lists every metric for the README's table.
package hostmetrics
