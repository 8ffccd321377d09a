package alerting

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// exprParser parses rule expressions as the metric store's engine does.
var exprParser = parser.NewParser(parser.Options{})

// parseFile reads and checks one rule file as `promtool check rules` does.
// Each problem is an error of its own, joined, naming the file, the line
// and column when known, the group and the rule:
//
//	rules/web.yml:12:11: group "web", rule 2, "HighErrorRate": could not parse expression: …
func parseFile(name string, log *slog.Logger) (*rulefmt.RuleGroups, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err // *PathError names the file
	}
	return parseRules(name, b, model.UTF8Validation, log)
}

// parseRules checks a rule file's text. Files we read take any UTF-8
// label name, as Prometheus 3 does; files we write keep to the legacy
// names, which every Prometheus and promtool accepts.
func parseRules(name string, b []byte, names model.ValidationScheme, log *slog.Logger) (*rulefmt.RuleGroups, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rgs, errs := rulefmt.Parse(b, false, names, exprParser, log)
	if len(errs) == 0 {
		return rgs, nil
	}
	var out []error
	seen := map[string]bool{}
	for _, e := range errs {
		for _, msg := range placeError(name, e) {
			if !seen[msg] {
				seen[msg] = true
				out = append(out, errors.New(msg))
			}
		}
	}
	return nil, errors.Join(out...)
}

var (
	lineCol  = regexp.MustCompile(`^\d+:\d+: `)
	yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// placeError formats a rulefmt or YAML error as file:line:col: reason.
func placeError(file string, err error) []string {
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		out := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			out = append(out, placeMessage(file, strings.TrimSpace(e)))
		}
		return out
	}
	return []string{placeMessage(file, err.Error())}
}

func placeMessage(file, msg string) string {
	if lineCol.MatchString(msg) {
		return file + ":" + msg
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return file + ":" + m[1] + ": " + m[2]
	}
	return file + ": " + msg
}

// unjoin returns the errors joined in err, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Rule is one alerting or recording rule as written in a rule file:
// exactly one of Alert and Record is set.
type Rule struct {
	Alert         string
	Record        string
	Expr          string
	For           time.Duration // alerting only: how long Expr must hold before the alert fires
	KeepFiringFor time.Duration // alerting only: how long it keeps firing after Expr stops
	Labels        map[string]string
	Annotations   map[string]string // alerting only: summary, description, runbook_url …
}

// Threshold comparison operators of RuleFromThreshold.
var thresholdOps = []string{">", ">=", "<", "<="}

// RuleFromThreshold returns the alerting rule that fires when expr op
// value has held for forDur, e.g. a panel's red threshold:
//
//	RuleFromThreshold("HighErrorRate", `sum(rate(http_requests_total{status=~"5.."}[5m]))`, ">", 5, 2*time.Minute,
//		map[string]string{"severity": "critical"}, map[string]string{"summary": "5xx above 5/s"})
//
// gives expr `sum(rate(http_requests_total{status=~"5.."}[5m])) > 5`. An
// expression that is itself a binary operation is parenthesized. The rule
// is checked as a rule file would be.
func RuleFromThreshold(name, expr, op string, value float64, forDur time.Duration, labels, annotations map[string]string) (Rule, error) {
	if strings.TrimSpace(name) == "" || !utf8.ValidString(name) || strings.ContainsAny(name, "\n\r") {
		return Rule{}, fmt.Errorf("alert name %q: want one line of text, e.g. HighErrorRate", name)
	}
	valid := false
	for _, o := range thresholdOps {
		valid = valid || o == op
	}
	if !valid {
		return Rule{}, fmt.Errorf("threshold operator %q: want one of %s", op, strings.Join(thresholdOps, " "))
	}
	if math.IsNaN(value) {
		return Rule{}, errors.New("threshold value is NaN: nothing compares to it")
	}
	if forDur < 0 {
		return Rule{}, fmt.Errorf("for %v: must not be negative", forDur)
	}
	e, err := exprParser.ParseExpr(expr)
	if err != nil {
		return Rule{}, fmt.Errorf("threshold expression %q: %w", expr, err)
	}
	if e.Type() != parser.ValueTypeVector && e.Type() != parser.ValueTypeScalar {
		return Rule{}, fmt.Errorf("threshold expression %q: a %s, want an instant vector or a scalar", expr, e.Type())
	}
	text := strings.TrimSpace(expr)
	if _, ok := e.(*parser.BinaryExpr); ok {
		text = "(" + text + ")"
	}
	r := Rule{
		Alert:       name,
		Expr:        text + " " + op + " " + formatFloat(value),
		For:         forDur,
		Labels:      labels,
		Annotations: annotations,
	}
	if err := checkRule(r); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// formatFloat writes v as a PromQL number.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (r Rule) rulefmt() rulefmt.Rule {
	return rulefmt.Rule{
		Alert:         r.Alert,
		Record:        r.Record,
		Expr:          r.Expr,
		For:           model.Duration(r.For),
		KeepFiringFor: model.Duration(r.KeepFiringFor),
		Labels:        r.Labels,
		Annotations:   r.Annotations,
	}
}

// checkRule checks r alone, as part of a rule file.
func checkRule(r Rule) error {
	var buf bytes.Buffer
	return WriteRuleFile(&buf, "check", r)
}

// WriteRuleFile writes a rule file of one group holding rules, as
// Prometheus and `promtool check rules` read it. It writes nothing when a
// rule is not valid, and says which.
func WriteRuleFile(w io.Writer, group string, rules ...Rule) error {
	rg := rulefmt.RuleGroup{Name: group, Rules: make([]rulefmt.Rule, len(rules))}
	for i, r := range rules {
		rg.Rules[i] = r.rulefmt()
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{rg}}); err != nil {
		return fmt.Errorf("encode rule group %q: %w", group, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode rule group %q: %w", group, err)
	}
	if _, err := parseRules("rule group "+strconv.Quote(group), buf.Bytes(), model.LegacyValidation, nil); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
