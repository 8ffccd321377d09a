package boards

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dandan-sre/dandan/internal/sqlstore"
)

// The boards made in the UI, kept in the SQL store as JSON.
func migrations() []sqlstore.Migration {
	return []sqlstore.Migration{{
		Version: 1,
		Name:    "create boards",
		SQLite: `CREATE TABLE boards (
	name       TEXT PRIMARY KEY,
	body       TEXT NOT NULL,
	updated_at TIMESTAMP NOT NULL,
	updated_by TEXT NOT NULL
)`,
		Postgres: `CREATE TABLE boards (
	name       TEXT PRIMARY KEY,
	body       TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	updated_by TEXT NOT NULL
)`,
	}}
}

type sqlBoards struct{ db sqlstore.Store }

func (s sqlBoards) list(ctx context.Context) ([]*Board, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, body FROM boards ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list boards: %w", err)
	}
	defer rows.Close()
	var out []*Board
	for rows.Next() {
		var name, body string
		if err := rows.Scan(&name, &body); err != nil {
			return nil, err
		}
		var b Board
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			return nil, fmt.Errorf("board %s in the SQL store: %w", name, err)
		}
		b.source = "ui"
		out = append(out, &b)
	}
	return out, rows.Err()
}

func (s sqlBoards) get(ctx context.Context, name string) (*Board, error) {
	var body string
	err := s.db.QueryRowContext(ctx, `SELECT body FROM boards WHERE name = $1`, name).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoBoard
	}
	if err != nil {
		return nil, fmt.Errorf("read board %s: %w", name, err)
	}
	var b Board
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return nil, fmt.Errorf("board %s in the SQL store: %w", name, err)
	}
	b.source = "ui"
	return &b, nil
}

func (s sqlBoards) put(ctx context.Context, b *Board, who string) error {
	body, err := json.Marshal(b)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	_, err = s.db.ExecContext(ctx, `INSERT INTO boards (name, body, updated_at, updated_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO UPDATE SET body = $2, updated_at = $3, updated_by = $4`, b.Name, string(body), now, who)
	if err != nil {
		return fmt.Errorf("save board %s: %w", b.Name, err)
	}
	return nil
}

func (s sqlBoards) delete(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM boards WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("delete board %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errNoBoard
	}
	return nil
}
