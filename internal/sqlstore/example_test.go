package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/dandan-sre/dandan/internal/sqlstore"
)

// A part opens the store (here the default SQLite file in its data dir),
// brings its schema up to date and queries with $N placeholders, which work
// the same on PostgreSQL.
func Example() {
	ctx := context.Background()
	dataDir, err := os.MkdirTemp("", "sqlstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)

	db, err := sqlstore.Open(ctx, "", dataDir) // "" → <dataDir>/dandan.db
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	err = db.Migrate(ctx, "notes", []sqlstore.Migration{
		{Version: 1, Name: "create notes", SQL: `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`},
		{
			Version:  2,
			Name:     "add created",
			SQLite:   `ALTER TABLE notes ADD COLUMN created TIMESTAMP`,
			Postgres: `ALTER TABLE notes ADD COLUMN created TIMESTAMPTZ`,
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, body := range []string{"disk full on db1", "db1 cleaned"} {
		_, err := db.ExecContext(ctx, `INSERT INTO notes (id, body, created) VALUES ($1, $2, $3)`,
			i+1, body, created.Add(time.Duration(i)*time.Minute))
		if err != nil {
			log.Fatal(err)
		}
	}

	rows, err := db.QueryContext(ctx, `SELECT id, body, created FROM notes WHERE created >= $1 ORDER BY id`, created)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   int
			body string
			at   time.Time
		)
		if err := rows.Scan(&id, &body, &at); err != nil {
			log.Fatal(err)
		}
		fmt.Println(id, body, at.Format(time.RFC3339))
	}
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("dialect:", db.Dialect())
	// Output:
	// 1 disk full on db1 2025-01-02T03:04:05Z
	// 2 db1 cleaned 2025-01-02T03:05:05Z
	// dialect: sqlite
}
