package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dandan-sre/dandan/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSQLite(t *testing.T) {
	dir := t.TempDir()
	runSuite(t, func(t *testing.T) *DB { return mustOpen(t, "", dir) })
}

func TestPostgres(t *testing.T) {
	pg := testkit.StartPostgres(t)
	runSuite(t, func(t *testing.T) *DB {
		db := mustOpen(t, pg.URL, "")
		if db.Redacted() != pg.URL {
			t.Errorf("Redacted() = %q, want %q (no password to hide)", db.Redacted(), pg.URL)
		}
		return db
	})
}

// mustOpen opens a store closed when t ends.
func mustOpen(t *testing.T, rawURL, dataDir string) *DB {
	t.Helper()
	db, err := Open(t.Context(), rawURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

// runSuite runs the tests every backend must pass. Each call of open returns
// a new handle, as another process would have, on the same database, so
// subtests keep to their own set and table names.
func runSuite(t *testing.T, open func(t *testing.T) *DB) {
	t.Run("migrations apply in order", func(t *testing.T) {
		db := open(t)
		ctx := t.Context()
		ms := []Migration{
			{Version: 1, Name: "create order_t", SQL: "CREATE TABLE order_t (id INTEGER PRIMARY KEY, note TEXT NOT NULL)"},
			{Version: 2, Name: "insert one", SQL: "INSERT INTO order_t (id, note) VALUES (1, 'one')"},
			{Version: 3, Name: "add extra", SQL: "ALTER TABLE order_t ADD COLUMN extra TEXT; UPDATE order_t SET extra = note || '!'"},
			{Version: 5, Name: "insert two", SQL: "INSERT INTO order_t (id, note, extra) VALUES (2, 'two', 'two!')"},
		}
		start := time.Now().Add(-time.Second)
		if err := db.Migrate(ctx, "order", ms[:2]); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, "order", ms); err != nil {
			t.Fatal(err)
		}
		if got, want := queryStrings(t, db, "SELECT extra FROM order_t ORDER BY id"), "one! two!"; got != want {
			t.Errorf("extra = %q, want %q", got, want)
		}
		if got, want := queryStrings(t, db, "SELECT name FROM dandan_migrations WHERE set_name = $1 ORDER BY version", "order"),
			"create order_t insert one add extra insert two"; got != want {
			t.Errorf("applied = %q, want %q", got, want)
		}
		var at time.Time
		if err := db.QueryRowContext(ctx, "SELECT applied_at FROM dandan_migrations WHERE set_name = $1 AND version = $2", "order", 5).Scan(&at); err != nil {
			t.Fatal(err)
		}
		if at.Before(start) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("applied_at = %v, want about now", at)
		}
	})

	t.Run("re-run is a no-op", func(t *testing.T) {
		db, other := open(t), open(t)
		ms := []Migration{
			{Version: 1, Name: "create rerun_t", SQL: "CREATE TABLE rerun_t (id INTEGER NOT NULL)"},
			{Version: 2, Name: "insert", SQL: "INSERT INTO rerun_t (id) VALUES (1)"},
		}
		for _, d := range []*DB{db, db, other} {
			if err := d.Migrate(t.Context(), "rerun", ms); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, db, "SELECT count(*) FROM rerun_t"); n != 1 {
			t.Errorf("rerun_t has %d rows, want 1", n)
		}
		if n := count(t, db, "SELECT count(*) FROM dandan_migrations WHERE set_name = $1", "rerun"); n != 2 {
			t.Errorf("dandan_migrations has %d rows for rerun, want 2", n)
		}
	})

	t.Run("failed migration rolls back and the next run retries", func(t *testing.T) {
		db := open(t)
		ctx := t.Context()
		ms := []Migration{
			{Version: 1, Name: "create fail_t", SQL: "CREATE TABLE fail_t (id INTEGER NOT NULL)"},
			{Version: 2, Name: "half done", SQL: "CREATE TABLE fail_t2 (id INTEGER); INSERT INTO fail_t (id) VALUES (1); INSERT INTO no_such_table (id) VALUES (1)"},
			{Version: 3, Name: "never reached", SQL: "INSERT INTO fail_t (id) VALUES (3)"},
		}
		err := db.Migrate(ctx, "fail", ms)
		if err == nil || !strings.HasPrefix(err.Error(), "migrate fail 2 (half done): ") || !strings.Contains(err.Error(), "no_such_table") {
			t.Fatalf("Migrate = %v, want migrate fail 2 (half done): … no_such_table …", err)
		}
		if n := count(t, db, "SELECT count(*) FROM fail_t"); n != 0 {
			t.Errorf("fail_t has %d rows after the failed migration, want 0", n)
		}
		if got := queryStrings(t, db, "SELECT version FROM dandan_migrations WHERE set_name = $1", "fail"); got != "1" {
			t.Errorf("applied versions = %q, want 1", got)
		}
		if _, err := db.ExecContext(ctx, "SELECT id FROM fail_t2"); err == nil {
			t.Error("fail_t2 exists after the failed migration")
		}

		ms[1].SQL = "CREATE TABLE fail_t2 (id INTEGER); INSERT INTO fail_t (id) VALUES (2)"
		if err := db.Migrate(ctx, "fail", ms); err != nil {
			t.Fatal(err)
		}
		if got := queryStrings(t, db, "SELECT id FROM fail_t ORDER BY id"); got != "2 3" {
			t.Errorf("fail_t ids = %q, want \"2 3\"", got)
		}
	})

	t.Run("newer database version is an error", func(t *testing.T) {
		db := open(t)
		ctx := t.Context()
		ms := []Migration{
			{Version: 1, Name: "create newer_t", SQL: "CREATE TABLE newer_t (id INTEGER)"},
			{Version: 2, Name: "add v", SQL: "ALTER TABLE newer_t ADD COLUMN v TEXT"},
			{Version: 3, Name: "add w", SQL: "ALTER TABLE newer_t ADD COLUMN w TEXT"},
		}
		if err := db.Migrate(ctx, "newer", ms); err != nil {
			t.Fatal(err)
		}
		for _, known := range [][]Migration{ms[:2], nil} {
			err := db.Migrate(ctx, "newer", known)
			if err == nil || !strings.Contains(err.Error(), "database is at version 3, newer than the latest known") {
				t.Errorf("Migrate with %d migrations = %v, want a newer-version error", len(known), err)
			}
		}
		// Another set is not affected.
		if err := db.Migrate(ctx, "newer-other", []Migration{{Version: 1, Name: "create newer_other_t", SQL: "CREATE TABLE newer_other_t (id INTEGER)"}}); err != nil {
			t.Error(err)
		}
	})

	t.Run("bad versions are errors", func(t *testing.T) {
		db := open(t)
		ctx := t.Context()
		if err := db.Migrate(ctx, "bad-gap", []Migration{
			{Version: 1, Name: "one", SQL: "CREATE TABLE gap_t (id INTEGER)"},
			{Version: 3, Name: "three", SQL: "INSERT INTO gap_t VALUES (3)"},
		}); err != nil {
			t.Fatal(err)
		}
		other := Postgres
		if db.Dialect() == Postgres {
			other = SQLite
		}
		create := Migration{Version: 1, Name: "create", SQL: "CREATE TABLE bad_t (id INTEGER)"}
		tests := []struct {
			name string
			set  string
			ms   []Migration
			want string
		}{
			{"empty set", "", []Migration{create}, "migrate : empty set name"},
			{"zero", "bad", []Migration{{Version: 0, Name: "zero", SQL: "SELECT 1"}}, "migrate bad: version 0 (zero): want 1 or more"},
			{"negative", "bad", []Migration{{Version: -1, Name: "neg", SQL: "SELECT 1"}}, "migrate bad: version -1 (neg): want 1 or more"},
			{"duplicate", "bad", []Migration{create, {Version: 1, Name: "again", SQL: "SELECT 1"}}, "migrate bad: version 1 (again): duplicate version"},
			{"out of order", "bad", []Migration{{Version: 2, Name: "two", SQL: "SELECT 1"}, create}, "migrate bad: version 1 (create) follows version 2: versions must increase"},
			{"no name", "bad", []Migration{{Version: 1, SQL: "SELECT 1"}}, "migrate bad: version 1: empty name"},
			{"no sql", "bad", []Migration{{Version: 1, Name: "nothing"}}, "migrate bad: version 1 (nothing): no SQL for " + string(db.Dialect())},
			{"other dialect only", "bad", []Migration{{Version: 1, Name: "elsewhere", SQLite: "SELECT 1", Postgres: "SELECT 1", SQL: ""}, {Version: 2, Name: "only other", SQLite: pick(other == SQLite, "SELECT 1", ""), Postgres: pick(other == Postgres, "SELECT 1", "")}}, "migrate bad: version 2 (only other): no SQL for " + string(db.Dialect())},
			{"gap below applied", "bad-gap", []Migration{
				{Version: 1, Name: "one", SQL: "SELECT 1"},
				{Version: 2, Name: "two", SQL: "SELECT 1"},
				{Version: 3, Name: "three", SQL: "SELECT 1"},
			}, "migrate bad-gap: version 2 (two) is not applied but version 3 is"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := db.Migrate(ctx, tc.set, tc.ms)
				if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("Migrate = %v, want %q…", err, tc.want)
				}
			})
		}
		if n := count(t, db, "SELECT count(*) FROM dandan_migrations WHERE set_name IN ($1, $2)", "bad", ""); n != 0 {
			t.Errorf("dandan_migrations has %d rows for the bad sets, want 0", n)
		}
	})

	t.Run("placeholders bind many types", func(t *testing.T) {
		db := open(t)
		ctx := t.Context()
		if err := db.Migrate(ctx, "types", []Migration{{
			Version:  1,
			Name:     "create types_t",
			SQLite:   "CREATE TABLE types_t (id INTEGER PRIMARY KEY, s TEXT, i BIGINT, f REAL, b BLOB, t TIMESTAMP, ok BOOLEAN, n TEXT)",
			Postgres: "CREATE TABLE types_t (id BIGINT PRIMARY KEY, s TEXT, i BIGINT, f DOUBLE PRECISION, b BYTEA, t TIMESTAMPTZ, ok BOOLEAN, n TEXT)",
		}}); err != nil {
			t.Fatal(err)
		}
		when := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.FixedZone("UTC+2", 2*3600))
		blob := []byte{0, 1, 2, 0xfe, 0xff}
		args := func(id int64) []any {
			return []any{id, "héllo 'quoted' ✓", int64(1) << 40, 3.25, blob, when, true, nil}
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO types_t (id, s, i, f, b, t, ok, n) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", args(1)...); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO types_t (n, ok, t, b, f, i, s, id) VALUES ($8, $7, $6, $5, $4, $3, $2, $1)", args(2)...); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO types_t (id) VALUES ($1)", 3); err != nil {
			t.Fatal(err)
		}

		for _, id := range []int64{1, 2} {
			var (
				s   string
				i   int64
				f   float64
				b   []byte
				ts  time.Time
				ok  bool
				n   sql.NullString
				got int64
			)
			if err := db.QueryRowContext(ctx, "SELECT id, s, i, f, b, t, ok, n FROM types_t WHERE id = $1", id).
				Scan(&got, &s, &i, &f, &b, &ts, &ok, &n); err != nil {
				t.Fatal(err)
			}
			if got != id || s != "héllo 'quoted' ✓" || i != 1<<40 || f != 3.25 || !bytes.Equal(b, blob) || !ts.Equal(when) || !ok || n.Valid {
				t.Errorf("row %d = %d %q %d %v %v %v %v %v, want %d %q %d %v %v %v %v NULL",
					id, got, s, i, f, b, ts, ok, n, id, "héllo 'quoted' ✓", int64(1)<<40, 3.25, blob, when, true)
			}
		}

		var (
			s  sql.NullString
			i  sql.NullInt64
			f  sql.NullFloat64
			b  []byte
			ts sql.NullTime
			ok sql.NullBool
		)
		if err := db.QueryRowContext(ctx, "SELECT s, i, f, b, t, ok FROM types_t WHERE id = $1", 3).Scan(&s, &i, &f, &b, &ts, &ok); err != nil {
			t.Fatal(err)
		}
		if s.Valid || i.Valid || f.Valid || b != nil || ts.Valid || ok.Valid {
			t.Errorf("row 3 = %v %v %v %v %v %v, want all NULL", s, i, f, b, ts, ok)
		}

		tests := []struct {
			name  string
			query string
			args  []any
			want  int64
		}{
			{"time", "SELECT count(*) FROM types_t WHERE t = $1", []any{when}, 2},
			{"time in UTC", "SELECT count(*) FROM types_t WHERE t = $1", []any{when.UTC()}, 2},
			{"time range", "SELECT count(*) FROM types_t WHERE t > $1 AND t < $2", []any{when.Add(-time.Microsecond), when.Add(time.Microsecond)}, 2},
			{"bytes", "SELECT count(*) FROM types_t WHERE b = $1", []any{blob}, 2},
			{"repeated", "SELECT count(*) FROM types_t WHERE i = $1 AND i >= $1", []any{int64(1) << 40}, 2},
			{"out of order", "SELECT count(*) FROM types_t WHERE s = $2 AND id = $1", []any{2, "héllo 'quoted' ✓"}, 1},
			{"null", "SELECT count(*) FROM types_t WHERE n IS NULL AND id = $1", []any{3}, 1},
			{"bool", "SELECT count(*) FROM types_t WHERE ok = $1", []any{true}, 2},
			{"float", "SELECT count(*) FROM types_t WHERE f = $1", []any{3.25}, 2},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if n := count(t, db, tc.query, tc.args...); n != tc.want {
					t.Errorf("%s = %d, want %d", tc.query, n, tc.want)
				}
			})
		}
	})

	t.Run("transactions commit and roll back", func(t *testing.T) {
		db := open(t)
		ctx := t.Context()
		if err := db.Migrate(ctx, "tx", []Migration{{Version: 1, Name: "create tx_t", SQL: "CREATE TABLE tx_t (id INTEGER PRIMARY KEY)"}}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name   string
			id     int
			commit bool
			want   int64
		}{
			{"commit", 1, true, 1},
			{"rollback", 2, false, 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO tx_t (id) VALUES ($1)", tc.id); err != nil {
					t.Fatal(err)
				}
				var n int64
				if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM tx_t WHERE id = $1", tc.id).Scan(&n); err != nil || n != 1 {
					t.Fatalf("inside the transaction: count = %d, %v; want 1", n, err)
				}
				if tc.commit {
					err = tx.Commit()
				} else {
					err = tx.Rollback()
				}
				if err != nil {
					t.Fatal(err)
				}
				if n := count(t, db, "SELECT count(*) FROM tx_t WHERE id = $1", tc.id); n != tc.want {
					t.Errorf("after the transaction: count = %d, want %d", n, tc.want)
				}
			})
		}

		t.Run("read only", func(t *testing.T) {
			tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			var n int64
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM tx_t").Scan(&n); err != nil || n != 1 {
				t.Errorf("count = %d, %v; want 1", n, err)
			}
			// A writer is not held up by the reader.
			if _, err := db.ExecContext(ctx, "INSERT INTO tx_t (id) VALUES ($1)", 3); err != nil {
				t.Errorf("insert beside a read-only transaction: %v", err)
			}
		})
	})

	t.Run("foreign keys are enforced", func(t *testing.T) {
		db := open(t)
		ctx := t.Context()
		if err := db.Migrate(ctx, "fk", []Migration{{Version: 1, Name: "create fk tables", SQL: `
			CREATE TABLE fk_parent (id INTEGER PRIMARY KEY);
			CREATE TABLE fk_child (id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES fk_parent (id))`}}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO fk_child (id, parent) VALUES ($1, $2)", 1, 42); err == nil {
			t.Error("insert of a child without its parent succeeded")
		}
	})

	t.Run("concurrent writers all land", func(t *testing.T) {
		// Two handles, as two processes would have.
		dbs := []*DB{open(t), open(t)}
		ctx := t.Context()
		if err := dbs[0].Migrate(ctx, "writers", []Migration{{Version: 1, Name: "create writers_t",
			SQL: "CREATE TABLE writers_t (g INTEGER NOT NULL, i INTEGER NOT NULL, seen INTEGER NOT NULL, PRIMARY KEY (g, i))"}}); err != nil {
			t.Fatal(err)
		}
		const goroutines, inserts = 8, 50
		errs := make(chan error, goroutines*inserts)
		var wg sync.WaitGroup
		for g := range goroutines {
			db := dbs[g%len(dbs)]
			wg.Go(func() {
				for i := range inserts {
					if err := insertWriter(ctx, db, g, i); err != nil {
						errs <- fmt.Errorf("goroutine %d insert %d: %w", g, i, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := count(t, dbs[0], "SELECT count(*) FROM writers_t"); n != goroutines*inserts {
			t.Errorf("writers_t has %d rows, want %d", n, goroutines*inserts)
		}
	})

	t.Run("concurrent Migrate applies once", func(t *testing.T) {
		dbs := []*DB{open(t), open(t)}
		ms := []Migration{
			{Version: 1, Name: "create race_t", SQL: "CREATE TABLE race_t (id INTEGER NOT NULL)"},
			{Version: 2, Name: "insert", SQL: "INSERT INTO race_t (id) VALUES (1)"},
			{Version: 3, Name: "insert again", SQL: "INSERT INTO race_t (id) VALUES (2)"},
		}
		errs := make(chan error, 8)
		var wg sync.WaitGroup
		for g := range cap(errs) {
			wg.Go(func() { errs <- dbs[g%len(dbs)].Migrate(t.Context(), "race", ms) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if n := count(t, dbs[0], "SELECT count(*) FROM race_t"); n != 2 {
			t.Errorf("race_t has %d rows, want 2", n)
		}
		if n := count(t, dbs[0], "SELECT count(*) FROM dandan_migrations WHERE set_name = $1", "race"); n != 3 {
			t.Errorf("dandan_migrations has %d rows for race, want 3", n)
		}
	})

	t.Run("context cancellation is honoured", func(t *testing.T) {
		db := open(t)
		if err := db.Migrate(t.Context(), "cancel", []Migration{{Version: 1, Name: "create cancel_t", SQL: "CREATE TABLE cancel_t (id INTEGER)"}}); err != nil {
			t.Fatal(err)
		}
		canceled, cancel := context.WithCancel(t.Context())
		cancel()

		t.Run("canceled before", func(t *testing.T) {
			if _, err := db.ExecContext(canceled, "INSERT INTO cancel_t (id) VALUES ($1)", 1); !errors.Is(err, context.Canceled) {
				t.Errorf("ExecContext = %v, want context.Canceled", err)
			}
			if err := db.Migrate(canceled, "cancel", []Migration{
				{Version: 1, Name: "create cancel_t", SQL: "CREATE TABLE cancel_t (id INTEGER)"},
				{Version: 2, Name: "insert", SQL: "INSERT INTO cancel_t (id) VALUES (2)"},
			}); !errors.Is(err, context.Canceled) {
				t.Errorf("Migrate = %v, want context.Canceled", err)
			}
			if n := count(t, db, "SELECT count(*) FROM cancel_t"); n != 0 {
				t.Errorf("cancel_t has %d rows, want 0", n)
			}
		})

		t.Run("long query", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			var n int64
			err := db.QueryRowContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000)
				SELECT count(*) FROM c`).Scan(&n)
			if err == nil {
				t.Fatalf("query ran to the end (%d) despite the deadline", n)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("query = %v, want context.DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("query returned after %v, long past its deadline", d)
			}
			// The store is still usable.
			if err := db.Ping(t.Context()); err != nil {
				t.Error(err)
			}
		})

		t.Run("transaction rolled back", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO cancel_t (id) VALUES ($1)", 3); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := tx.Commit(); err == nil {
				t.Error("Commit after cancel succeeded")
			}
			if n := count(t, db, "SELECT count(*) FROM cancel_t"); n != 0 {
				t.Errorf("cancel_t has %d rows, want 0", n)
			}
		})
	})
}

// insertWriter inserts row (g, i): in a transaction that reads before it
// writes for even i, the case a deferred SQLite transaction fails with
// SQLITE_BUSY, and as one statement for odd i.
func insertWriter(ctx context.Context, db *DB, g, i int) error {
	const insert = "INSERT INTO writers_t (g, i, seen) VALUES ($1, $2, $3)"
	if i%2 == 1 {
		_, err := db.ExecContext(ctx, insert, g, i, 0)
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var seen int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM writers_t").Scan(&seen); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, insert, g, i, seen); err != nil {
		return err
	}
	return tx.Commit()
}

// count runs a query returning one integer.
func count(t *testing.T, db *DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// queryStrings runs a query returning one column and joins its values with
// spaces.
func queryStrings(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return strings.Join(out, " ")
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		name     string
		url      string
		dataDir  string
		file     string // the database file Open must create
		redacted string
	}{
		{"default", "", filepath.Join(dir, "new", "data"), filepath.Join(dir, "new", "data", "dandan.db"), "sqlite://" + filepath.Join(dir, "new", "data", "dandan.db")},
		{"sqlite absolute", "sqlite://" + filepath.Join(dir, "abs.db"), "", filepath.Join(dir, "abs.db"), "sqlite://" + filepath.Join(dir, "abs.db")},
		{"sqlite relative", "sqlite:rel.db", "", filepath.Join(dir, "rel.db"), "sqlite:rel.db"},
		{"sqlite escaped", "sqlite:with%20space.db", "", filepath.Join(dir, "with space.db"), "sqlite:with%20space.db"},
		{"sqlite query", "sqlite:query.db?_pragma=cache_size(-4000)", "", filepath.Join(dir, "query.db"), "sqlite:query.db?_pragma=cache_size(-4000)"},
		{"file uri", "file:" + filepath.Join(dir, "uri.db"), "", filepath.Join(dir, "uri.db"), "file:" + filepath.Join(dir, "uri.db")},
		{"file uri with query", "file:uriq.db?cache=private", "", filepath.Join(dir, "uriq.db"), "file:uriq.db?cache=private"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := mustOpen(t, tc.url, tc.dataDir)
			if db.Dialect() != SQLite {
				t.Errorf("Dialect() = %q, want sqlite", db.Dialect())
			}
			if db.Redacted() != tc.redacted {
				t.Errorf("Redacted() = %q, want %q", db.Redacted(), tc.redacted)
			}
			if err := db.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tc.file); err != nil {
				t.Errorf("database file: %v", err)
			}
			pragmas := []struct{ name, want string }{
				{"journal_mode", "wal"},
				{"busy_timeout", "5000"},
				{"foreign_keys", "1"},
				{"synchronous", "1"}, // NORMAL
			}
			for _, p := range pragmas {
				var got string
				if err := db.QueryRowContext(t.Context(), "PRAGMA "+p.name).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != p.want {
					t.Errorf("PRAGMA %s = %q, want %q", p.name, got, p.want)
				}
			}
		})
	}

	fi, err := os.Stat(filepath.Join(dir, "new", "data"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o750 != 0 {
		t.Errorf("data dir mode = %v, want at most 0750", perm)
	}
}

func TestOpenErrors(t *testing.T) {
	closed := testkit.FreeAddr(t) // nothing listens there
	tests := []struct {
		name string
		url  string
		want string // a prefix of the error
	}{
		{"bad scheme", "mysql://root:s3cret@127.0.0.1/dandan", `open store: unsupported url scheme "mysql"`},
		{"no scheme", "/var/lib/dandan/dandan.db", "open store: url has no scheme"},
		{"no url and no data dir", "", "open store: no url and no data dir"},
		{"sqlite with host", "sqlite://dandan.db", `open store: sqlite url names host "dandan.db"`},
		{"sqlite without path", "sqlite:", "open store: sqlite url has no path"},
		{"sqlite missing dir", "sqlite:///nonexistent-dir/dandan.db", "open sqlite:///nonexistent-dir/dandan.db: "},
		{"malformed with password", "postgres://u:s3c/ret@127.0.0.1:notaport/dandan", "open store: malformed url (details withheld"},
		{"malformed", "postgres://127.0.0.1:notaport/dandan", `open store: malformed url: invalid port ":notaport"`},
		{"unreachable postgres", "postgres://u:s3cret@" + closed + "/dandan?sslmode=disable",
			"open postgres://u:xxxxx@" + closed + "/dandan?sslmode=disable: ping: "},
		{"unreachable postgres, password in query", "postgresql://u@" + closed + "/dandan?password=s3cret&sslmode=disable",
			"open postgresql://u@" + closed + "/dandan?password=xxxxx&sslmode=disable: ping: "},
		{"unreachable postgres, escaped password", "postgres://u:s3cret%2F%40@" + closed + "/dandan?sslmode=disable",
			"open postgres://u:xxxxx@" + closed + "/dandan?sslmode=disable: ping: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			db, err := Open(t.Context(), tc.url, "")
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Open = %q, want prefix %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3c") {
				t.Errorf("Open = %q, holds the password", err)
			}
			if d := time.Since(start); d > 6*time.Second {
				t.Errorf("Open took %v", d)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"no password", "postgres://dandan@db:5432/dandan?sslmode=disable", "postgres://dandan@db:5432/dandan?sslmode=disable"},
		{"user info", "postgres://dandan:s3cret@db:5432/dandan", "postgres://dandan:xxxxx@db:5432/dandan"},
		{"escaped", "postgres://dandan:s%40cr%2Fet@db/dandan", "postgres://dandan:xxxxx@db/dandan"},
		{"query", "postgresql://db/dandan?user=dandan&password=s3cret", "postgresql://db/dandan?password=xxxxx&user=dandan"},
		{"ssl key password", "postgres://db/dandan?sslpassword=s3cret", "postgres://db/dandan?sslpassword=xxxxx"},
		{"sqlite", "sqlite:///var/lib/dandan/dandan.db", "sqlite:///var/lib/dandan/dandan.db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := parseTarget(tc.url, "")
			if err != nil {
				t.Fatal(err)
			}
			if tg.redacted != tc.want {
				t.Errorf("redacted = %q, want %q", tg.redacted, tc.want)
			}
		})
	}
}

func TestPasswordsIn(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want []string
	}{
		{"none", "postgres://u@h/db", nil},
		{"user info", "postgres://u:pw@h/db", []string{"pw"}},
		{"escaped", "postgres://u:p%40w@h/db", []string{"p%40w", "p@w"}},
		{"unescaped at and slash", "postgres://u:p@w/x@h/db", []string{"p@w/x"}},
		{"query", "postgres://h/db?user=u&Password=pw&sslpassword=k%20ey", []string{"k%20ey", "k ey", "pw"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := passwordsIn(tc.url)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("passwordsIn(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}
