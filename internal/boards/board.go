package boards

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/config"
)

// Board is a dashboard: panels of PromQL queries.
type Board struct {
	Name  string `yaml:"name" json:"name"`   // URL segment
	Title string `yaml:"title" json:"title"` // shown on top
	// Labels filter the events drawn on the board's time series, e.g.
	// {job: web}; values may use variables ($job).
	Labels    map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Variables []Variable        `yaml:"variables,omitempty" json:"variables,omitempty"`
	Panels    []Panel           `yaml:"panels" json:"panels"`
	// Range is the default time range, e.g. 1h; Refresh how often panels reload.
	Range   string          `yaml:"range,omitempty" json:"range,omitempty"`
	Refresh config.Duration `yaml:"refresh,omitempty" json:"refresh,omitempty"`

	source string // "config", "folder <file>", "ui", "built-in"
}

// Variable is a drop-down fed by a label's values: $name in queries.
type Variable struct {
	Name    string `yaml:"name" json:"name"`                 // $name in queries
	Label   string `yaml:"label" json:"label"`               // the label whose values it offers
	Metric  string `yaml:"metric,omitempty" json:"metric"`   // of this metric; all series when empty
	Default string `yaml:"default,omitempty" json:"default"` // first value when empty
}

// Panel kinds.
const (
	KindTimeSeries = "timeseries"
	KindStat       = "stat"
	KindTable      = "table"
	KindStatusMix  = "statusmix"
	KindHeatmap    = "heatmap"
	// KindClients lists the top client IPs of the last 30 minutes of the
	// log job named by its one query (from the watchdog's sketch).
	KindClients = "clients"
)

var kinds = []string{KindTimeSeries, KindStat, KindTable, KindStatusMix, KindHeatmap, KindClients}

// Panel is one box of a board.
type Panel struct {
	Title   string  `yaml:"title" json:"title"`
	Kind    string  `yaml:"kind" json:"kind"`
	Queries []Query `yaml:"queries" json:"queries"`
	// Unit: s, bytes, %, ratio, req/s or any word; "" plain.
	Unit       string     `yaml:"unit,omitempty" json:"unit,omitempty"`
	Thresholds Thresholds `yaml:"thresholds,omitempty" json:"thresholds,omitzero"`
	Width      int        `yaml:"width,omitempty" json:"width,omitempty"` // 1–4 grid columns; 1 by default (2 for time series)
	Limit      int        `yaml:"limit,omitempty" json:"limit,omitempty"` // rows of a table, 10 by default
	Help       string     `yaml:"help,omitempty" json:"help,omitempty"`
	// TV false leaves the panel out of the TV page, where a board must fit
	// one screen.
	TV *bool `yaml:"tv,omitempty" json:"tv,omitempty"`
}

// Query is one PromQL expression of a panel.
type Query struct {
	Expr   string `yaml:"expr" json:"expr"`
	Legend string `yaml:"legend,omitempty" json:"legend,omitempty"` // {{label}} templates
}

// Thresholds colour a value: amber from Warn, red from Crit (or, with
// Below, under them). Unset: no colour.
type Thresholds struct {
	Warn  *float64 `yaml:"warn,omitempty" json:"warn,omitempty"`
	Crit  *float64 `yaml:"crit,omitempty" json:"crit,omitempty"`
	Below bool     `yaml:"below,omitempty" json:"below,omitempty"`
}

// Level returns ok, warn or bad for v.
func (t Thresholds) Level(v float64) string {
	over := func(th *float64) bool {
		if th == nil {
			return false
		}
		if t.Below {
			return v <= *th
		}
		return v >= *th
	}
	switch {
	case over(t.Crit):
		return "bad"
	case over(t.Warn):
		return "warn"
	}
	return "ok"
}

var (
	boardName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	varName   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,31}$`)
	rangeRE   = regexp.MustCompile(`^[0-9]+[mhdw]$`)
)

// Validate reports every problem by key path.
func (b *Board) Validate() error {
	var errs config.Errors
	b.validate(&errs, "")
	return errs.Err()
}

func (b *Board) validate(errs *config.Errors, p string) {
	at := func(k string) string {
		if p == "" {
			return k
		}
		return p + "." + k
	}
	if !boardName.MatchString(b.Name) {
		errs.Add(at("name"), "required: lower-case letters, digits, '.', '_' or '-' (it is a URL segment)")
	}
	if b.Range != "" && !rangeRE.MatchString(b.Range) {
		errs.Add(at("range"), "a range such as 15m, 1h, 1d or 7d")
	}
	if b.Refresh < 0 || b.Refresh > 0 && b.Refresh.Std().Seconds() < 2 {
		errs.Add(at("refresh"), "at least 2s")
	}
	seen := map[string]bool{}
	for i, v := range b.Variables {
		vp := fmt.Sprintf("%s[%d]", at("variables"), i)
		if !varName.MatchString(v.Name) {
			errs.Add(vp+".name", "required: a name such as job (used as $job)")
		}
		if seen[v.Name] {
			errs.Add(vp+".name", "%q is used twice", v.Name)
		}
		seen[v.Name] = true
		if !varName.MatchString(v.Label) {
			errs.Add(vp+".label", "required: the label whose values the drop-down offers")
		}
	}
	if len(b.Panels) == 0 {
		errs.Add(at("panels"), "at least one panel is required")
	}
	for i, pn := range b.Panels {
		pp := fmt.Sprintf("%s[%d]", at("panels"), i)
		if strings.TrimSpace(pn.Title) == "" {
			errs.Add(pp+".title", "required")
		}
		if !slices.Contains(kinds, pn.Kind) {
			errs.Add(pp+".kind", "one of %s", strings.Join(kinds, ", "))
		}
		if len(pn.Queries) == 0 {
			errs.Add(pp+".queries", "at least one query is required")
		}
		for j, q := range pn.Queries {
			if strings.TrimSpace(q.Expr) == "" {
				errs.Add(fmt.Sprintf("%s.queries[%d].expr", pp, j), "required: a PromQL expression")
			}
		}
		if pn.Width < 0 || pn.Width > 4 {
			errs.Add(pp+".width", "between 1 and 4")
		}
		if pn.Limit < 0 || pn.Limit > 100 {
			errs.Add(pp+".limit", "between 1 and 100")
		}
	}
}

// DefaultRange is a board's range when it names none.
const DefaultRange = "1h"

// Expand returns expr with every $var (and ${var}) of vals replaced.
func Expand(expr string, vals map[string]string) string {
	if !strings.Contains(expr, "$") {
		return expr
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	// Longest first, so $jobname is not taken for $job + "name".
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	for _, n := range names {
		expr = strings.ReplaceAll(expr, "${"+n+"}", vals[n])
		expr = strings.ReplaceAll(expr, "$"+n, vals[n])
	}
	return expr
}

// RateIntervalVar is the variable a range query's rate() windows can use:
// chart.js replaces it with the step plus 15 s, at least 1m (Grafana's
// $__rate_interval), so that over 7 days a window covers its whole step
// instead of sampling one minute of it.
const RateIntervalVar = "__rate_interval"

// chartPoints is chart.js's POINTS: a range query's step is range/points.
const chartPoints = 240

// RateInterval is what $__rate_interval stands for over rng: chart.js's
// step plus 15 s, at least 1m; rng 0 (an instant query) gives 1m.
func RateInterval(rng time.Duration) string {
	step := int64(math.Max(1, math.Round(rng.Seconds()/chartPoints)))
	return strconv.FormatInt(max(60, step+15), 10) + "s"
}

// WithRateInterval replaces $__rate_interval in expr for rng: for the
// queries the server runs (panel fragments, rules, raw-query links).
func WithRateInterval(expr string, rng time.Duration) string {
	if !strings.Contains(expr, RateIntervalVar) {
		return expr
	}
	v := RateInterval(rng)
	expr = strings.ReplaceAll(expr, "${"+RateIntervalVar+"}", v)
	return strings.ReplaceAll(expr, "$"+RateIntervalVar, v)
}

// width returns the panel's grid columns.
func (p *Panel) width() int {
	if p.Width > 0 {
		return p.Width
	}
	if p.Kind == KindTimeSeries || p.Kind == KindStatusMix || p.Kind == KindHeatmap {
		return 2
	}
	return 1
}

// limit returns the rows of a table panel.
func (p *Panel) limit() int {
	if p.Limit > 0 {
		return p.Limit
	}
	return 10
}

var errNoBoard = errors.New("no such board")

func itoa(i int) string { return strconv.Itoa(i) }
