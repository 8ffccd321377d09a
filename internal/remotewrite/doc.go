// Package remotewrite sends samples to a Prometheus remote_write 1.0
// receiver (Prometheus, Mimir, VictoriaMetrics, Thanos): Encoder builds the
// snappy-compressed protobuf WriteRequest, Sender posts it, retrying 5xx,
// 429 and network errors with backoff until its context ends, and counts
// what a 4xx made it drop. Durability is the caller's: Send keeps nothing.
package remotewrite
