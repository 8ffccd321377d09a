package alerting

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/config"
)

// TestRuleFileErrors: every problem of a bad rule file names the file, the
// line (and column when known) and the rule, as `promtool check rules`.
func TestRuleFileErrors(t *testing.T) {
	cases := []struct {
		file string
		want []string
	}{
		{"bad_expr.rules.yml", []string{`testdata/bad_expr.rules.yml:5:15: group "web", rule 1, "Broken": could not parse expression: 1:36: parse error: unclosed left parenthesis`}},
		{"bad_field.rules.yml", []string{`testdata/bad_field.rules.yml:6: field forr not found in type rulefmt.Rule`}},
		{"bad_both.rules.yml", []string{`testdata/bad_both.rules.yml:5:17: 4:16: group "web", rule 1, "Both": only one of 'record' and 'alert' must be set`}},
		{"bad_yaml.rules.yml", []string{`testdata/bad_yaml.rules.yml:3: did not find expected node content`}},
		{"bad_template.rules.yml", []string{`testdata/bad_template.rules.yml: group "web", rule 1, "BadTemplate": annotation "summary": template: __alert_BadTemplate:1: unclosed action`}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			_, err := parseFile(filepath.Join("testdata", tc.file), nil)
			if err == nil {
				t.Fatal("no error")
			}
			var got []string
			for _, e := range unjoin(err) {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.RuleFiles = []string{"testdata/good.rules.yml", "testdata/none-*.yml"}
	good.Webhooks = []WebhookConfig{{URL: "http://127.0.0.1:9000/hook"}, {Name: "chat", URL: "https://chat.example.com/x"}}
	good.AlertmanagerURL = "http://127.0.0.1:9093"
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	bad := Config{
		RuleFiles:       []string{"testdata/bad_expr.rules.yml", "testdata/missing.yml", "testdata/[.yml"},
		Interval:        0,
		RepeatInterval:  config.Duration(-time.Second),
		Webhooks:        []WebhookConfig{{URL: "ftp://x"}, {URL: "http://a", Timeout: -1}},
		AlertmanagerURL: "localhost:9093",
	}
	want := []string{
		"interval: must be positive, e.g. 30s",
		"repeat_interval: must not be negative",
		`webhooks[0].url: not an http or https URL: "ftp://x"`,
		"webhooks[1].timeout: must not be negative",
		`webhooks[1].name: receiver "webhook" is named twice`,
		`alertmanager_url: not an http or https URL: "localhost:9093"`,
		`rule_files[0]: testdata/bad_expr.rules.yml:5:15: group "web", rule 1, "Broken": could not parse expression: 1:36: parse error: unclosed left parenthesis`,
		"rule_files[1]: stat testdata/missing.yml: no such file or directory",
		`rule_files[2]: bad glob "testdata/[.yml": syntax error in pattern`,
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config validates")
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// TestReloadKeepsRules: a reload that fails says why and keeps the rules
// in force; one that works replaces them.
func TestReloadKeepsRules(t *testing.T) {
	e := newEnv(t)
	path := e.write("r.yml", testRules)
	eng := e.engine(Config{RuleFiles: []string{path}})
	ctx := context.Background()
	if err := os.WriteFile(path, []byte(strings.Replace(testRules, "test_metric > 5", "test_metric >", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	err := eng.Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), path+`:7:15: group "test", rule 2, "TestMetricHigh": could not parse expression`) {
		t.Fatalf("reload error: %v", err)
	}
	if gs := eng.Rules(); len(gs) != 1 || len(gs[0].Rules) != 2 {
		t.Fatalf("rules after a failed reload: %+v", gs)
	}
	if err := os.WriteFile(path, []byte("groups:\n  - name: other\n    rules:\n      - record: x\n        expr: vector(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := eng.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if gs := eng.Rules(); len(gs) != 1 || gs[0].Name != "other" || gs[0].Rules[0].Query != "vector(1)" {
		t.Fatalf("rules after reload: %+v", gs)
	}
}

func TestRuleFromThreshold(t *testing.T) {
	cases := []struct {
		name, expr, op string
		value          float64
		want           string // the rule's expr, or the error
	}{
		{"selector", `test_metric{job="web"}`, ">", 5, `test_metric{job="web"} > 5`},
		{"call", `sum(rate(http_requests_total[5m]))`, ">=", 1e6, `sum(rate(http_requests_total[5m])) >= 1e+06`},
		{"binary expression", `a / b`, "<", 0.995, `(a / b) < 0.995`},
		{"infinity", `up`, "<=", math.Inf(1), `up <= +Inf`},
		{"bad operator", `up`, "==", 1, `threshold operator "==": want one of > >= < <=`},
		{"NaN", `up`, ">", math.NaN(), `threshold value is NaN: nothing compares to it`},
		{"bad expression", `rate(x[5m]`, ">", 1, `threshold expression "rate(x[5m]": 1:11: parse error: unclosed left parenthesis`},
		{"range vector", `x[5m]`, ">", 1, `threshold expression "x[5m]": a matrix, want an instant vector or a scalar`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := RuleFromThreshold("High", tc.expr, tc.op, tc.value, time.Minute, nil, nil)
			got := r.Expr
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := RuleFromThreshold("High", "up", ">", 1, 0, map[string]string{"bad-label": "x"}, nil); err == nil {
		t.Error("a bad label name is accepted")
	}
}

// TestWriteRuleFile: a written rule file reads back the same, and
// `promtool check rules` accepts it.
func TestWriteRuleFile(t *testing.T) {
	high, err := RuleFromThreshold("HighErrorRate", `sum by (job) (rate(http_requests_total{status=~"5.."}[5m]))`, ">", 5, 2*time.Minute,
		map[string]string{"severity": "critical"},
		map[string]string{"summary": "{{ $labels.job }}: {{ $value }} errors per second"})
	if err != nil {
		t.Fatal(err)
	}
	high.KeepFiringFor = time.Minute
	slow, err := RuleFromThreshold("SlowRequests", `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`, ">=", 0.5, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := Rule{Record: "job:http_requests:rate5m", Expr: "sum by (job) (rate(http_requests_total[5m]))"}
	var buf bytes.Buffer
	if err := WriteRuleFile(&buf, "board thresholds", high, slow, rec); err != nil {
		t.Fatal(err)
	}
	want := `groups:
  - name: board thresholds
    rules:
      - alert: HighErrorRate
        expr: sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) > 5
        for: 2m
        keep_firing_for: 1m
        labels:
          severity: critical
        annotations:
          summary: '{{ $labels.job }}: {{ $value }} errors per second'
      - alert: SlowRequests
        expr: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) >= 0.5
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	path := filepath.Join(t.TempDir(), "thresholds.yml")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rgs, err := parseFile(path, nil)
	if err != nil || len(rgs.Groups) != 1 || len(rgs.Groups[0].Rules) != 3 {
		t.Fatalf("read back: %+v %v", rgs, err)
	}

	if err := WriteRuleFile(&bytes.Buffer{}, "g", Rule{Record: "bad name{}", Expr: "up"}); err == nil ||
		!strings.Contains(err.Error(), `"bad name{}": braces present in the recording rule name`) {
		t.Errorf("bad rule: %v", err)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found in PATH: install the Debian package prometheus to check the file with it")
	}
	for _, f := range []string{path, "testdata/good.rules.yml"} {
		out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check rules %s: %v\n%s", f, err, out)
		}
	}
	out, err := exec.Command(promtool, "check", "rules", "testdata/bad_expr.rules.yml").CombinedOutput()
	if err == nil {
		t.Errorf("promtool accepts the bad file:\n%s", out)
	}
}
