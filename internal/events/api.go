package events

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
)

// Mount registers GET /api/events.
func (s *Store) Mount(m *httpapi.Mux) {
	m.API("GET /api/events", httpapi.TV, s.apiList)
}

// apiList answers GET /api/events?from=&to=&part=&kind=&label=k:v&limit=.
func (s *Store) apiList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := Filter{Part: q.Get("part"), Kind: q.Get("kind")}
	var err error
	if f.From, err = parseTime(q.Get("from")); err != nil {
		return httpapi.BadParam("from", err)
	}
	if f.To, err = parseTime(q.Get("to")); err != nil {
		return httpapi.BadParam("to", err)
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 10000 {
			return httpapi.BadParam("limit", errors.New("must be between 1 and 10000"))
		}
	}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" {
			return httpapi.BadParam("label", errors.New("want NAME:VALUE"))
		}
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[k] = v
	}
	evs, err := s.List(r.Context(), f)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []Event{}
	}
	return httpapi.JSON(w, http.StatusOK, map[string]any{"events": evs})
}

// parseTime reads RFC 3339 or Unix seconds (with a fraction); "" is zero.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("want RFC 3339 or Unix seconds")
	}
	return t, nil
}
