package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/sqlstore"
)

// auditMigrations create the audit log of writes.
func auditMigrations() []sqlstore.Migration {
	return []sqlstore.Migration{{
		Version: 1,
		Name:    "create redis_audit",
		SQLite: `CREATE TABLE redis_audit (
	id       INTEGER PRIMARY KEY,
	at       TIMESTAMP NOT NULL,
	who      TEXT NOT NULL,
	conn     TEXT NOT NULL,
	command  TEXT NOT NULL,
	key_text TEXT NOT NULL,
	key_b64  TEXT NOT NULL,
	outcome  TEXT NOT NULL
)`,
		Postgres: `CREATE TABLE redis_audit (
	id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at       TIMESTAMPTZ NOT NULL,
	who      TEXT NOT NULL,
	conn     TEXT NOT NULL,
	command  TEXT NOT NULL,
	key_text TEXT NOT NULL,
	key_b64  TEXT NOT NULL,
	outcome  TEXT NOT NULL
)`,
	}}
}

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Who     string    `json:"who"`
	Conn    string    `json:"conn"`
	Command string    `json:"command"`
	Key     string    `json:"key"`
	KeyB64  string    `json:"key_b64"`
	Outcome string    `json:"outcome"`
}

// writeOp is one write an operator asks for.
type writeOp struct {
	kind  string // delete, ttl, value, field
	key   []byte
	ttlMS int64  // ttl: > 0 expire in, -1 persist
	field []byte // field
	value []byte // value, field
}

// command returns the Redis command of op and how it is logged (values are
// logged by size only).
func (op writeOp) command() (args []any, logged string, err error) {
	k := string(op.key)
	q := cliQuote(op.key)
	switch op.kind {
	case "delete":
		return []any{"unlink", k}, "UNLINK " + q, nil
	case "ttl":
		if op.ttlMS == -1 {
			return []any{"persist", k}, "PERSIST " + q, nil
		}
		if op.ttlMS <= 0 {
			return nil, "", &paramError{name: "ttl_ms", err: errors.New("must be more than 0, or -1 to remove the expiry")}
		}
		ms := strconv.FormatInt(op.ttlMS, 10)
		return []any{"pexpire", k, ms}, "PEXPIRE " + q + " " + ms, nil
	case "value":
		return []any{"set", k, string(op.value), "xx", "keepttl"}, fmt.Sprintf("SET %s <%d bytes> XX KEEPTTL", q, len(op.value)), nil
	case "field":
		return []any{"hset", k, string(op.field), string(op.value)}, fmt.Sprintf("HSET %s %s <%d bytes>", q, cliQuote(op.field), len(op.value)), nil
	}
	return nil, "", fmt.Errorf("unknown write %q", op.kind)
}

// WriteResult is the answer of a write.
type WriteResult struct {
	Command string `json:"command"`
	Result  int64  `json:"result"`
	AuditID int64  `json:"audit_id"`
}

// errReadOnly is wrapped when a write is asked of a read-only connection.
var errReadOnly = errors.New("read-only")

// write runs op on c for who, after writing its audit row; the row gets the
// outcome after.
func (p *Redis) write(ctx context.Context, c *Conn, who string, op writeOp) (*WriteResult, error) {
	if c.cfg.readOnly() {
		return nil, httpapi.Forbidden("connection %q is read-only: writes need readonly: false in its config", c.name)
	}
	if p.sql == nil {
		return nil, httpapi.Unavailable("writes need the audit log in the SQL store", errors.New("no SQL store"))
	}
	args, logged, err := op.command()
	if err != nil {
		return nil, err
	}
	cl := c.keys()
	// Edits keep to the key's type.
	want := map[string]string{"value": "string", "field": "hash"}[op.kind]
	if want != "" {
		typ, err := cl.Type(ctx, string(op.key)).Result()
		if err != nil {
			return nil, err
		}
		if typ != want {
			return nil, &paramError{name: "name", err: fmt.Errorf("key %q is a %s, not a %s", display(op.key), typ, want)}
		}
	}
	var id int64
	err = p.sql.QueryRowContext(ctx, `INSERT INTO redis_audit (at, who, conn, command, key_text, key_b64, outcome)
VALUES ($1, $2, $3, $4, $5, $6, 'pending') RETURNING id`, time.Now().UTC(), who, c.name, logged, display(op.key), b64(op.key)).Scan(&id)
	if err != nil {
		return nil, fmt.Errorf("write audit row: %w", err)
	}
	res, cmdErr := cl.Do(ctx, args...).Result()
	outcome := "ok"
	if cmdErr != nil && !errors.Is(cmdErr, goredis.Nil) {
		outcome = "error: " + cmdErr.Error()
	}
	if _, err := p.sql.ExecContext(context.WithoutCancel(ctx), `UPDATE redis_audit SET outcome = $1 WHERE id = $2`, outcome, id); err != nil {
		return nil, fmt.Errorf("update audit row %d: %w", id, err)
	}
	if cmdErr != nil && !errors.Is(cmdErr, goredis.Nil) {
		return nil, cmdErr
	}
	out := &WriteResult{Command: logged, AuditID: id}
	switch v := res.(type) {
	case int64:
		out.Result = v
	case string:
		out.Result = 1
	}
	return out, nil
}

// audit returns the newest rows of the audit log of conn ("" for all).
func (p *Redis) audit(ctx context.Context, conn string, limit int) ([]AuditEntry, error) {
	out := []AuditEntry{}
	if p.sql == nil {
		return out, nil
	}
	rows, err := p.sql.QueryContext(ctx, `SELECT id, at, who, conn, command, key_text, key_b64, outcome FROM redis_audit
WHERE $1 = '' OR conn = $1 ORDER BY id DESC LIMIT $2`, conn, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, &e.At, &e.Who, &e.Conn, &e.Command, &e.Key, &e.KeyB64, &e.Outcome); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
