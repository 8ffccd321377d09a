package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Migration is one versioned schema step of a part's set. Each runs in its
// own transaction, together with its row in dandan_migrations, so it applies
// whole or not at all; SQL may hold several statements separated by ';'.
// Statements that cannot run in a transaction (PostgreSQL's CREATE INDEX
// CONCURRENTLY, SQLite's VACUUM or PRAGMA foreign_keys) do not belong in a
// migration; on SQLite use PRAGMA defer_foreign_keys when rebuilding a table.
//
// SQL shared by both dialects keeps to types both know (INTEGER, BIGINT,
// TEXT, BOOLEAN, DOUBLE PRECISION); bytes (BLOB, BYTEA), times and generated
// keys (INTEGER PRIMARY KEY, GENERATED ALWAYS AS IDENTITY) need the dialect
// fields. SQLite returns a time.Time only from a column declared TIMESTAMP,
// DATETIME or DATE, and stores it as UTC text; on PostgreSQL use TIMESTAMPTZ.
type Migration struct {
	Version  int    // 1, 2, 3 … within its set, applied in order
	Name     string // short, e.g. "create sessions"
	SQL      string // used by both dialects unless the dialect-specific one is set
	SQLite   string // replaces SQL on SQLite
	Postgres string // replaces SQL on PostgreSQL
}

// query returns the migration's SQL for d.
func (m *Migration) query(d Dialect) string {
	switch {
	case d == SQLite && m.SQLite != "":
		return m.SQLite
	case d == Postgres && m.Postgres != "":
		return m.Postgres
	}
	return m.SQL
}

// createMigrations returns the statement creating the table that records
// applied migrations.
func createMigrations(d Dialect) string {
	timestamp := "TIMESTAMP"
	if d == Postgres {
		timestamp = "TIMESTAMPTZ"
	}
	return `CREATE TABLE IF NOT EXISTS dandan_migrations (
	set_name   TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	applied_at ` + timestamp + ` NOT NULL,
	PRIMARY KEY (set_name, version)
)`
}

// migrateLockKey is the pg_advisory_xact_lock key every Migrate takes on
// PostgreSQL, whatever its set, so that concurrent processes also agree on
// who creates dandan_migrations. ("dandan" in ASCII.)
const migrateLockKey int64 = 0x64616e64616e

// Migrate applies the migrations of set that the database lacks, in version
// order, each in its own transaction with its row in dandan_migrations.
// Re-running it is a no-op. It returns an error, having applied nothing, when
// versions are not increasing from 1 or more, when a migration has no name
// or no SQL for the dialect, when the database holds a version newer than
// the last of ms (no silent downgrade) or lacks one older than its newest.
// A failing migration is rolled back and reported as
// "migrate <set> <version> (<name>): <err>"; the ones before it stay applied
// and the next run retries it.
//
// Concurrent calls, in this process or others, apply each migration once:
// every step first takes a lock, pg_advisory_xact_lock on PostgreSQL and the
// write lock (BEGIN IMMEDIATE) on SQLite, then reads what is applied.
func (db *DB) Migrate(ctx context.Context, set string, ms []Migration) error {
	if err := checkMigrations(set, ms, db.dialect); err != nil {
		return fmt.Errorf("migrate %s: %w", set, err)
	}
	for {
		done, err := db.migrateNext(ctx, set, ms)
		if err != nil || done {
			return err
		}
	}
}

// checkMigrations catches the programmer's mistakes in ms.
func checkMigrations(set string, ms []Migration, d Dialect) error {
	if set == "" {
		return errors.New("empty set name")
	}
	prev := 0
	for i := range ms {
		m := &ms[i]
		switch {
		case m.Version < 1:
			return fmt.Errorf("version %d (%s): want 1 or more", m.Version, m.Name)
		case m.Version == prev:
			return fmt.Errorf("version %d (%s): duplicate version", m.Version, m.Name)
		case m.Version < prev:
			return fmt.Errorf("version %d (%s) follows version %d: versions must increase", m.Version, m.Name, prev)
		case strings.TrimSpace(m.Name) == "":
			return fmt.Errorf("version %d: empty name", m.Version)
		case strings.TrimSpace(m.query(d)) == "":
			return fmt.Errorf("version %d (%s): no SQL for %s", m.Version, m.Name, d)
		}
		prev = m.Version
	}
	return nil
}

// migrateNext applies, in one transaction, the first migration of ms that
// the database lacks. It reports done when none is left.
func (db *DB) migrateNext(ctx context.Context, set string, ms []Migration) (done bool, err error) {
	tx, err := db.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE on SQLite
	if err != nil {
		return false, fmt.Errorf("migrate %s: begin: %w", set, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error at hand says more
		}
	}()

	if db.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return false, fmt.Errorf("migrate %s: lock: %w", set, err)
		}
	}
	if _, err := tx.ExecContext(ctx, createMigrations(db.dialect)); err != nil {
		return false, fmt.Errorf("migrate %s: create dandan_migrations: %w", set, err)
	}
	applied, err := appliedVersions(ctx, tx, set)
	if err != nil {
		return false, fmt.Errorf("migrate %s: %w", set, err)
	}
	m, err := nextMigration(ms, applied)
	if err != nil {
		return false, fmt.Errorf("migrate %s: %w", set, err)
	}
	if m == nil {
		// Commit keeps dandan_migrations if this call created it.
		if err := tx.Commit(); err != nil {
			return false, fmt.Errorf("migrate %s: commit: %w", set, err)
		}
		return true, nil
	}

	if _, err := tx.ExecContext(ctx, m.query(db.dialect)); err != nil {
		return false, fmt.Errorf("migrate %s %d (%s): %w", set, m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO dandan_migrations (set_name, version, name, applied_at) VALUES ($1, $2, $3, $4)",
		set, m.Version, m.Name, time.Now().UTC()); err != nil {
		return false, fmt.Errorf("migrate %s %d (%s): record: %w", set, m.Version, m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate %s %d (%s): commit: %w", set, m.Version, m.Name, err)
	}
	return false, nil
}

// appliedVersions reads the versions of set in dandan_migrations.
func appliedVersions(ctx context.Context, tx *sql.Tx, set string) (map[int]bool, error) {
	rows, err := tx.QueryContext(ctx, "SELECT version FROM dandan_migrations WHERE set_name = $1", set)
	if err != nil {
		return nil, fmt.Errorf("read dandan_migrations: %w", err)
	}
	defer rows.Close()
	applied := make(map[int]bool)
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read dandan_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read dandan_migrations: %w", err)
	}
	return applied, nil
}

// nextMigration returns the first of ms not in applied, or nil. It refuses a
// database newer than ms, and a migration older than the newest applied one
// (added below it after the fact, it would run out of order).
func nextMigration(ms []Migration, applied map[int]bool) (*Migration, error) {
	newest := 0
	for v := range applied {
		newest = max(newest, v)
	}
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].Version
	}
	if newest > latest {
		return nil, fmt.Errorf("database is at version %d, newer than the latest known %d: refusing to downgrade", newest, latest)
	}
	for i := range ms {
		m := &ms[i]
		if applied[m.Version] {
			continue
		}
		if m.Version < newest {
			return nil, fmt.Errorf("version %d (%s) is not applied but version %d is: add new migrations after the latest", m.Version, m.Name, newest)
		}
		return m, nil
	}
	return nil, nil
}
