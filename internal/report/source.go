package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/metricstore"
)

// Querier answers PromQL range queries: the embedded store
// (metricstore.Store, metricstore.Service) or a running dandan (Remote).
type Querier interface {
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]metricstore.Series, error)
}

// EventLister lists the shared event log, where alerts are recorded:
// events.Store or a running dandan (Remote).
type EventLister interface {
	List(ctx context.Context, f events.Filter) ([]events.Event, error)
}

var (
	_ Querier     = (*metricstore.Store)(nil)
	_ Querier     = (*metricstore.Service)(nil)
	_ EventLister = (*events.Store)(nil)
	_ Querier     = (*Remote)(nil)
	_ EventLister = (*Remote)(nil)
)

// Remote reads a running dandan through its HTTP API: GET
// /api/v1/query_range and GET /api/events, with a viewer token. It is how
// `dandan report weekly --url` works while dandan holds the store's lock.
type Remote struct {
	// URL is dandan's base URL, such as http://dandan:8080.
	URL string
	// Token is sent as "Authorization: Bearer <token>"; empty sends none
	// (enough on loopback with auth.loopback_role).
	Token  string
	Client *http.Client // nil: a client with a 2-minute timeout
}

// maxBody bounds one reply of the API.
const maxBody = 256 << 20

func (r *Remote) get(ctx context.Context, path string, q url.Values, v any) error {
	u := strings.TrimSuffix(r.URL, "/") + path + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	c := r.Client
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			hint = " (give a viewer token with --token-file)"
		}
		return fmt.Errorf("GET %s: %s: %s%s", path, resp.Status, e.Error, hint)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decode reply: %w", path, err)
	}
	return nil
}

// QueryRange asks GET /api/v1/query_range.
func (r *Remote) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]metricstore.Series, error) {
	q := url.Values{
		"query": {expr},
		"start": {formatUnix(start)},
		"end":   {formatUnix(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	var reply struct {
		Data struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := r.get(ctx, "/api/v1/query_range", q, &reply); err != nil {
		return nil, fmt.Errorf("query %s: %w", expr, err)
	}
	if reply.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("query %s: a %q answer, want a matrix", expr, reply.Data.ResultType)
	}
	out := make([]metricstore.Series, 0, len(reply.Data.Result))
	for _, s := range reply.Data.Result {
		ser := metricstore.Series{Labels: metricstore.FromMap(s.Metric), Points: make([]metricstore.Point, 0, len(s.Values))}
		for _, v := range s.Values {
			p, err := parsePoint(v)
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", expr, err)
			}
			ser.Points = append(ser.Points, p)
		}
		out = append(out, ser)
	}
	return out, nil
}

// parsePoint reads Prometheus's [unix_seconds, "value"].
func parsePoint(v [2]any) (metricstore.Point, error) {
	ts, ok := v[0].(float64)
	s, ok2 := v[1].(string)
	if !ok || !ok2 {
		return metricstore.Point{}, fmt.Errorf("bad point %v", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return metricstore.Point{}, fmt.Errorf("bad value %q", s)
	}
	return metricstore.Point{T: int64(math.Round(ts * 1000)), V: f}, nil
}

func formatUnix(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// List asks GET /api/events.
func (r *Remote) List(ctx context.Context, f events.Filter) ([]events.Event, error) {
	q := url.Values{}
	if !f.From.IsZero() {
		q.Set("from", f.From.UTC().Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		q.Set("to", f.To.UTC().Format(time.RFC3339Nano))
	}
	if f.Part != "" {
		q.Set("part", f.Part)
	}
	if f.Kind != "" {
		q.Set("kind", f.Kind)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	keys := make([]string, 0, len(f.Labels))
	for k := range f.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q.Add("label", k+":"+f.Labels[k])
	}
	var reply struct {
		Events []events.Event `json:"events"`
	}
	if err := r.get(ctx, "/api/events", q, &reply); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return reply.Events, nil
}

// errNoStore is what a report says when the metric store is off.
var errNoStore = errors.New("the report needs the embedded metric store: set store.metrics.enabled: true")
