// Package cli holds dandan's commands (cobra): up, version, config check,
// config example, and each part's own command. Run is what main calls.
package cli
