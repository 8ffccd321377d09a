// Package server runs dandan's one HTTP server: timeouts and size limits,
// the access log, authentication by bearer token or UI session, CSRF and
// cross-origin protection, and the shell's own routes (/healthz, /readyz,
// /metrics, login, the overview and status pages, /api/status).
package server
