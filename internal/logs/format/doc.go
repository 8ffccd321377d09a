// Package format compiles access-log formats into line parsers: nginx
// log_format strings, Apache LogFormat strings, the presets (combined,
// common, media-nginx, media-apache) and JSON lines with a field mapping.
// A compiled Format is immutable; each goroutine parses with its own
// Parser, which scans byte slices without regular expressions and without
// allocating.
package format
