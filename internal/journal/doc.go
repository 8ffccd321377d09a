// Package journal is dandan's durable, bounded, multi-consumer record log:
// the watchdog agent appends one record per flush (samples plus the file
// checkpoints that produced them) and each output reads it at its own pace
// from its own persisted acknowledged position.
//
// Guarantees:
//   - A record is durable against a kill of the process (kill -9, panic,
//     OOM kill) once Append returns: it was handed to the kernel with a
//     single write. Against power loss or a kernel crash only with
//     Options.Sync, which fsyncs every append, segment and consumer file.
//   - Delivery to consumers is at least once: a consumer resumes after its
//     last acknowledged record, so records read but not acknowledged before
//     a restart are read again. AckWith records the range a sender has in
//     flight so that it can resend exactly that range first after a restart.
//   - Disk use stays under Options.MaxBytes. Past it the oldest segments are
//     deleted even if unacknowledged, and each consumer's dropped records and
//     samples are counted exactly (Stats, Options.OnDrop): never a silent gap.
//   - Open recovers from a torn or corrupt tail: every complete record
//     written before a crash is kept, a partial one is cut away.
//
// On disk, dir holds segment files named by a 20-digit sequence number
// ("00000000000000000001.seg"), a LOCK file, and consumers/<name>, one JSON
// file per consumer replaced atomically (write to a temporary file, rename).
// A segment is an 8-byte header ("DJNL" and the format version, uint32
// little-endian) followed by records that never span segments. A record is
// a 32-byte header and its payload; all integers are little-endian:
//
//	offset size field
//	0      4    payload length
//	4      4    CRC32-C (Castagnoli) of bytes 8..32 of the header and the payload
//	8      8    record number: 1 for the first record, +1 for each next one
//	16     8    samples in all records before this one
//	24     4    samples in this record
//	28     4    reserved, zero
//
// The record numbers and running sample totals make pending and dropped
// counts exact arithmetic rather than a scan.
package journal
