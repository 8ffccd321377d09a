// Package logs is dandan's access-log engine and its one-shot command,
// `dandan logs parse`. An Aggregator takes log lines as bytes (no I/O of
// its own), parses them with a compiled format (package format), maps
// each path to a template under a hard cap, and counts requests, bytes,
// durations, referers and top clients into Prometheus-style metric
// families, emitting the series that changed at each second of log time.
// One Aggregator per goroutine; Merge combines them.
//
// `logs parse` runs one Aggregator in a pipeline (pipeline.go) that keeps
// its output exactly that of feeding the lines one by one while it uses
// every core: workers parse lines and template their paths, and format
// the output of each second, around the one goroutine that counts.
package logs
