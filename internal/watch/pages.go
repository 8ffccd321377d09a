package watch

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/metricstore"
)

func (a *Agent) mountPages(m *httpapi.Mux) {
	m.Page("GET /watch", httpapi.Viewer, "Watch", a.pageJobs)
	m.Page("GET /watch/query", httpapi.Viewer, "PromQL", a.pageQuery)
}

// jobsPage is the jobs page's view.
type jobsPage struct {
	Jobs    []jobRow
	Outputs []OutputView
	Store   bool
	Refresh int // seconds
}

type jobRow struct {
	JobView
	Rate, Err, P95 string // formatted, "—" when unknown
	ErrLevel       string // ok, warn, bad
	Query          string // link to the query page for the job
	Chart          string // PromQL of the job's request rate by status class
}

func (a *Agent) pageJobs(w http.ResponseWriter, r *http.Request) error {
	v := jobsPage{Outputs: a.outputViews(), Store: a.deps.Query != nil, Refresh: 10}
	for _, j := range a.jobViews(r.Context()) {
		row := jobRow{JobView: j, Rate: "—", Err: "—", P95: "—", ErrLevel: "ok"}
		if j.RequestRate != nil {
			row.Rate = strconv.FormatFloat(*j.RequestRate, 'f', 1, 64)
		}
		if j.ErrorRate != nil {
			row.Err = strconv.FormatFloat(*j.ErrorRate*100, 'f', 2, 64) + "%"
			switch {
			case *j.ErrorRate >= 0.05:
				row.ErrLevel = "bad"
			case *j.ErrorRate >= 0.01:
				row.ErrLevel = "warn"
			}
		}
		if j.P95 != nil {
			row.P95 = formatSeconds(*j.P95)
		}
		if j.Kind == "log" {
			q := `sum by (status) (rate(job_status:http_requests_total{job="` + j.Name + `"}[1m]))`
			row.Query = "/watch/query?q=" + urlQuery(q)
			row.Chart = `sum by (class) (label_replace(rate(job_status:http_requests_total{job="` + j.Name + `"}[1m]), "class", "${1}xx", "status", "(.).."))`
		}
		v.Jobs = append(v.Jobs, row)
	}
	return a.pages.Render(w, r, http.StatusOK, "jobs", "Watch", v)
}

// queryPage is the query page's view.
type queryPage struct {
	Query   string
	Range   string
	Ranges  []string
	Result  []resultRow
	Error   string
	Ran     bool
	Store   bool
	Queries []queryExample
}

type resultRow struct {
	Labels string
	Value  string
}

type queryExample struct{ Title, Query string }

func (a *Agent) pageQuery(w http.ResponseWriter, r *http.Request) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	rng := r.URL.Query().Get("range")
	ranges := []string{"15m", "1h", "6h", "1d", "7d"}
	if !slices.Contains(ranges, rng) {
		rng = "1h"
	}
	v := queryPage{Query: q, Range: rng, Ranges: ranges, Store: a.deps.Query != nil, Queries: []queryExample{
		{"Requests per second by job", `sum by (job) (rate(http_requests_total[5m]))`},
		{"5xx share by job", JobQueries["err"]},
		{"p95 latency by job", JobQueries["p95"]},
		{"Top paths by traffic", `topk(10, sum by (job, path) (rate(http_requests_total[5m])))`},
		{"CPU busy", `1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m]))`},
	}}
	if q != "" && a.deps.Query != nil {
		v.Ran = true
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		vals, err := a.deps.Query.QueryInstant(ctx, q, time.Now())
		if err != nil {
			v.Error = err.Error()
		}
		for i, x := range vals {
			if i == 200 {
				break
			}
			v.Result = append(v.Result, resultRow{Labels: labelsString(x.Labels), Value: strconv.FormatFloat(x.V, 'g', 6, 64)})
		}
	}
	return a.pages.Render(w, r, http.StatusOK, "query", "PromQL", v)
}

func labelsString(ls metricstore.Labels) string {
	if ls.Len() == 0 {
		return "{}"
	}
	return ls.String()
}

func formatSeconds(s float64) string {
	switch {
	case s < 0.001:
		return strconv.FormatFloat(s*1e6, 'f', 0, 64) + " µs"
	case s < 1:
		return strconv.FormatFloat(s*1e3, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(s, 'f', 2, 64) + " s"
}
