package alerting

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
)

// Mount registers the alerting API:
//
//	GET  /api/alerts          viewer    the alerts pending or firing now
//	GET  /api/alerts/rules    viewer    the rule groups, with health and last evaluation
//	GET  /api/alerts/history  viewer    the alerts that fired (?from=&to=&name=&limit=)
//	POST /api/alerts/reload   operator  read the rule files again
func (e *Engine) Mount(m *httpapi.Mux) {
	m.API("GET /api/alerts", httpapi.Viewer, e.apiActive)
	m.API("GET /api/alerts/rules", httpapi.Viewer, e.apiRules)
	m.API("GET /api/alerts/history", httpapi.Viewer, e.apiHistory)
	m.API("POST /api/alerts/reload", httpapi.Operator, e.apiReload)
}

func (e *Engine) apiActive(w http.ResponseWriter, r *http.Request) error {
	return httpapi.JSON(w, http.StatusOK, map[string]any{"alerts": e.Active()})
}

func (e *Engine) apiRules(w http.ResponseWriter, r *http.Request) error {
	return httpapi.JSON(w, http.StatusOK, map[string]any{"groups": e.Rules()})
}

func (e *Engine) apiHistory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := HistoryFilter{Name: q.Get("name")}
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
	hs, err := e.History(r.Context(), f)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, map[string]any{"alerts": hs})
}

func (e *Engine) apiReload(w http.ResponseWriter, r *http.Request) error {
	if err := e.Reload(r.Context()); err != nil {
		return httpapi.BadRequest("reload rules: %v", err)
	}
	gs := e.Rules()
	n := 0
	for _, g := range gs {
		n += len(g.Rules)
	}
	return httpapi.JSON(w, http.StatusOK, map[string]any{"groups": len(gs), "rules": n})
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
