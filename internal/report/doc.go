// Package report is the weekly report part: per job and overall, the
// week's traffic, peak rate, availability, latency percentiles, slowest and
// most failing paths, alerts and host saturation peaks, each against the
// week before, queried from the metric store and the event log, written as
// one self-contained HTML file and a PDF printed by headless Chromium,
// on a schedule, from the /reports page, or by `dandan report weekly`.
package report
