// Package opentsdb sends samples to OpenTSDB (or any receiver of its
// telnet protocol) as `put` lines over one persistent TCP connection,
// reconnecting with backoff and resending a batch that failed until the
// caller's context ends. Line formats one sample; Sender writes batches
// and counts what it sent, skipped and what the server refused.
package opentsdb
