// Package tail follows log files by polling and hands out their complete
// lines in chunks, each with the checkpoint (Position) just after it. A
// caller that commits each chunk's Position with what it counted, and
// restarts from its committed Positions, gets every line written to a
// followed file exactly once, in order per file.
//
// That holds across rotation by rename or copytruncate, truncation in place,
// inode reuse, files that appear later, deleted and recreated files,
// retargeted symlinks, rotations while stopped (gzip-compressed rotated
// files included) and restarts. A file is known by its device, inode and a
// SHA-256 of its first FingerprintLen bytes; rotated siblings
// (access.log.1, access.log-20261125.gz) are consulted only to find where a
// known file went, never read from scratch.
//
// Limits: what is gone from disk cannot be read (a file rotated and then
// deleted while the follower was stopped: the loss is logged). Files whose
// first FingerprintLen bytes are equal, or a file truncated and rewritten
// with its old first bytes between two polls, are taken for one file.
// copytruncate loses what is written between its copy and its truncate.
// Files rotated twice between two polls or while stopped are ordered by
// modification time. The lag of a compressed file is its compressed size.
package tail
