package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// Dialect names the SQL backend.
type Dialect string

const (
	// SQLite is the embedded default: a file in the data dir, opened with
	// the pure Go modernc.org/sqlite driver in WAL mode.
	SQLite Dialect = "sqlite"
	// Postgres is PostgreSQL, reached through pgx's database/sql driver.
	Postgres Dialect = "postgres"
)

// Store is what parts use. Queries use $1, $2 … placeholders on both
// backends: PostgreSQL numbers its parameters so, and SQLite reads $N as a
// named parameter that modernc.org/sqlite binds to the N-th argument, so a
// placeholder may appear out of order or more than once on both.
type Store interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
	Dialect() Dialect
	// Migrate applies the migrations of set that are not applied yet.
	Migrate(ctx context.Context, set string, ms []Migration) error
}

// DB is an open store, SQLite or PostgreSQL. It is safe for concurrent use
// and is closed with Close.
type DB struct {
	db       *sql.DB
	dialect  Dialect
	redacted string   // the URL for logs and errors, passwords masked
	secrets  []string // passwords in the URL, scrubbed from errors
	mkdir    string   // created by Start, for the default file
}

var _ Store = (*DB)(nil)

const (
	// sqliteMaxConns bounds the SQLite pool: readers run in parallel under
	// WAL, writers queue on the database's write lock.
	sqliteMaxConns = 8

	// pgConnectTimeout bounds each connection attempt when the URL sets no
	// connect_timeout, and pgPingTimeout the ping in Open.
	pgConnectTimeout = 5 * time.Second
	pgPingTimeout    = 5 * time.Second
	pgMaxOpenConns   = 16
	pgMaxIdleConns   = 4
	pgConnMaxIdle    = 5 * time.Minute
	pgConnMaxLife    = time.Hour
)

// sqliteParams are the modernc.org/sqlite DSN parameters every SQLite
// connection is opened with: WAL, a writer waits up to 5s for the write lock
// (busy_timeout) before it fails with SQLITE_BUSY, foreign keys enforced,
// synchronous=NORMAL (in WAL, power loss may drop the last commits but
// never corrupts the file).
//
// Concurrent writers: the pool keeps several connections so that readers
// run in parallel with a writer (WAL), and _txlock=immediate makes every
// read-write transaction start with BEGIN IMMEDIATE, taking the write lock
// up front. A writer that finds the lock taken waits for it under
// busy_timeout (the driver's busy handler also gives up when the call's
// context is done), instead of failing with SQLITE_BUSY as a deferred
// transaction does when it tries to upgrade a read to a write after another
// connection wrote. The alternative, SetMaxOpenConns(1), also serializes
// readers and deadlocks a caller that queries the DB while it holds a
// transaction or iterates rows; BEGIN IMMEDIATE also serializes writers in
// other processes, which Migrate relies on. Read-only transactions
// (sql.TxOptions.ReadOnly) still begin DEFERRED and take no write lock.
//
// Times are written in UTC as "2006-01-02 15:04:05.999999999-07:00"
// (_time_format=sqlite), which SQLite's date functions read and which sorts
// as text; they are read back into time.Time from columns declared DATE,
// DATETIME or TIMESTAMP.
const sqliteParams = "_busy_timeout=5000" + // ms
	"&_journal_mode=WAL" +
	"&_foreign_keys=on" +
	"&_synchronous=NORMAL" +
	"&_txlock=immediate" +
	"&_time_format=sqlite" +
	"&_timezone=UTC"

// New prepares the store named by rawURL without touching it (Start does
// the I/O), so that it can be handed to parts before anything starts:
//
//   - "" names the SQLite file <dataDir>/dandan.db (dataDir is created 0o750
//     by Start);
//   - sqlite:///abs/path.db, sqlite:relative/path.db (relative to the
//     working directory) or a SQLite file: URI names SQLite there; extra
//     query parameters go to modernc.org/sqlite;
//   - postgres:// or postgresql:// names PostgreSQL, reached with pgx.
//
// Errors never include a password from the URL.
func New(rawURL, dataDir string) (*DB, error) {
	tg, err := parseTarget(rawURL, dataDir)
	if err != nil {
		return nil, scrub(fmt.Errorf("open store: %w", err), tg.secrets)
	}
	var db *sql.DB
	switch tg.dialect {
	case SQLite:
		db, err = newSQLite(tg)
	case Postgres:
		db, err = newPostgres(tg)
	}
	if err != nil {
		return nil, scrub(fmt.Errorf("open %s: %w", tg.redacted, err), tg.secrets)
	}
	return &DB{db: db, dialect: tg.dialect, redacted: tg.redacted, secrets: tg.secrets, mkdir: tg.mkdir}, nil
}

// Start connects: it creates the SQLite file's directory and checks WAL
// mode, or pings PostgreSQL within a few seconds.
func (db *DB) Start(ctx context.Context) error {
	var err error
	switch db.dialect {
	case SQLite:
		err = db.startSQLite(ctx)
	case Postgres:
		ctx, cancel := context.WithTimeout(ctx, pgPingTimeout)
		defer cancel()
		if err = db.db.PingContext(ctx); err != nil {
			err = fmt.Errorf("ping: %w", err)
		}
	}
	if err != nil {
		return scrub(fmt.Errorf("open %s: %w", db.redacted, err), db.secrets)
	}
	return nil
}

// Open is New followed by Start; on error nothing is left open.
func Open(ctx context.Context, rawURL, dataDir string) (*DB, error) {
	db, err := New(rawURL, dataDir)
	if err != nil {
		return nil, err
	}
	if err := db.Start(ctx); err != nil {
		db.db.Close()
		return nil, err
	}
	return db, nil
}

func newSQLite(tg target) (*sql.DB, error) {
	c, err := sqlite.NewConnector(tg.dsn)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(sqliteMaxConns)
	db.SetMaxIdleConns(sqliteMaxConns)
	return db, nil
}

func (db *DB) startSQLite(ctx context.Context) error {
	if db.mkdir != "" {
		if err := os.MkdirAll(db.mkdir, 0o750); err != nil {
			return err // *PathError: "mkdir /data: permission denied"
		}
	}
	// The first query opens a connection, applying the pragmas; check the
	// one SQLite may silently refuse.
	var mode string
	if err := db.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	return nil
}

func newPostgres(tg target) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(tg.dsn)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgMaxOpenConns)
	db.SetMaxIdleConns(pgMaxIdleConns)
	db.SetConnMaxIdleTime(pgConnMaxIdle)
	db.SetConnMaxLifetime(pgConnMaxLife)
	return db, nil
}

// ExecContext executes a query that returns no rows.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.db.ExecContext(ctx, query, args...)
}

// QueryContext executes a query that returns rows.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.db.QueryContext(ctx, query, args...)
}

// QueryRowContext executes a query that returns at most one row.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.db.QueryRowContext(ctx, query, args...)
}

// BeginTx starts a transaction; on SQLite a read-write one takes the write
// lock at once (BEGIN IMMEDIATE). It is rolled back if ctx is done before
// Commit.
func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	return db.db.BeginTx(ctx, opts)
}

// Dialect reports the backend, SQLite or Postgres.
func (db *DB) Dialect() Dialect { return db.dialect }

// Redacted returns the store's URL with any password replaced by "xxxxx",
// for logs and the UI. For the default SQLite file it is
// sqlite:///<dataDir>/dandan.db.
func (db *DB) Redacted() string { return db.redacted }

// Ping checks that the database is reachable.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return scrub(fmt.Errorf("ping %s: %w", db.redacted, err), db.secrets)
	}
	return nil
}

// Close closes the database; it waits for queries in progress to finish.
func (db *DB) Close() error {
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", db.redacted, err)
	}
	return nil
}
