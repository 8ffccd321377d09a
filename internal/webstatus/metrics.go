package webstatus

import (
	"strings"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// The metrics common to nginx and Apache, and those of the scrape.
const (
	MetricUp               = "up"
	MetricInfo             = "webserver_info"
	MetricRequests         = "webserver_requests_total"
	MetricConnections      = "webserver_connections"
	MetricAccepted         = "webserver_connections_accepted_total"
	MetricHandled          = "webserver_connections_handled_total"
	MetricBusyWorkers      = "webserver_busy_workers"
	MetricIdleWorkers      = "webserver_idle_workers"
	MetricTransferredBytes = "webserver_transferred_bytes_total"
	MetricUptime           = "webserver_uptime_seconds"
	MetricScoreboard       = "webserver_scoreboard"
	MetricScrapeDuration   = "dandan_webstatus_scrape_duration_seconds"
)

// Doc documents a metric: the metric table of the README is made of them.
type Doc struct {
	Name   string
	Type   string   // counter or gauge
	Labels []string // job first
	Unit   string   // seconds, bytes, ratio or empty
	Help   string
	Source string // the fields of the status pages it comes from
}

// commonDocs documents the metrics common to nginx and Apache and those
// of the scrape.
func commonDocs() []Doc {
	job := []string{"job"}
	return []Doc{
		{Name: MetricUp, Type: "gauge", Labels: job,
			Help:   "1 when the last scrape of the status page succeeded, 0 when it failed.",
			Source: "the scrape"},
		{Name: MetricInfo, Type: "gauge", Labels: []string{"job", "version", "mpm", "built"},
			Help:   "1, with the server's version, Apache's MPM and build date as labels.",
			Source: "nginx: the Server header (version only); Apache: ServerVersion, ServerMPM, Server Built"},
		{Name: MetricRequests, Type: "counter", Labels: job,
			Help:   "Requests served since start (nginx counts the status requests, and requests in progress; Apache only those done).",
			Source: "nginx: requests; Apache: Total Accesses"},
		{Name: MetricConnections, Type: "gauge", Labels: []string{"job", "state"},
			Help:   `Client connections by state. state="active" counts all of them and the other states are parts of it, so do not sum over state.`,
			Source: "nginx: Active connections (active), Reading, Writing, Waiting; Apache (event MPM): ConnsTotal (active), ConnsAsyncWaitIO (wait_io), ConnsAsyncWriting (writing), ConnsAsyncKeepAlive (keepalive), ConnsAsyncClosing (closing)"},
		{Name: MetricAccepted, Type: "counter", Labels: job,
			Help:   "Client connections accepted since start.",
			Source: "nginx: accepts"},
		{Name: MetricHandled, Type: "counter", Labels: job,
			Help:   "Client connections handled since start: the accepted ones but those dropped at a resource limit.",
			Source: "nginx: handled"},
		{Name: MetricBusyWorkers, Type: "gauge", Labels: job,
			Help:   "Workers serving a request.",
			Source: "Apache: BusyWorkers"},
		{Name: MetricIdleWorkers, Type: "gauge", Labels: job,
			Help:   "Workers waiting for a request.",
			Source: "Apache: IdleWorkers"},
		{Name: MetricTransferredBytes, Type: "counter", Labels: job, Unit: unitBytes,
			Help:   "Bytes of the requests since the last restart, in steps of 1024 (ExtendedStatus On): with mod_logio (built into Debian's Apache), both ways on the wire, headers and TLS included; without it, the response bodies.",
			Source: "Apache: Total kBytes × 1024"},
		{Name: MetricUptime, Type: "gauge", Labels: job, Unit: unitSeconds,
			Help:   "Time since the server's last restart.",
			Source: "Apache: ServerUptimeSeconds, or Uptime when only it is printed"},
		{Name: MetricScoreboard, Type: "gauge", Labels: []string{"job", "state"},
			Help:   "Worker slots by state: waiting, starting, reading, sending, keepalive, dns, closing, logging, graceful, idle_cleanup, open (a free slot), and unknown for a character of no state.",
			Source: "Apache: Scoreboard (_ S R W K D C L G I .)"},
		{Name: MetricScrapeDuration, Type: "gauge", Labels: job, Unit: unitSeconds,
			Help:   "Time the last scrape of the status page took, failed or not.",
			Source: "the scrape"},
	}
}

// Docs documents every metric Scrape can return: the common ones, then
// Apache's own (apache_*) in the order Apache prints their fields.
func Docs() []Doc {
	docs := commonDocs()
	for _, f := range apacheFields {
		if !strings.HasPrefix(f.metric, "apache_") {
			continue
		}
		labels := []string{"job"}
		if f.label != "" {
			labels = append(labels, f.label)
		}
		docs = append(docs, Doc{Name: f.metric, Type: f.typ, Labels: labels, Unit: f.unit, Help: f.help, Source: "Apache: " + f.name})
	}
	balancer := []string{"job", "balancer", "worker"}
	return append(docs,
		Doc{Name: metricBalancerStatus, Type: "gauge", Labels: append(balancer, "status"),
			Help:   "1, with the status of the mod_proxy balancer member as a label, such as \"Init Ok\".",
			Source: "Apache: ProxyBalancer[i]Worker[j]Status, with ProxyBalancer[i]Name and ProxyBalancer[i]Worker[j]Name as labels"},
		Doc{Name: metricBalancerElected, Type: "counter", Labels: balancer,
			Help:   "Requests the balancer sent to the member.",
			Source: "Apache: ProxyBalancer[i]Worker[j]Elected"},
		Doc{Name: metricBalancerBusy, Type: "gauge", Labels: balancer,
			Help:   "Requests to the member in progress.",
			Source: "Apache: ProxyBalancer[i]Worker[j]Busy"},
		Doc{Name: metricBalancerSent, Type: "counter", Labels: balancer, Unit: unitBytes,
			Help:   "Bytes sent to the member, in steps of 1024.",
			Source: "Apache: ProxyBalancer[i]Worker[j]Sent × 1024"},
		Doc{Name: metricBalancerReceived, Type: "counter", Labels: balancer, Unit: unitBytes,
			Help:   "Bytes received from the member, in steps of 1024.",
			Source: "Apache: ProxyBalancer[i]Worker[j]Rcvd × 1024"},
	)
}

// Metadata returns the type, help and unit of every metric of Docs, by
// name, for the metric store.
func Metadata() map[string]metricstore.Metadata {
	docs := Docs()
	m := make(map[string]metricstore.Metadata, len(docs))
	for _, d := range docs {
		m[d.Name] = metricstore.Metadata{Type: d.Type, Help: d.Help, Unit: d.Unit}
	}
	return m
}
