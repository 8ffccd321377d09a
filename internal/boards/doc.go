// Package boards is the watchdog's boards part: dashboards of PromQL
// panels (YAML in the config, a boards folder, or made in the UI and kept
// in the SQL store), a built-in service board per access-log job, and the
// TV wall board with playlists. Panels are time series, big numbers with
// a sparkline, top-N tables, status-code mixes and latency heatmaps, each
// with a unit and thresholds; events from the shared log are drawn on
// their time series.
package boards
