package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/sqlstore"
)

// The alerts table keeps every alert that fired: one row from firing to
// resolved, so that the history survives restarts and an alert still open
// at a restart continues its row.
func migrations() []sqlstore.Migration {
	const cols = `
	fingerprint  TEXT NOT NULL,
	alertname    TEXT NOT NULL,
	labels       TEXT NOT NULL,
	annotations  TEXT NOT NULL,
	state        TEXT NOT NULL,
	value        DOUBLE PRECISION,
	active_at    %[1]s NOT NULL,
	started_at   %[1]s NOT NULL,
	resolved_at  %[1]s,
	last_sent_at %[1]s NOT NULL,
	valid_until  %[1]s NOT NULL,
	event_id     BIGINT
);
CREATE INDEX alerts_started_at ON alerts (started_at);
CREATE INDEX alerts_state ON alerts (state, fingerprint)`
	return []sqlstore.Migration{{
		Version:  1,
		Name:     "create alerts",
		SQLite:   "CREATE TABLE alerts (\n\tid           INTEGER PRIMARY KEY," + fmt.Sprintf(cols, "TIMESTAMP"),
		Postgres: "CREATE TABLE alerts (\n\tid           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY," + fmt.Sprintf(cols, "TIMESTAMPTZ"),
	}}
}

// HistoryEntry is one alert that fired: its row in the alerts table.
type HistoryEntry struct {
	ID          int64             `json:"id"`
	Fingerprint string            `json:"fingerprint"` // of the labels, as Alertmanager's
	Name        string            `json:"name"`
	State       string            `json:"state"` // firing or resolved
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Value       Value             `json:"value"` // at the last notification
	ActiveAt    time.Time         `json:"active_at"`
	StartedAt   time.Time         `json:"started_at"` // when it fired
	ResolvedAt  time.Time         `json:"resolved_at,omitzero"`
	LastSentAt  time.Time         `json:"last_sent_at"`
}

// HistoryFilter selects alerts for History.
type HistoryFilter struct {
	From, To time.Time // alerts firing at some time in [From, To]; zero: unbounded
	Name     string    // "" any
	Limit    int       // 0: 1000
}

// Value is a sample value; in JSON a number, or "NaN", "+Inf", "-Inf".
type Value float64

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return json.Marshal(formatFloat(f))
	}
	return json.Marshal(f)
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*v = Value(f)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*v = Value(f)
	return nil
}

// history reads and writes the alerts table; a nil db keeps nothing.
type history struct {
	db sqlstore.Store
}

// openRow is a firing alert's row.
type openRow struct {
	id, eventID int64
	notice      notice
}

// loadOpen returns the rows of alerts still firing, by fingerprint.
func (h history) loadOpen(ctx context.Context) (map[string]*openRow, error) {
	out := map[string]*openRow{}
	if h.db == nil {
		return out, nil
	}
	rows, err := h.db.QueryContext(ctx, `SELECT id, fingerprint, labels, annotations, value, active_at, started_at, last_sent_at, valid_until, event_id
FROM alerts WHERE state = 'firing'`)
	if err != nil {
		return nil, fmt.Errorf("load firing alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r openRow
		var lb, an string
		var v sql.NullFloat64
		var ev sql.NullInt64
		n := &r.notice
		if err := rows.Scan(&r.id, &n.fingerprint, &lb, &an, &v, &n.activeAt, &n.startsAt, &n.sentAt, &n.validUntil, &ev); err != nil {
			return nil, fmt.Errorf("load firing alerts: %w", err)
		}
		n.labels, n.annotations = decodeMap(lb), decodeMap(an)
		n.value = nullValue(v)
		r.eventID = ev.Int64
		out[n.fingerprint] = &r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load firing alerts: %w", err)
	}
	return out, nil
}

// insert adds the row of a newly firing alert and returns its ID.
func (h history) insert(ctx context.Context, n *notice, eventID int64) (int64, error) {
	if h.db == nil {
		return 0, nil
	}
	var ev any
	if eventID != 0 {
		ev = eventID
	}
	var id int64
	err := h.db.QueryRowContext(ctx, `INSERT INTO alerts (fingerprint, alertname, labels, annotations, state, value, active_at, started_at, last_sent_at, valid_until, event_id)
VALUES ($1, $2, $3, $4, 'firing', $5, $6, $7, $8, $9, $10) RETURNING id`,
		n.fingerprint, n.labels["alertname"], encodeMap(n.labels), encodeMap(n.annotations), sqlValue(n.value),
		n.activeAt.UTC(), n.startsAt.UTC(), n.sentAt.UTC(), n.validUntil.UTC(), ev).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record alert %s: %w", n.labels["alertname"], err)
	}
	return id, nil
}

// touch records that a firing alert was sent again.
func (h history) touch(ctx context.Context, id int64, n *notice) error {
	if h.db == nil {
		return nil
	}
	_, err := h.db.ExecContext(ctx, `UPDATE alerts SET annotations = $1, value = $2, last_sent_at = $3, valid_until = $4 WHERE id = $5`,
		encodeMap(n.annotations), sqlValue(n.value), n.sentAt.UTC(), n.validUntil.UTC(), id)
	if err != nil {
		return fmt.Errorf("update alert %d: %w", id, err)
	}
	return nil
}

// resolve closes a row.
func (h history) resolve(ctx context.Context, id int64, at time.Time) error {
	if h.db == nil {
		return nil
	}
	_, err := h.db.ExecContext(ctx, `UPDATE alerts SET state = 'resolved', resolved_at = $1, last_sent_at = $1 WHERE id = $2`, at.UTC(), id)
	if err != nil {
		return fmt.Errorf("resolve alert %d: %w", id, err)
	}
	return nil
}

// list returns the alerts f selects, the latest first.
func (h history) list(ctx context.Context, f HistoryFilter) ([]HistoryEntry, error) {
	if h.db == nil {
		return nil, nil
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !f.To.IsZero() {
		where = append(where, "started_at <= "+arg(f.To.UTC()))
	}
	if !f.From.IsZero() {
		where = append(where, "(resolved_at IS NULL OR resolved_at >= "+arg(f.From.UTC())+")")
	}
	if f.Name != "" {
		where = append(where, "alertname = "+arg(f.Name))
	}
	limit := f.Limit
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	q := `SELECT id, fingerprint, alertname, state, labels, annotations, value, active_at, started_at, resolved_at, last_sent_at FROM alerts`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY started_at DESC, id DESC LIMIT " + strconv.Itoa(limit)
	rows, err := h.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	out := []HistoryEntry{}
	for rows.Next() {
		var e HistoryEntry
		var lb, an string
		var v sql.NullFloat64
		var res sql.NullTime
		if err := rows.Scan(&e.ID, &e.Fingerprint, &e.Name, &e.State, &lb, &an, &v, &e.ActiveAt, &e.StartedAt, &res, &e.LastSentAt); err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		e.Labels, e.Annotations, e.Value = decodeMap(lb), decodeMap(an), Value(nullValue(v))
		e.ActiveAt, e.StartedAt, e.LastSentAt = e.ActiveAt.UTC(), e.StartedAt.UTC(), e.LastSentAt.UTC()
		if res.Valid {
			e.ResolvedAt = res.Time.UTC()
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

func encodeMap(m map[string]string) string {
	if m == nil {
		m = map[string]string{}
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return string(b)
}

func decodeMap(s string) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(s), &m) // written by encodeMap
	return m
}

// sqlValue stores NaN as NULL: SQLite cannot keep it.
func sqlValue(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return v
}

func nullValue(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}
