// Package testkit starts real servers for tests: redis-server (standalone
// and cluster), PostgreSQL, nginx, Apache, Prometheus, headless Chromium
// and dandan itself, each on a free loopback port in its own temporary
// directory and stopped by t.Cleanup.
// It also holds the helpers every test shares: Eventually polls instead of
// sleeping, Golden compares output with a file that `go test -update` rewrites.
package testkit
