// Package httpapi is where every route of dandan is registered, with the
// least role it needs, and how every JSON API answers.
//
// Parts call Mux.API, Mux.Page and Mux.Handle from their Mount method; the
// Mux checks the caller's role before the handler runs and turns a returned
// error into {"error": "...", "code": "..."} with a fitting status. Routes
// lists everything registered, so tests can walk every route.
package httpapi
