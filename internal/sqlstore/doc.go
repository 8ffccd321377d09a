// Package sqlstore is dandan's one SQL store, shared by every part: SQLite
// (pure Go, WAL mode) in the data dir by default, PostgreSQL when the
// configured URL is a postgres:// URL. Parts use it through the small [Store]
// interface with $1, $2 … placeholders on both backends, and bring their own
// versioned [Migration] sets, which [DB.Migrate] applies once, in order.
package sqlstore
