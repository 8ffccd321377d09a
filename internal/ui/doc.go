// Package ui is dandan's web UI shell: one layout with navigation to every
// part, shared partials, themes (light, dark, TV), and the vendored htmx and
// uPlot served from embedded files at checksummed URLs. Parts bring their own
// page templates and render them through Pages, fed typed view structs.
package ui
