package boards

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/dandan-sre/dandan/internal/alerting"
	"github.com/dandan-sre/dandan/internal/httpapi"
)

// thresholdRules turns the thresholds of a board's stat and time-series
// panels into alerting rules: warn → severity warning, crit → critical,
// firing after 5 minutes. Variables take their default (or first) value.
func (b *Boards) thresholdRules(ctx context.Context, bd *Board) ([]alerting.Rule, error) {
	vals := map[string]string{}
	for _, vr := range bd.Variables {
		vals[vr.Name] = vr.Default
		if vals[vr.Name] == "" {
			if opts := b.labelValues(ctx, vr); len(opts) > 0 {
				vals[vr.Name] = opts[0]
			}
		}
	}
	var out []alerting.Rule
	for _, p := range bd.Panels {
		if p.Kind != KindStat && p.Kind != KindTimeSeries || len(p.Queries) == 0 {
			continue
		}
		op := ">="
		if p.Thresholds.Below {
			op = "<="
		}
		for _, lv := range []struct {
			sev string
			v   *float64
		}{{"warning", p.Thresholds.Warn}, {"critical", p.Thresholds.Crit}} {
			if lv.v == nil {
				continue
			}
			name := alertName(bd.Name, p.Title, lv.sev)
			r, err := alerting.RuleFromThreshold(name, WithRateInterval(Expand(p.Queries[0].Expr, vals), 0), op, *lv.v, 5*time.Minute,
				map[string]string{"severity": lv.sev, "board": bd.Name},
				map[string]string{"summary": p.Title + " " + op + " " + FormatValue(*lv.v, p.Unit) + " on " + orName(bd), "board": "/boards/" + bd.Name})
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// alertName makes a CamelCase alert name: EdgeRequestsPerSecondWarning.
func alertName(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		up := true
		for _, r := range p {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) || r > unicode.MaxASCII {
				up = true
				continue
			}
			if b.Len() == 0 && unicode.IsDigit(r) {
				b.WriteString("Board")
			}
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// apiRules answers a board's thresholds as a Prometheus rule file, for
// boards.alerting.rule_files; `promtool check rules` accepts it.
func (b *Boards) apiRules(w http.ResponseWriter, r *http.Request) error {
	bd, err := b.board(r.Context(), r.PathValue("name"))
	if err != nil {
		return httpapi.NotFound("no board %q", r.PathValue("name"))
	}
	rules, err := b.thresholdRules(r.Context(), bd)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if len(rules) == 0 {
		return httpapi.NotFound("board %q has no panel thresholds", bd.Name)
	}
	if err := alerting.WriteRuleFile(&buf, "board "+bd.Name, rules...); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+bd.Name+`.rules.yml"`)
	_, err = w.Write(buf.Bytes())
	return err
}
