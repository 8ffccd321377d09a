package boards

import (
	"fmt"
	"strconv"
)

// Capacity is what one service can take: the seed's "how much are we
// handling against capacity?".
type Capacity struct {
	RPSPerInstance float64 `yaml:"rps_per_instance"`
	Instances      int     `yaml:"instances"`
}

func f(v float64) *float64 { return &v }

// notOnTV leaves a panel off the TV page.
var notOnTV = func() *bool { b := false; return &b }()

// serviceBoard is the built-in board of an access-log job.
func serviceBoard(job string, capacity *Capacity) *Board {
	sel := `job="` + job + `"`
	// Job-wide figures read the watchdog's job-level rollups (a few
	// series, however many paths), so that 7 days answer in milliseconds;
	// the per-path tables read the per-path series over 5 minutes.
	reqs := func(extra string) string { return `job_status:http_requests_total{` + sel + extra + `}` }
	rate := func(extra, window string) string {
		return `sum(rate(` + reqs(extra) + `[` + window + `]))`
	}
	buckets := `job:http_request_duration_seconds_bucket{` + sel + `}`
	quantile := func(q, window string) string {
		return `histogram_quantile(` + q + `, sum by (le) (rate(` + buckets + `[` + window + `])))`
	}
	const ri = "$" + RateIntervalVar
	q := func(expr string) []Query { return []Query{{Expr: expr}} }
	b := &Board{
		Name:   "service-" + job,
		Title:  job + " service",
		Labels: map[string]string{"job": job},
		Range:  DefaultRange,
		source: "built-in",
	}
	b.Panels = []Panel{
		{Title: "Requests per second", Kind: KindStat, Unit: "req/s", Queries: q(rate("", "1m"))},
		{Title: "5xx errors", Kind: KindStat, Unit: "ratio", Queries: q(rate(`,status=~"5.."`, "5m") + " / " + rate("", "5m")),
			Thresholds: Thresholds{Warn: f(0.01), Crit: f(0.05)}, Help: "share of responses with a 5xx status, last 5 minutes"},
		{Title: "4xx errors", Kind: KindStat, Unit: "ratio", Queries: q(rate(`,status=~"4.."`, "5m") + " / " + rate("", "5m")),
			Thresholds: Thresholds{Warn: f(0.05), Crit: f(0.2)}, Help: "share of responses with a 4xx status, last 5 minutes"},
		{Title: "p95 latency", Kind: KindStat, Unit: "s",
			Queries:    q(quantile("0.95", "5m")),
			Thresholds: Thresholds{Warn: f(0.5), Crit: f(1)}, Help: "95% of requests were faster, last 5 minutes"},
	}
	if capacity != nil && capacity.RPSPerInstance > 0 && capacity.Instances > 0 {
		total := capacity.RPSPerInstance * float64(capacity.Instances)
		b.Panels = append(b.Panels, Panel{Title: "Capacity used", Kind: KindStat, Unit: "ratio",
			Queries:    q(rate("", "1m") + " / " + strconv.FormatFloat(total, 'g', -1, 64)),
			Thresholds: Thresholds{Warn: f(0.7), Crit: f(0.9)},
			Help:       fmt.Sprintf("requests per second against %g (%g per instance × %d)", total, capacity.RPSPerInstance, capacity.Instances)})
	}
	b.Panels = append(b.Panels,
		Panel{Title: "Requests counted", Kind: KindStat, Unit: "", Queries: q(`sum(` + reqs("") + `)`),
			Help: "every request in the log since the agent began counting"},
		Panel{Title: "Requests per second by status class", Kind: KindTimeSeries, Unit: "req/s",
			Queries: []Query{{Expr: `sum by (class) (label_replace(rate(` + reqs("") + `[` + ri + `]), "class", "${1}xx", "status", "(.).."))`, Legend: "{{class}}"}}},
		Panel{Title: "Latency", Kind: KindTimeSeries, Unit: "s", Queries: []Query{
			{Expr: quantile("0.5", ri), Legend: "p50"},
			{Expr: quantile("0.95", ri), Legend: "p95"},
			{Expr: quantile("0.99", ri), Legend: "p99"},
		}},
		Panel{Title: "Status mix", Kind: KindStatusMix, Unit: "req/s", Queries: []Query{{Expr: `sum by (status) (rate(` + reqs("") + `[` + ri + `]))`, Legend: "{{status}}"}}},
		Panel{Title: "Latency heatmap", Kind: KindHeatmap, Unit: "s", Queries: q(`sum by (le) (rate(` + buckets + `[` + ri + `]))`)},
		Panel{Title: "Top paths by traffic", Kind: KindTable, Unit: "req/s", Queries: q(`topk(10, sum by (path) (rate(http_requests_total{` + sel + `}[5m])))`)},
		Panel{Title: "Slowest paths (p95)", Kind: KindTable, Unit: "s", TV: notOnTV,
			Queries: q(`topk(10, histogram_quantile(0.95, sum by (path, le) (rate(http_request_duration_seconds_bucket{` + sel + `}[5m]))))`)},
		Panel{Title: "Most failing paths (5xx/s)", Kind: KindTable, TV: notOnTV, Unit: "req/s",
			Queries: q(`topk(10, sum by (path) (rate(http_requests_total{` + sel + `,status=~"5.."}[5m])) > 0)`)},
		Panel{Title: "Bytes out per second", Kind: KindTimeSeries, Unit: "bytes", TV: notOnTV, Queries: []Query{{Expr: `sum(rate(job:http_response_bytes_total{` + sel + `}[` + ri + `]))`, Legend: "bytes/s"}}},
		Panel{Title: "Top client IPs, last 30 minutes", Kind: KindClients, Queries: q(job)},
		Panel{Title: "Host CPU busy", Kind: KindTimeSeries, Unit: "ratio", TV: notOnTV, Queries: []Query{{Expr: `1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[` + ri + `]))`, Legend: "{{instance}}"}},
			Thresholds: Thresholds{Warn: f(0.7), Crit: f(0.9)}},
		Panel{Title: "Host memory used", Kind: KindTimeSeries, Unit: "ratio", TV: notOnTV, Queries: []Query{{Expr: `1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes`, Legend: "{{instance}}"}},
			Thresholds: Thresholds{Warn: f(0.8), Crit: f(0.95)}},
		Panel{Title: "Host network", Kind: KindTimeSeries, Unit: "bytes", TV: notOnTV, Queries: []Query{
			{Expr: `sum by (instance) (rate(node_network_receive_bytes_total[` + ri + `]))`, Legend: "in {{instance}}"},
			{Expr: `sum by (instance) (rate(node_network_transmit_bytes_total[` + ri + `]))`, Legend: "out {{instance}}"},
		}},
	)
	return b
}
