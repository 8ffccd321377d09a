package metricstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/prometheus/prometheus/util/stats"

	"github.com/dandan-sre/dandan/internal/buildinfo"
	"github.com/dandan-sre/dandan/internal/httpapi"
)

// route is one pattern of the API and the role it needs.
type route struct {
	pattern string
	role    httpapi.Role
}

// routes of the Prometheus-compatible API. Reads take GET and form-encoded
// POST (Grafana's default), as Prometheus does; label values, metadata and
// buildinfo GET only, as there.
func routes() []route {
	var rs []route
	// A TV token may run queries: the wall board's panels need them.
	for _, p := range []string{"GET /api/v1/query", "POST /api/v1/query", "GET /api/v1/query_range", "POST /api/v1/query_range"} {
		rs = append(rs, route{p, httpapi.TV})
	}
	for _, p := range []string{
		"GET /api/v1/series", "POST /api/v1/series",
		"GET /api/v1/labels", "POST /api/v1/labels",
		"GET /api/v1/label/{name}/values",
		"GET /api/v1/metadata",
		"GET /api/v1/status/buildinfo",
		"GET /api/v1/query_exemplars", "POST /api/v1/query_exemplars",
	} {
		rs = append(rs, route{p, httpapi.Viewer})
	}
	return append(rs, route{"POST /api/v1/write", httpapi.Operator})
}

// api answers the Prometheus HTTP API from the store that get returns.
//
// It is written over promql and the TSDB's querier rather than with
// Prometheus's web/api/v1 package: that package's NewAPI takes some thirty
// arguments (scrape, rules, notifier, targets, flags…) and registers its
// JSON encoders with jsoniter globally from init, against our rules. Our
// handlers are small, and encode.go writes the results byte for byte as
// Prometheus does (checked against a real Prometheus in parity_test.go).
type api struct {
	log   *slog.Logger
	store func() (*Store, error)
	now   func() time.Time
	write http.Handler
}

func newAPI(log *slog.Logger, store func() (*Store, error)) *api {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &api{log: log, store: store, now: time.Now}
	// Prometheus's own receiver: remote_write 1.0 and 2.0, snappy
	// protobuf, its validation and status codes (400 for samples that
	// can never be written, so senders do not retry them; 5xx else).
	a.write = remote.NewWriteHandler(log, nil, lazyAppendable{store},
		remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType}, false, false)
	return a
}

func (a *api) mount(m *httpapi.Mux) {
	handlers := map[string]apiFunc{
		"/api/v1/query":               a.query,
		"/api/v1/query_range":         a.queryRange,
		"/api/v1/series":              a.series,
		"/api/v1/labels":              a.labelNames,
		"/api/v1/label/{name}/values": a.labelValues,
		"/api/v1/metadata":            a.metadata,
		"/api/v1/status/buildinfo":    a.buildInfo,
		"/api/v1/query_exemplars":     a.queryExemplars,
	}
	for _, rt := range routes() {
		_, path, _ := strings.Cut(rt.pattern, " ")
		if path == "/api/v1/write" {
			m.Handle(rt.pattern, rt.role, http.HandlerFunc(a.remoteWrite))
			continue
		}
		m.Handle(rt.pattern, rt.role, a.wrap(handlers[path]))
	}
	m.Handle("GET /federate", httpapi.Viewer, http.HandlerFunc(a.federate)) // federate.go
}

// Error types of the envelope, as Prometheus names them.
const (
	errBadData     = "bad_data"
	errExec        = "execution"
	errTimeout     = "timeout"
	errCanceled    = "canceled"
	errInternal    = "internal"
	errUnavailable = "unavailable"
)

// apiError is a failed request: its errorType and what the client reads.
type apiError struct {
	typ string
	err error
}

func (e *apiError) status() int {
	switch e.typ {
	case errBadData:
		return http.StatusBadRequest
	case errExec:
		return http.StatusUnprocessableEntity
	case errTimeout, errUnavailable:
		return http.StatusServiceUnavailable
	case errCanceled:
		return 499 // nginx's "client closed request", as Prometheus
	}
	return http.StatusInternalServerError
}

func badParam(name string, err error) *apiError {
	return &apiError{errBadData, fmt.Errorf("invalid parameter %q: %w", name, err)}
}

// result is what a handler returns: data (or err), the annotations of the
// query, and a finalizer that runs after data has been written (it releases
// the query's memory, which data may point into).
type result struct {
	data     any
	err      *apiError
	warnings annotations.Annotations
	query    string
	finalize func()
}

type apiFunc func(r *http.Request, st *Store) result

// response is Prometheus's envelope, with dandan's code on errors.
type response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Code      string   `json:"code,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

func (a *api) wrap(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := a.store()
		if err != nil {
			a.respond(w, r, result{err: &apiError{errUnavailable, err}})
			return
		}
		if err := r.ParseForm(); err != nil {
			a.respond(w, r, result{err: &apiError{errBadData, fmt.Errorf("error parsing form values: %w", err)}})
			return
		}
		res := f(r, st)
		a.respond(w, r, res)
		if res.finalize != nil {
			res.finalize()
		}
	})
}

// maxAnnotations is how many warnings and infos a reply lists, as Prometheus.
const maxAnnotations = 10

func (a *api) respond(w http.ResponseWriter, r *http.Request, res result) {
	warn, info := res.warnings.AsStrings(res.query, maxAnnotations, maxAnnotations)
	resp := response{Status: "success", Data: res.data, Warnings: warn, Infos: info}
	status := http.StatusOK
	if res.err != nil {
		resp = response{Status: "error", ErrorType: res.err.typ, Error: res.err.err.Error(), Code: res.err.typ, Warnings: warn, Infos: info}
		status = res.err.status()
		if status >= http.StatusInternalServerError && status != http.StatusServiceUnavailable {
			a.log.LogAttrs(r.Context(), slog.LevelError, "query failed", slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.String("request_id", httpapi.RequestID(r.Context())), slog.Any("err", res.err.err))
		}
	}
	b, err := json.Marshal(resp)
	if err != nil {
		a.log.LogAttrs(r.Context(), slog.LevelError, "encode reply failed", slog.String("path", r.URL.Path), slog.Any("err", err))
		b = []byte(`{"status":"error","errorType":"internal","error":"encode reply","code":"internal"}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// queryData is the data of query and query_range.
type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     jsonValue        `json:"result"`
	Stats      stats.QueryStats `json:"stats,omitempty"`
}

func (a *api) query(r *http.Request, st *Store) result {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return result{err: badParam("limit", err)}
	}
	ts, err := parseTimeParam(r, "time", a.now())
	if err != nil {
		return result{err: badParam("time", err)}
	}
	return a.runQuery(r, st, limit, func(ctx context.Context, opts promql.QueryOpts) (promql.Query, error) {
		return st.engine.NewInstantQuery(ctx, st.db, opts, r.FormValue("query"), ts)
	})
}

// maxPoints bounds the points per series of a range query, as Prometheus.
const maxPoints = 11000

func (a *api) queryRange(r *http.Request, st *Store) result {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return result{err: badParam("limit", err)}
	}
	start, err := parseTime(r.FormValue("start"))
	if err != nil {
		return result{err: badParam("start", err)}
	}
	end, err := parseTime(r.FormValue("end"))
	if err != nil {
		return result{err: badParam("end", err)}
	}
	if end.Before(start) {
		return result{err: badParam("end", errors.New("end timestamp must not be before start time"))}
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return result{err: badParam("step", err)}
	}
	if step <= 0 {
		return result{err: badParam("step", errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"))}
	}
	if end.Sub(start)/step > maxPoints {
		return result{err: &apiError{errBadData, errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")}}
	}
	return a.runQuery(r, st, limit, func(ctx context.Context, opts promql.QueryOpts) (promql.Query, error) {
		return st.engine.NewRangeQuery(ctx, st.db, opts, r.FormValue("query"), start, end, step)
	})
}

// runQuery builds a query with newQuery, runs it and returns its result;
// the result's finalizer closes the query.
func (a *api) runQuery(r *http.Request, st *Store, limit int, newQuery func(context.Context, promql.QueryOpts) (promql.Query, error)) result {
	ctx := r.Context()
	if v := r.FormValue("timeout"); v != "" {
		timeout, err := parseDuration(v)
		if err != nil {
			return result{err: badParam("timeout", err)}
		}
		if timeout <= 0 {
			return result{err: badParam("timeout", fmt.Errorf("timeout must be positive, got %s", timeout))}
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var lookback time.Duration
	if v := r.FormValue("lookback_delta"); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			return result{err: &apiError{errBadData, fmt.Errorf("error parsing lookback delta duration: %w", err)}}
		}
		lookback = d
	}
	opts := promql.NewPrometheusQueryOpts(r.FormValue("stats") == "all", lookback, nil)
	qs := r.FormValue("query")
	qry, err := newQuery(ctx, opts)
	if err != nil {
		return result{err: constructionError(err)}
	}
	res := qry.Exec(ctx)
	if res.Err != nil {
		qry.Close()
		return result{err: execError(res.Err), warnings: res.Warnings, query: qs}
	}
	warnings := res.Warnings
	if limit > 0 && truncate(res, limit) {
		warnings = warnings.Add(errors.New("results truncated due to limit"))
	}
	var qstats stats.QueryStats
	if r.FormValue("stats") != "" {
		qstats = stats.NewQueryStats(qry.Stats())
	}
	return result{
		data:     queryData{ResultType: res.Value.Type(), Result: jsonValue{res.Value}, Stats: qstats},
		warnings: warnings,
		query:    qs,
		finalize: qry.Close,
	}
}

func truncate(res *promql.Result, limit int) bool {
	switch v := res.Value.(type) {
	case promql.Matrix:
		if len(v) > limit {
			res.Value = v[:limit]
			return true
		}
	case promql.Vector:
		if len(v) > limit {
			res.Value = v[:limit]
			return true
		}
	}
	return false
}

// constructionError is a failure to build a query: a bad query, unless it
// ran out of time or was canceled waiting.
func constructionError(err error) *apiError {
	if _, ok := errors.AsType[promql.ErrQueryTimeout](err); ok {
		return execError(err)
	}
	if _, ok := errors.AsType[promql.ErrQueryCanceled](err); ok {
		return execError(err)
	}
	return badParam("query", err)
}

// execError maps a failure to run a query to its error type, as Prometheus.
func execError(err error) *apiError {
	switch {
	case isType[promql.ErrQueryCanceled](err):
		return &apiError{errCanceled, err}
	case isType[promql.ErrQueryTimeout](err), errors.Is(err, context.DeadlineExceeded):
		return &apiError{errTimeout, err}
	case isType[promql.ErrStorage](err):
		return &apiError{errInternal, err}
	case errors.Is(err, context.Canceled):
		return &apiError{errCanceled, err}
	}
	return &apiError{errExec, err}
}

func isType[T error](err error) bool {
	_, ok := errors.AsType[T](err)
	return ok
}

// timeRange parses the optional start and end of the metadata endpoints.
func timeRange(r *http.Request) (mint, maxt int64, e *apiError) {
	start, err := parseTimeParam(r, "start", minTime)
	if err != nil {
		return 0, 0, badParam("start", err)
	}
	end, err := parseTimeParam(r, "end", maxTime)
	if err != nil {
		return 0, 0, badParam("end", err)
	}
	return timestamp.FromTime(start), timestamp.FromTime(end), nil
}

// checkContextEvery is how many series series reads between checks of the
// request's context.
const checkContextEvery = 128

func (a *api) series(r *http.Request, st *Store) result {
	if len(r.Form["match[]"]) == 0 {
		return result{err: &apiError{errBadData, errors.New("no match[] parameter provided")}}
	}
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return result{err: badParam("limit", err)}
	}
	mint, maxt, e := timeRange(r)
	if e != nil {
		return result{err: e}
	}
	sets, err := parseMatchers(st.parser, r.Form["match[]"])
	if err != nil {
		return result{err: badParam("match[]", err)}
	}
	q, err := st.db.Querier(mint, maxt)
	if err != nil {
		return result{err: execError(err)}
	}
	ctx := r.Context()
	hints := &storage.SelectHints{Start: mint, End: maxt, Func: "series", Limit: hintLimit(limit)}
	var set storage.SeriesSet
	if len(sets) > 1 {
		var ss []storage.SeriesSet
		for _, ms := range sets {
			ss = append(ss, q.Select(ctx, true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(ss, 0, storage.ChainedSeriesMerge)
	} else {
		set = q.Select(ctx, false, hints, sets[0]...)
	}
	metrics := []labels.Labels{}
	warnings := set.Warnings()
	for i := 1; set.Next(); i++ {
		if i%checkContextEvery == 0 {
			if err := ctx.Err(); err != nil {
				return result{err: execError(err), warnings: warnings, finalize: func() { q.Close() }}
			}
		}
		metrics = append(metrics, set.At().Labels())
		if limit > 0 && len(metrics) > limit {
			metrics = metrics[:limit]
			warnings.Add(errors.New("results truncated due to limit"))
			break
		}
	}
	if err := set.Err(); err != nil {
		return result{err: execError(err), warnings: warnings, finalize: func() { q.Close() }}
	}
	return result{data: metrics, warnings: warnings, finalize: func() { q.Close() }}
}

func (a *api) labelNames(r *http.Request, st *Store) result {
	return a.labelQuery(r, st, func(ctx context.Context, q storage.Querier, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelNames(ctx, hints, ms...)
	})
}

func (a *api) labelValues(r *http.Request, st *Store) result {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return result{err: &apiError{errBadData, fmt.Errorf("invalid label name: %q", name)}}
	}
	return a.labelQuery(r, st, func(ctx context.Context, q storage.Querier, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelValues(ctx, name, hints, ms...)
	})
}

// labelQuery answers labels and label values: list, by every match[] set
// (their union), sorted, then limited.
func (a *api) labelQuery(r *http.Request, st *Store, list func(context.Context, storage.Querier, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error)) result {
	limit, err := parseLimit(r.FormValue("limit"))
	if err != nil {
		return result{err: badParam("limit", err)}
	}
	mint, maxt, e := timeRange(r)
	if e != nil {
		return result{err: e}
	}
	sets, err := parseMatchers(st.parser, r.Form["match[]"])
	if err != nil {
		return result{err: &apiError{errBadData, err}}
	}
	q, err := st.db.Querier(mint, maxt)
	if err != nil {
		return result{err: execError(err)}
	}
	defer q.Close()
	hints := &storage.LabelHints{Limit: hintLimit(limit)}
	var (
		vals     []string
		warnings annotations.Annotations
	)
	if len(sets) > 1 {
		seen := map[string]struct{}{}
		for _, ms := range sets {
			vs, w, err := list(r.Context(), q, hints, ms...)
			if err != nil {
				return result{err: &apiError{errExec, err}, warnings: warnings}
			}
			warnings.Merge(w)
			for _, v := range vs {
				seen[v] = struct{}{}
			}
		}
		vals = make([]string, 0, len(seen))
		for v := range seen {
			vals = append(vals, v)
		}
	} else {
		var ms []*labels.Matcher
		if len(sets) == 1 {
			ms = sets[0]
		}
		vals, warnings, err = list(r.Context(), q, hints, ms...)
		if err != nil {
			return result{err: &apiError{errExec, err}, warnings: warnings}
		}
	}
	if vals == nil {
		vals = []string{}
	}
	slices.Sort(vals)
	if limit > 0 && len(vals) > limit {
		vals = vals[:limit]
		warnings = warnings.Add(errors.New("results truncated due to limit"))
	}
	// The strings may point into the querier's memory: copy before Close.
	vals = slices.Clone(vals)
	for i, v := range vals {
		vals[i] = strings.Clone(v)
	}
	return result{data: vals, warnings: warnings}
}

func (a *api) metadata(r *http.Request, st *Store) result {
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil {
			return result{err: &apiError{errBadData, errors.New("limit must be a number")}}
		}
	}
	metric := r.FormValue("metric")
	names := []string{}
	all := st.metadata()
	for name := range all {
		if metric == "" || name == metric {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := map[string][]Metadata{}
	for _, name := range names {
		if limit >= 0 && len(out) >= limit {
			break
		}
		out[name] = []Metadata{all[name]}
	}
	return result{data: out}
}

// BuildInfo is the data of /api/v1/status/buildinfo, in Prometheus's shape.
// Version is the version of the Prometheus libraries dandan embeds, the
// PromQL dialect clients such as Grafana gate features on; Branch names
// dandan and its version.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// PrometheusVersion is the Prometheus release whose libraries dandan
// embeds: module github.com/prometheus/prometheus v0.316.0 is Prometheus
// 3.16.0. A test checks it against go.mod.
const PrometheusVersion = "3.16.0"

func (a *api) buildInfo(*http.Request, *Store) result {
	info := buildinfo.Get()
	return result{data: BuildInfo{
		Version:   PrometheusVersion,
		Revision:  info.Revision,
		Branch:    "dandan-" + info.Version,
		BuildUser: "dandan",
		BuildDate: info.BuildTime,
		GoVersion: runtime.Version(),
	}}
}

// queryExemplars answers with no exemplars: the store keeps none yet. It
// still checks its parameters as Prometheus does.
func (a *api) queryExemplars(r *http.Request, st *Store) result {
	start, err := parseTimeParam(r, "start", minTime)
	if err != nil {
		return result{err: badParam("start", err)}
	}
	end, err := parseTimeParam(r, "end", maxTime)
	if err != nil {
		return result{err: badParam("end", err)}
	}
	if end.Before(start) {
		return result{err: &apiError{errBadData, errors.New("end timestamp must not be before start timestamp")}}
	}
	if _, err := st.parser.ParseExpr(r.FormValue("query")); err != nil {
		return result{err: &apiError{errBadData, err}}
	}
	return result{data: []struct{}{}}
}

// remoteWrite accepts Prometheus remote_write through Prometheus's own
// receiver, once the store is open.
func (a *api) remoteWrite(w http.ResponseWriter, r *http.Request) {
	if _, err := a.store(); err != nil {
		a.respond(w, r, result{err: &apiError{errUnavailable, err}})
		return
	}
	a.write.ServeHTTP(w, r)
}

// lazyAppendable gives the TSDB's appenders of the store open now.
type lazyAppendable struct{ store func() (*Store, error) }

func (l lazyAppendable) AppenderV2(ctx context.Context) storage.AppenderV2 {
	st, err := l.store()
	if err != nil {
		return closedAppender{err}
	}
	return st.db.AppenderV2(ctx)
}

// closedAppender fails every append with err.
type closedAppender struct{ err error }

func (c closedAppender) Append(storage.SeriesRef, labels.Labels, int64, int64, float64, *histogram.Histogram, *histogram.FloatHistogram, storage.AOptions) (storage.SeriesRef, error) {
	return 0, c.err
}
func (c closedAppender) AppendExemplars(storage.SeriesRef, labels.Labels, []exemplar.Exemplar) (storage.SeriesRef, error) {
	return 0, c.err
}
func (c closedAppender) Commit() error   { return c.err }
func (c closedAppender) Rollback() error { return nil }

var _ storage.ExemplarAppenderV2 = closedAppender{}

// Boundaries of optional time ranges, as Prometheus.
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()
)
