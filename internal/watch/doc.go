// Package watch is the watchdog agent: it tails access logs into the
// access-log engine (internal/logs), scrapes nginx and Apache status pages
// and the host, and every interval commits the cumulative value of every
// series together with the file positions that produced them, in one
// record of a journal (internal/journal). Outputs read the journal at
// their own pace and acknowledge what the receiver has: the embedded
// metric store, Prometheus remote_write receivers, OpenTSDB. On start the
// agent restores its counts and positions from the newest record, so a
// kill -9 neither loses a line nor counts one twice.
package watch
