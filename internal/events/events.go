package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/sqlstore"
)

// Severity orders events by how much they matter.
type Severity string

// Severities, least to most.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Event is one thing that happened.
type Event struct {
	ID       int64             `json:"id"`
	Time     time.Time         `json:"time"`
	Part     string            `json:"part"`     // who recorded it: "watch", "alerts", "dandan"
	Kind     string            `json:"kind"`     // what happened: "alert_firing", "start"
	Severity Severity          `json:"severity"` // info, warning or critical
	Text     string            `json:"text"`     // one line for people
	Labels   map[string]string `json:"labels"`   // for filtering by a board's labels: job, path, alertname
	Link     string            `json:"link,omitempty"`
	// Lasting marks an event with a duration (an alert, an outage): End
	// is when it ended, zero while it lasts. A point event's End is its
	// Time.
	Lasting bool      `json:"lasting,omitempty"`
	End     time.Time `json:"end,omitzero"`
}

// Recorder records events: what parts get (component.Deps.Events).
type Recorder interface {
	// Record stores e; a zero Time is now, an empty Severity is info.
	// It returns e's ID.
	Record(ctx context.Context, e Event) (int64, error)
	// End sets the end time of the event id.
	End(ctx context.Context, id int64, at time.Time) error
}

// Filter selects events for List.
type Filter struct {
	From, To time.Time         // zero: unbounded
	Part     string            // "" any
	Kind     string            // "" any
	Labels   map[string]string // every one must match
	Limit    int               // 0: 1000
}

// Store keeps events in the SQL store.
type Store struct {
	db  sqlstore.Store
	log *slog.Logger
}

// New returns a Store on db; call Migrate once before use.
func New(db sqlstore.Store, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{db: db, log: log}
}

func migrations() []sqlstore.Migration {
	return []sqlstore.Migration{{
		Version: 1,
		Name:    "create events",
		SQLite: `CREATE TABLE events (
	id       INTEGER PRIMARY KEY,
	at       TIMESTAMP NOT NULL,
	end_at   TIMESTAMP,
	part     TEXT NOT NULL,
	kind     TEXT NOT NULL,
	severity TEXT NOT NULL,
	text     TEXT NOT NULL,
	labels   TEXT NOT NULL,
	link     TEXT NOT NULL
);
CREATE INDEX events_at ON events (at)`,
		Postgres: `CREATE TABLE events (
	id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at       TIMESTAMPTZ NOT NULL,
	end_at   TIMESTAMPTZ,
	part     TEXT NOT NULL,
	kind     TEXT NOT NULL,
	severity TEXT NOT NULL,
	text     TEXT NOT NULL,
	labels   TEXT NOT NULL,
	link     TEXT NOT NULL
);
CREATE INDEX events_at ON events (at)`,
	}}
}

// Migrate creates the events table.
func (s *Store) Migrate(ctx context.Context) error { return s.db.Migrate(ctx, "events", migrations()) }

var word = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// Validate says what is wrong with e, naming the field.
func (e *Event) Validate() error {
	var errs []string
	if !word.MatchString(e.Part) {
		errs = append(errs, "part: lower-case word required, e.g. watch")
	}
	if !word.MatchString(e.Kind) {
		errs = append(errs, "kind: lower-case word required, e.g. alert_firing")
	}
	switch e.Severity {
	case "", Info, Warning, Critical:
	default:
		errs = append(errs, fmt.Sprintf("severity: %q is not info, warning or critical", e.Severity))
	}
	if strings.TrimSpace(e.Text) == "" || len(e.Text) > 2000 {
		errs = append(errs, "text: required, at most 2000 bytes")
	}
	if len(e.Labels) > 32 {
		errs = append(errs, "labels: at most 32")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Record stores e.
func (s *Store) Record(ctx context.Context, e Event) (int64, error) {
	if err := e.Validate(); err != nil {
		return 0, err
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Severity == "" {
		e.Severity = Info
	}
	lb, err := json.Marshal(labelsOrEmpty(e.Labels))
	if err != nil {
		return 0, err
	}
	var end any
	switch {
	case !e.End.IsZero():
		end = e.End.UTC()
	case !e.Lasting:
		end = e.Time.UTC()
	}
	q := `INSERT INTO events (at, end_at, part, kind, severity, text, labels, link) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`
	var id int64
	err = s.db.QueryRowContext(ctx, q, e.Time.UTC(), end, e.Part, e.Kind, string(e.Severity), e.Text, string(lb), e.Link).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record event: %w", err)
	}
	return id, nil
}

// End sets the end of event id.
func (s *Store) End(ctx context.Context, id int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE events SET end_at = $1 WHERE id = $2`, at.UTC(), id)
	if err != nil {
		return fmt.Errorf("end event %d: %w", id, err)
	}
	return nil
}

// List returns the events that f selects, oldest first: those that
// started in [From, To], and those that lasted into it.
func (s *Store) List(ctx context.Context, f Filter) ([]Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if !f.To.IsZero() {
		where = append(where, "at <= "+arg(f.To.UTC()))
	}
	if !f.From.IsZero() {
		where = append(where, "(end_at IS NULL OR end_at >= "+arg(f.From.UTC())+")")
	}
	if f.Part != "" {
		where = append(where, "part = "+arg(f.Part))
	}
	if f.Kind != "" {
		where = append(where, "kind = "+arg(f.Kind))
	}
	limit := f.Limit
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	q := `SELECT id, at, end_at, part, kind, severity, text, labels, link FROM events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at DESC, id DESC"
	if len(f.Labels) == 0 {
		q += " LIMIT " + fmt.Sprint(limit)
	}
	// With a label filter (labels are JSON, matched here), rows are read
	// newest first until limit of them match, however many do not.
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var end sql.NullTime
		var sev, lb string
		if err := rows.Scan(&e.ID, &e.Time, &end, &e.Part, &e.Kind, &sev, &e.Text, &lb, &e.Link); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.Severity = Severity(sev)
		e.Time = e.Time.UTC()
		end.Time = end.Time.UTC()
		switch {
		case !end.Valid:
			e.Lasting = true
		case !end.Time.Equal(e.Time):
			e.Lasting, e.End = true, end.Time
		}
		if err := json.Unmarshal([]byte(lb), &e.Labels); err != nil {
			s.log.Warn("event with bad labels", "id", e.ID, "err", err)
		}
		e.Labels = labelsOrEmpty(e.Labels)
		if !matches(e.Labels, f.Labels) {
			continue
		}
		out = append(out, e)
		if len(out) == limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func labelsOrEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

var _ Recorder = (*Store)(nil)
