package watch

import (
	"context"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/logs"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/tail"
)

// Mount registers the watchdog's API and pages.
func (a *Agent) Mount(m *httpapi.Mux) {
	m.API("GET /api/watch/jobs", httpapi.Viewer, a.apiJobs)
	m.API("GET /api/watch/jobs/{job}/top-clients", httpapi.TV, a.apiTopClients)
	m.API("GET /api/watch/outputs", httpapi.Viewer, a.apiOutputs)
	m.Handle("GET /api/watch/metrics", httpapi.Viewer, http.HandlerFunc(a.exposition))
	a.mountPages(m)
}

// JobView is one job in GET /api/watch/jobs and on the jobs page.
type JobView struct {
	Name  string     `json:"name"`
	Kind  string     `json:"kind"` // log, status, host
	Demo  bool       `json:"demo,omitempty"`
	Files []FileView `json:"files,omitempty"`
	Lines uint64     `json:"lines_read"`
	// Figures of the last minute from the store; nil without it.
	RequestRate *float64 `json:"request_rate,omitempty"` // requests per second
	ErrorRate   *float64 `json:"error_rate,omitempty"`   // share of 5xx, 0–1
	ClientRate  *float64 `json:"client_error_rate,omitempty"`
	P95         *float64 `json:"p95_seconds,omitempty"`
	LastLine    string   `json:"last_line,omitempty"` // RFC 3339
	Error       string   `json:"error,omitempty"`
}

// FileView is one followed file.
type FileView struct {
	Path    string `json:"path"`
	Offset  int64  `json:"offset"`
	LagByte int64  `json:"lag_bytes"`
}

func (a *Agent) jobViews(ctx context.Context) []JobView {
	figs := a.figures(ctx)
	var out []JobView
	for _, j := range a.jobs {
		j.mu.Lock()
		v := JobView{Name: j.cfg.Name, Kind: "log", Demo: j.cfg.demo, Lines: j.lines}
		if !j.lastLine.IsZero() {
			v.LastLine = j.lastLine.UTC().Format(time.RFC3339)
		}
		if j.err != nil {
			v.Error = j.err.Error()
		}
		var lag []tail.Lag
		if j.fol != nil {
			lag = j.fol.Lag()
		}
		for _, p := range j.pos {
			fv := FileView{Path: p.Path, Offset: p.Offset}
			for _, l := range lag {
				if l.Path == p.Path {
					fv.LagByte = l.Bytes
				}
			}
			v.Files = append(v.Files, fv)
		}
		j.mu.Unlock()
		slices.SortFunc(v.Files, func(x, y FileView) int { return strings.Compare(x.Path, y.Path) })
		figs.fill(&v)
		out = append(out, v)
	}
	for _, s := range a.sources {
		s.mu.Lock()
		v := JobView{Name: strings.TrimPrefix(s.name, "status:"), Kind: "status"}
		if s.name == "host" {
			v.Kind = "host"
		}
		if s.lastErr != nil {
			v.Error = s.lastErr.Error()
		}
		if !s.lastAt.IsZero() {
			v.LastLine = s.lastAt.UTC().Format(time.RFC3339)
		}
		s.mu.Unlock()
		out = append(out, v)
	}
	return out
}

// figures are per-job figures from the store.
type figures map[string]map[string]float64 // job → figure → value

func (f figures) fill(v *JobView) {
	m := f[v.Name]
	get := func(k string) *float64 {
		x, ok := m[k]
		if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	v.RequestRate, v.ErrorRate, v.ClientRate, v.P95 = get("rate"), get("err"), get("4xx"), get("p95")
}

// JobQueries are the PromQL of the jobs page's figures, by figure: over
// the last minute, so that they move with the traffic.
// They read the job-level rollups: a few series per job.
var JobQueries = map[string]string{
	"rate": `sum by (job) (rate(job_status:http_requests_total[1m]))`,
	"err":  `sum by (job) (rate(job_status:http_requests_total{status=~"5.."}[1m])) / sum by (job) (rate(job_status:http_requests_total[1m]))`,
	"4xx":  `sum by (job) (rate(job_status:http_requests_total{status=~"4.."}[1m])) / sum by (job) (rate(job_status:http_requests_total[1m]))`,
	"p95":  `histogram_quantile(0.95, sum by (job, le) (rate(job:http_request_duration_seconds_bucket[1m])))`,
}

func (a *Agent) figures(ctx context.Context) figures {
	f := figures{}
	if a.deps.Query == nil {
		return f
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	now := time.Now()
	for k, q := range JobQueries {
		vals, err := a.deps.Query.QueryInstant(ctx, q, now)
		if err != nil {
			continue
		}
		for _, v := range vals {
			job := v.Labels.Get("job")
			if f[job] == nil {
				f[job] = map[string]float64{}
			}
			f[job][k] = v.V
		}
	}
	return f
}

func (a *Agent) apiJobs(w http.ResponseWriter, r *http.Request) error {
	return httpapi.JSON(w, http.StatusOK, map[string]any{"jobs": a.jobViews(r.Context())})
}

func (a *Agent) job(name string) *logJob {
	for _, j := range a.jobs {
		if j.cfg.Name == name {
			return j
		}
	}
	return nil
}

func (a *Agent) apiTopClients(w http.ResponseWriter, r *http.Request) error {
	j := a.job(r.PathValue("job"))
	if j == nil {
		return httpapi.NotFound("no log job %q", r.PathValue("job"))
	}
	n := 10
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 100 {
			return httpapi.BadParam("n", errBadN)
		}
		n = v
	}
	clients := j.topClients(n)
	if clients == nil {
		clients = []logs.Client{}
	}
	type client struct {
		Addr     string `json:"addr"`
		Requests uint64 `json:"requests"`
	}
	out := make([]client, len(clients))
	for i, c := range clients {
		out[i] = client{c.Addr, c.Count}
	}
	return httpapi.JSON(w, http.StatusOK, map[string]any{"job": j.cfg.Name, "window": "30m", "clients": out})
}

var errBadN = httpapi.BadRequest("n must be between 1 and 100")

// OutputView is one output's state in GET /api/watch/outputs.
type OutputView struct {
	Name           string `json:"name"`
	PendingRecords int64  `json:"pending_records"`
	PendingSamples int64  `json:"pending_samples"`
	DroppedSamples int64  `json:"dropped_samples"`
	JournalBytes   int64  `json:"journal_bytes"`
}

func (a *Agent) outputViews() []OutputView {
	if a.j == nil {
		return nil
	}
	st := a.j.Stats()
	var out []OutputView
	for _, o := range a.outputs {
		c := st.Consumers[o.name()]
		out = append(out, OutputView{Name: o.name(), PendingRecords: c.PendingRecords, PendingSamples: c.PendingSamples,
			DroppedSamples: c.DroppedSamples, JournalBytes: st.Bytes})
	}
	return out
}

func (a *Agent) apiOutputs(w http.ResponseWriter, r *http.Request) error {
	out := a.outputViews()
	if out == nil {
		out = []OutputView{}
	}
	return httpapi.JSON(w, http.StatusOK, map[string]any{"outputs": out})
}

// exposition writes the last commit's samples in the Prometheus text
// format, for a Prometheus that scrapes the agent (honor_labels: true keeps
// the job label of each series).
func (a *Agent) exposition(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	samples := a.last
	a.mu.Unlock()
	sorted := slices.Clone(samples)
	sort.Slice(sorted, func(x, y int) bool {
		nx, ny := sorted[x].Labels.Get("__name__"), sorted[y].Labels.Get("__name__")
		fx, fy := familyName(nx, a.meta), familyName(ny, a.meta)
		if fx != fy {
			return fx < fy
		}
		return metricstore.Compare(sorted[x].Labels, sorted[y].Labels) < 0
	})
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b []byte
	fam := ""
	for _, s := range sorted {
		if s.H != nil {
			continue // the text format has no native histograms
		}
		name := s.Labels.Get("__name__")
		if f := familyName(name, a.meta); f != fam {
			fam = f
			md, ok := a.meta[f]
			typ := "untyped"
			if ok && md.Type != "" {
				typ = md.Type
			}
			if ok && md.Help != "" {
				b = append(b, "# HELP "+f+" "+escapeHelp(md.Help)+"\n"...)
			}
			b = append(b, "# TYPE "+f+" "+typ+"\n"...)
		}
		b = append(b, name...)
		first := true
		s.Labels.Range(func(l metricstore.Label) {
			if l.Name == "__name__" {
				return
			}
			if first {
				b = append(b, '{')
				first = false
			} else {
				b = append(b, ',')
			}
			b = append(b, l.Name...)
			b = append(b, '=')
			b = append(b, '"')
			b = append(b, labelEscaper.Replace(l.Value)...)
			b = append(b, '"')
		})
		if !first {
			b = append(b, '}')
		}
		b = append(b, ' ')
		b = strconv.AppendFloat(b, s.V, 'g', -1, 64)
		b = append(b, '\n')
	}
	_, _ = w.Write(b)
}

// familyName is the family of a sample name: a histogram's _bucket, _sum
// and _count belong to it.
func familyName(name string, meta map[string]metricstore.Metadata) string {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			if md, ok := meta[base]; ok && (md.Type == "histogram" || md.Type == "summary") {
				return base
			}
		}
	}
	return name
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}
