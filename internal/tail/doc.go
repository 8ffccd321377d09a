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
// (access.log.1, access.log-20261125.gz) are read only to finish a known
// file that went there and the files rotated after it, never older ones.
// A sibling is read through the descriptor it was identified by, whatever
// the next rotation renames it to; a listing during which a sibling is
// renamed is made again.
//
// Limits: what is gone from disk cannot be read (a file rotated and then
// deleted while the follower was stopped: the loss is logged). Files whose
// first FingerprintLen bytes are equal, or a file truncated and rewritten
// with its old first bytes between two polls, are taken for one file.
// copytruncate loses what is written between its copy and its truncate.
// Files rotated twice between two polls or while stopped are ordered by
// the number or date in their names (access.log.2.gz before access.log.1,
// access.log-20261124 before access.log-20261125), else by the
// modification time in their gzip header, else by their own. A directory
// whose rotated files keep being renamed through ten listings in a row
// is taken as last listed. The lag of a compressed file is its compressed
// size.
package tail
