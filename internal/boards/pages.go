package boards

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/metricstore"
)

func (b *Boards) mountPages(m *httpapi.Mux) {
	m.Page("GET /boards", httpapi.Viewer, "Boards", b.pageIndex)
	m.Page("GET /boards/{name}", httpapi.Viewer, "Board", b.pageBoard)
	m.Page("GET /boards/{name}/panel/{i}", httpapi.TV, "Board", b.pagePanel)
	m.Page("GET /boards/{name}/edit", httpapi.Operator, "Edit board", b.pageEdit)
	m.Page("POST /boards/{name}/edit", httpapi.Operator, "Edit board", b.pageSave)
	m.Page("GET /boards/alerts", httpapi.TV, "Alerts", b.pageAlerts)
	m.Page("GET /tv", httpapi.TV, "TV", b.pageTVStart)
	m.Page("GET /tv/{name}", httpapi.TV, "TV", b.pageTV)
}

// Ranges offered by the time-range picker.
var ranges = []string{"15m", "1h", "6h", "12h", "1d", "7d"}

// rangeDuration is a board range as a duration (0 when it is not one).
func rangeDuration(rng string) time.Duration {
	d, err := model.ParseDuration(rng)
	if err != nil {
		return 0
	}
	return time.Duration(d)
}

type indexView struct {
	Boards   []boardRow
	Problems []string
	CanEdit  bool
}

type boardRow struct {
	Name, Title, Source string
	Panels              int
}

func (b *Boards) pageIndex(w http.ResponseWriter, r *http.Request) error {
	v := indexView{CanEdit: canEdit(r)}
	for _, bd := range b.all(r.Context()) {
		v.Boards = append(v.Boards, boardRow{bd.Name, orName(bd), bd.source, len(bd.Panels)})
	}
	b.mu.Lock()
	v.Problems = slices.Clone(b.ferr)
	b.mu.Unlock()
	return b.pages.Render(w, r, http.StatusOK, "index", "Boards", v)
}

func canEdit(r *http.Request) bool {
	id := httpapi.IdentityFrom(r.Context())
	return id != nil && id.Role >= httpapi.Operator
}

func orName(bd *Board) string {
	if bd.Title != "" {
		return bd.Title
	}
	return bd.Name
}

// boardView is what the board and TV pages show.
type boardView struct {
	Name, Title, Source string
	Range               string
	Ranges              []string
	Vars                []varView
	Panels              []panelView
	Refresh             int // seconds
	Query               string
	EventsURL           string
	AlertsURL           string
	CanEdit             bool
	TV                  bool
	Next                string // the TV playlist's next page
	Interval            int    // seconds on this TV page
}

type varView struct {
	Name, Value string
	Options     []string
}

type panelView struct {
	Index      int
	Title      string
	Kind       string
	Unit       string
	Width      int
	Help       string
	Queries    string // JSON [{expr, legend}] for chart.js
	Expr       string // the first query, expanded, for the raw-query link
	QueryLink  string
	Fragment   string // URL of the server-rendered panel
	Thresholds string // JSON
	Job        string // clients panels
	OnTV       bool
}

func (b *Boards) view(ctx context.Context, r *http.Request, bd *Board) boardView {
	q := r.URL.Query()
	rng := q.Get("range")
	if !slices.Contains(ranges, rng) {
		rng = bd.Range
		if rng == "" {
			rng = DefaultRange
		}
	}
	refresh := b.config().Refresh.Std()
	if bd.Refresh > 0 {
		refresh = bd.Refresh.Std()
	}
	v := boardView{Name: bd.Name, Title: orName(bd), Source: bd.source, Range: rng, Ranges: ranges, Refresh: int(refresh.Seconds()), CanEdit: canEdit(r)}
	vals := map[string]string{}
	keep := url.Values{"range": {rng}}
	for _, vr := range bd.Variables {
		opts := b.labelValues(ctx, vr)
		val := q.Get("var-" + vr.Name)
		if val == "" || !slices.Contains(opts, val) && len(opts) > 0 {
			val = vr.Default
			if val == "" && len(opts) > 0 {
				val = opts[0]
			}
		}
		vals[vr.Name] = val
		keep.Set("var-"+vr.Name, val)
		v.Vars = append(v.Vars, varView{vr.Name, val, opts})
	}
	v.Query = keep.Encode()
	ev := url.Values{}
	for k, val := range bd.Labels {
		ev.Add("label", k+":"+Expand(val, vals))
	}
	v.EventsURL = "/api/events?" + ev.Encode()
	v.AlertsURL = "/boards/alerts?" + ev.Encode()
	for i, p := range bd.Panels {
		pv := panelView{Index: i, Title: p.Title, Kind: p.Kind, Unit: p.Unit, Width: p.width(), Help: p.Help, OnTV: p.TV == nil || *p.TV}
		type jq struct {
			Expr   string `json:"expr"`
			Legend string `json:"legend,omitempty"`
		}
		var qs []jq
		for _, qq := range p.Queries {
			qs = append(qs, jq{Expand(qq.Expr, vals), qq.Legend})
		}
		js, _ := json.Marshal(qs)
		pv.Queries = string(js)
		if len(qs) > 0 {
			pv.Expr = qs[0].Expr
			link := WithRateInterval(qs[0].Expr, rangeDuration(rng))
			pv.QueryLink = "/watch/query?q=" + url.QueryEscape(link) + "&range=" + url.QueryEscape(rng)
		}
		th, _ := json.Marshal(p.Thresholds)
		pv.Thresholds = string(th)
		pv.Fragment = "/boards/" + bd.Name + "/panel/" + strconv.Itoa(i) + "?" + keep.Encode()
		if p.Kind == KindClients && len(qs) > 0 {
			pv.Job = qs[0].Expr
		}
		v.Panels = append(v.Panels, pv)
	}
	return v
}

// labelValues returns the values a variable offers.
func (b *Boards) labelValues(ctx context.Context, vr Variable) []string {
	if b.deps.Query == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sel := vr.Metric
	if sel == "" {
		sel = `{` + vr.Label + `!=""}`
	}
	vals, err := b.deps.Query.QueryInstant(ctx, `count by (`+vr.Label+`) (last_over_time(`+sel+`[1d]))`, time.Now())
	if err != nil {
		return nil
	}
	var out []string
	for _, v := range vals {
		out = append(out, v.Labels.Get(vr.Label))
	}
	sort.Strings(out)
	return out
}

func (b *Boards) pageBoard(w http.ResponseWriter, r *http.Request) error {
	bd, err := b.board(r.Context(), r.PathValue("name"))
	if err != nil {
		return httpapi.NotFound("no board %q", r.PathValue("name"))
	}
	v := b.view(r.Context(), r, bd)
	return b.pages.Render(w, r, http.StatusOK, "board", v.Title, v)
}

// panelFragment is a stat or table panel rendered on the server.
type panelFragment struct {
	Kind, Unit string
	Value      string
	Level      string
	NoData     bool
	Error      string
	Rows       []tableRow
	Columns    []string
	Updated    string
}

type tableRow struct {
	Cells []string
	Value string
	Level string
}

func (b *Boards) pagePanel(w http.ResponseWriter, r *http.Request) error {
	bd, err := b.board(r.Context(), r.PathValue("name"))
	if err != nil {
		return httpapi.NotFound("no board %q", r.PathValue("name"))
	}
	i, err := strconv.Atoi(r.PathValue("i"))
	if err != nil || i < 0 || i >= len(bd.Panels) {
		return httpapi.NotFound("no panel %q", r.PathValue("i"))
	}
	p := bd.Panels[i]
	vals := map[string]string{}
	for _, vr := range bd.Variables {
		vals[vr.Name] = r.URL.Query().Get("var-" + vr.Name)
		if vals[vr.Name] == "" {
			vals[vr.Name] = vr.Default
		}
	}
	f := panelFragment{Kind: p.Kind, Unit: p.Unit, Updated: time.Now().UTC().Format(time.RFC3339)}
	if b.deps.Query == nil {
		f.Error = "the metric store is off"
	} else if len(p.Queries) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		res, err := b.deps.Query.QueryInstant(ctx, WithRateInterval(Expand(p.Queries[0].Expr, vals), 0), time.Now())
		switch {
		case err != nil:
			f.Error = err.Error()
		case len(res) == 0:
			f.NoData = true
		case p.Kind == KindTable:
			f.Columns, f.Rows = table(res, p)
		default:
			sum := 0.0
			for _, x := range res {
				sum += x.V
			}
			if math.IsNaN(sum) {
				f.NoData = true
			} else {
				f.Value = FormatValue(sum, p.Unit)
				f.Level = p.Thresholds.Level(sum)
			}
		}
	}
	return b.pages.Render(w, r, http.StatusOK, "panel", p.Title, f)
}

// table turns an instant answer into rows: one column per label that
// differs between the series, then the value; sorted by value, most first.
func table(res []metricstore.Value, p Panel) ([]string, []tableRow) {
	sort.SliceStable(res, func(i, j int) bool { return res[i].V > res[j].V })
	keys := map[string]bool{}
	for _, x := range res {
		x.Labels.Range(func(l metricstore.Label) {
			if l.Name != "__name__" {
				keys[l.Name] = true
			}
		})
	}
	var cols []string
	for k := range keys {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	var rows []tableRow
	for i, x := range res {
		if i == p.limit() {
			break
		}
		var cells []string
		for _, c := range cols {
			cells = append(cells, x.Labels.Get(c))
		}
		rows = append(rows, tableRow{Cells: cells, Value: FormatValue(x.V, p.Unit), Level: p.Thresholds.Level(x.V)})
	}
	return cols, rows
}

// FormatValue shows v with its unit as the charts do: 3 significant
// digits, SI prefixes, seconds as ms/µs, bytes in KiB/MiB, ratios in %.
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	num := func(x float64) string {
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatFloat(x, 'f', 0, 64)
		}
		if math.Abs(x) >= 100 {
			return strconv.FormatFloat(math.Round(x), 'f', 0, 64)
		}
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
	a := math.Abs(v)
	switch unit {
	case "s":
		switch {
		case a == 0:
			return "0 s"
		case a < 1e-3:
			return num(v*1e6) + " µs"
		case a < 1:
			return num(v*1e3) + " ms"
		}
		return num(v) + " s"
	case "bytes":
		names := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
		i := 0
		for i < len(names)-1 && a >= math.Pow(1024, float64(i+1)) {
			i++
		}
		return num(v/math.Pow(1024, float64(i))) + " " + names[i]
	case "ratio":
		return num(v*100) + "%"
	case "%":
		return num(v) + "%"
	}
	tail := ""
	if unit != "" {
		tail = " " + unit
	}
	switch {
	case a >= 1e9:
		return num(v/1e9) + "G" + tail
	case a >= 1e6:
		return num(v/1e6) + "M" + tail
	case a >= 1e4:
		return num(v/1e3) + "k" + tail
	}
	if v != math.Trunc(v) {
		return strconv.FormatFloat(v, 'g', 3, 64) + tail
	}
	return num(v) + tail
}

// editView is the YAML editor.
type editView struct {
	Name     string
	YAML     string
	Errors   []string
	Saved    bool
	New      bool
	ReadOnly string // why the board cannot be saved under this name
}

func (b *Boards) pageEdit(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	v := editView{Name: name}
	bd, err := b.board(r.Context(), name)
	switch {
	case errors.Is(err, errNoBoard):
		v.New = true
		v.YAML = newBoardYAML(name)
	default:
		out, _ := yaml.Marshal(bd)
		v.YAML = string(out)
		if bd.source != "ui" {
			v.ReadOnly = "This board comes from " + bd.source + "; saving keeps a copy in the SQL store that the " + bd.source + " one still overrides. Save it under a new name to change it here."
		}
	}
	return b.pages.Render(w, r, http.StatusOK, "edit", "Edit "+name, v)
}

func newBoardYAML(name string) string {
	return `name: ` + name + `
title: ` + name + `
range: 1h
panels:
  - title: Requests per second
    kind: stat
    unit: req/s
    queries:
      - expr: sum(rate(http_requests_total[1m]))
  - title: Requests per second by job
    kind: timeseries
    unit: req/s
    queries:
      - expr: sum by (job) (rate(http_requests_total[1m]))
        legend: "{{job}}"
`
}

func (b *Boards) pageSave(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	src := r.FormValue("yaml")
	bd, err := b.save(r, name, []byte(src))
	if err != nil {
		v := editView{Name: name, YAML: src}
		var le *config.LoadError
		if errors.As(err, &le) {
			for _, p := range le.Problems {
				v.Errors = append(v.Errors, p.String())
			}
		} else {
			v.Errors = []string{err.Error()}
		}
		return b.pages.Render(w, r, http.StatusUnprocessableEntity, "edit", "Edit "+name, v)
	}
	http.Redirect(w, r, "/boards/"+bd.Name, http.StatusSeeOther)
	return nil
}

// save decodes a board from YAML (or JSON, which is YAML) and keeps it in
// the SQL store under its name.
func (b *Boards) save(r *http.Request, name string, src []byte) (*Board, error) {
	var bd Board
	if err := config.DecodeDocument("board "+name, src, &bd); err != nil {
		return nil, err
	}
	if b.deps.SQL == nil {
		return nil, errors.New("no SQL store")
	}
	who := "unknown"
	if id := httpapi.IdentityFrom(r.Context()); id != nil {
		who = id.Name
	}
	bd.source = "ui"
	if err := b.sql.put(r.Context(), &bd, who); err != nil {
		return nil, err
	}
	return &bd, nil
}

func (b *Boards) pageTVStart(w http.ResponseWriter, r *http.Request) error {
	list := b.playlist(r.Context())
	if len(list) == 0 {
		return httpapi.NotFound("no boards to show: add watch jobs or boards")
	}
	http.Redirect(w, r, "/tv/"+list[0]+"?tv=1&playlist=1", http.StatusSeeOther)
	return nil
}

func (b *Boards) pageTV(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("tv") != "1" {
		q := r.URL.Query()
		q.Set("tv", "1")
		http.Redirect(w, r, r.URL.Path+"?"+q.Encode(), http.StatusSeeOther)
		return nil
	}
	bd, err := b.board(r.Context(), r.PathValue("name"))
	if err != nil {
		return httpapi.NotFound("no board %q", r.PathValue("name"))
	}
	v := b.view(r.Context(), r, bd)
	v.TV = true
	v.Refresh = int(b.config().TV.Refresh.Std().Seconds())
	if r.URL.Query().Get("playlist") == "1" {
		list := b.playlist(r.Context())
		next := list[0]
		for i, n := range list {
			if n == bd.Name && i+1 < len(list) {
				next = list[i+1]
			}
		}
		v.Next = "/tv/" + next + "?tv=1&playlist=1"
		v.Interval = int(b.config().TV.Interval.Std().Seconds())
	}
	return b.pages.Render(w, r, http.StatusOK, "tv", v.Title, v)
}

// alertsView lists the alerts pending or firing now.
type alertsView struct {
	Alerts []alertRow
}

type alertRow struct {
	Name, State, Severity, Summary, Since string
}

// pageAlerts renders the alerts whose labels match every label=k:v.
func (b *Boards) pageAlerts(w http.ResponseWriter, r *http.Request) error {
	want := map[string]string{}
	for _, l := range r.URL.Query()["label"] {
		k, v, ok := strings.Cut(l, ":")
		if ok {
			want[k] = v
		}
	}
	var v alertsView
	for _, a := range b.alerts.Active() {
		match := true
		for k, val := range want {
			if a.Labels[k] != val {
				match = false
			}
		}
		if !match {
			continue
		}
		since := a.ActiveAt
		if !a.FiredAt.IsZero() {
			since = a.FiredAt
		}
		summary := a.Annotations["summary"]
		if summary == "" {
			summary = a.Annotations["description"]
		}
		v.Alerts = append(v.Alerts, alertRow{Name: a.Name, State: a.State, Severity: a.Severity, Summary: summary,
			Since: since.UTC().Format(time.RFC3339)})
	}
	return b.pages.Render(w, r, http.StatusOK, "alerts", "Alerts", v)
}
