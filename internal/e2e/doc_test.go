// Package e2e holds tests that run the whole dandan binary with several
// parts and real servers around it: what no single part's tests can show.
package e2e
