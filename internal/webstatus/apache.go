package webstatus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// ApacheStatus is Apache's mod_status page in its machine-readable form
// (server-status?auto): "Name: value" lines, the sections modules add
// (mod_ssl's TLSSessionCacheStatus) and mod_proxy's balancers.
type ApacheStatus struct {
	// ServerName is the bare first line of Apache 2.4.35 and later.
	ServerName string
	// Values holds the numeric fields by name as printed ("Total
	// Accesses", "CacheUsage"), in the units printed: kBytes, milliseconds,
	// percent (without its %).
	Values map[string]float64
	// Text holds the other fields by name: ServerVersion, ServerMPM,
	// Server Built, CurrentTime, Scoreboard and so on.
	Text map[string]string
	// Balancers are mod_proxy's balancers, the ProxyBalancer[i] lines.
	Balancers []Balancer
	// Sections are the headers of module sections, such as
	// TLSSessionCacheStatus.
	Sections []string
	// Unknown names, in order, the fields this package does not know: a
	// newer Apache or another module prints them, and they are not
	// exported.
	Unknown []string
}

// Balancer is one of mod_proxy's balancers.
type Balancer struct {
	Name    string // ProxyBalancer[i]Name, such as balancer://backend
	Workers []BalancerWorker
}

// BalancerWorker is a member of a Balancer.
type BalancerWorker struct {
	Name   string // ProxyBalancer[i]Worker[j]Name, the member's URL
	Status string // "Init Ok"
	// Values holds the numeric fields by name as printed: Elected, Busy,
	// and Sent and Rcvd in kBytes (without their K).
	Values map[string]float64
}

// apacheField is a field of the ?auto page: what it means and the metric
// it feeds.
type apacheField struct {
	name string // as Apache prints it
	text bool   // a text field
	// metric is the metric the field feeds, "" when it feeds none.
	metric string
	// label is, for a text field, the label of metric it gives.
	label string
	// labels are the label pairs of metric besides job.
	labels []string
	// scale turns the value printed into metric's unit; 0 means 1.
	scale float64
	// unless names a field that says the same: when both are printed,
	// only unless feeds metric.
	unless string
	// typ, unit and help describe metric, when it is an apache_* metric.
	typ, unit, help string
	// why says why a field feeds no metric.
	why string
}

// The units of Prometheus metadata.
const (
	unitSeconds = "seconds"
	unitBytes   = "bytes"
	unitRatio   = "ratio"
)

// apacheFields is every field of Apache 2.4's ?auto page, in the order
// mod_status prints them, then mod_ssl's session cache (shmcb, then dbm).
// mod_proxy's balancer fields are parsed apart (ProxyBalancer[i]…).
var apacheFields = []apacheField{
	{name: "ServerVersion", text: true, metric: MetricInfo, label: "version"},
	{name: "ServerMPM", text: true, metric: MetricInfo, label: "mpm"},
	{name: "Server Built", text: true, metric: MetricInfo, label: "built"},
	{name: "CurrentTime", text: true, why: "the time of the scrape, in the server's time zone"},
	{name: "RestartTime", text: true, why: "the time of the last restart, in the server's time zone: the scrape time less webserver_uptime_seconds"},
	{name: "ParentServerConfigGeneration", metric: "apache_config_generation", typ: "gauge",
		help: "Generation of the configuration of Apache's parent process: it grows by one each time Apache reloads its configuration (restart or graceful restart)."},
	{name: "ParentServerMPMGeneration", metric: "apache_mpm_generation", typ: "gauge",
		help: "Generation of the children of Apache's MPM: it grows by one each time the parent restarts them (restart or graceful restart)."},
	{name: "ServerUptimeSeconds", metric: MetricUptime},
	{name: "ServerUptime", text: true, why: "ServerUptimeSeconds in words"},
	{name: "Load1", metric: "apache_load1", typ: "gauge", help: "The host's 1-minute load average, as Apache reports it."},
	{name: "Load5", metric: "apache_load5", typ: "gauge", help: "The host's 5-minute load average, as Apache reports it."},
	{name: "Load15", metric: "apache_load15", typ: "gauge", help: "The host's 15-minute load average, as Apache reports it."},
	{name: "Total Accesses", metric: MetricRequests},
	{name: "Total kBytes", metric: MetricTransferredBytes, scale: 1024},
	{name: "Total Duration", metric: "apache_request_duration_seconds_total", scale: 1e-3, typ: "counter", unit: unitSeconds,
		help: "Time spent serving requests since the last restart (ExtendedStatus On; Apache counts in milliseconds)."},
	{name: "CPUUser", metric: "apache_cpu_user_seconds_total", typ: "counter", unit: unitSeconds,
		help: "User CPU time of Apache's processes since the last restart."},
	{name: "CPUSystem", metric: "apache_cpu_system_seconds_total", typ: "counter", unit: unitSeconds,
		help: "System CPU time of Apache's processes since the last restart."},
	{name: "CPUChildrenUser", metric: "apache_cpu_children_user_seconds_total", typ: "counter", unit: unitSeconds,
		help: "User CPU time of the children of Apache's processes (CGI scripts, piped logs) since the last restart."},
	{name: "CPUChildrenSystem", metric: "apache_cpu_children_system_seconds_total", typ: "counter", unit: unitSeconds,
		help: "System CPU time of the children of Apache's processes since the last restart."},
	{name: "CPULoad", metric: "apache_cpu_load_ratio", scale: 1e-2, typ: "gauge", unit: unitRatio,
		help: "CPU time of Apache's processes over the uptime since the last restart, as a ratio of one CPU (Apache prints a percentage)."},
	{name: "Uptime", metric: MetricUptime, unless: "ServerUptimeSeconds"},
	{name: "ReqPerSec", metric: "apache_requests_per_second", typ: "gauge",
		help: "Requests per second averaged over the uptime since the last restart; rate(webserver_requests_total) is the current rate."},
	{name: "BytesPerSec", metric: "apache_transferred_bytes_per_second", typ: "gauge", unit: unitBytes,
		help: "Bytes transferred per second (as webserver_transferred_bytes_total counts them), averaged over the uptime since the last restart."},
	{name: "BytesPerReq", metric: "apache_transferred_bytes_per_request", typ: "gauge", unit: unitBytes,
		help: "Bytes transferred per request (as webserver_transferred_bytes_total counts them), averaged over the requests since the last restart."},
	{name: "DurationPerReq", metric: "apache_request_duration_average_seconds", scale: 1e-3, typ: "gauge", unit: unitSeconds,
		help: "Time spent per request, averaged over the requests since the last restart (Apache prints milliseconds)."},
	{name: "BusyWorkers", metric: MetricBusyWorkers},
	{name: "GracefulWorkers", metric: "apache_graceful_workers", typ: "gauge",
		help: "Workers finishing their request before they stop, in a graceful restart or stop."},
	{name: "IdleWorkers", metric: MetricIdleWorkers},
	{name: "Processes", metric: "apache_processes", typ: "gauge", help: "Apache's child processes."},
	{name: "Stopping", metric: "apache_stopping_processes", typ: "gauge",
		help: "Child processes that are stopping (after a graceful restart or when idle)."},
	{name: "ConnsTotal", metric: MetricConnections, labels: []string{"state", "active"}},
	{name: "ConnsAsyncWaitIO", metric: MetricConnections, labels: []string{"state", "wait_io"}},
	{name: "ConnsAsyncWriting", metric: MetricConnections, labels: []string{"state", "writing"}},
	{name: "ConnsAsyncKeepAlive", metric: MetricConnections, labels: []string{"state", "keepalive"}},
	{name: "ConnsAsyncClosing", metric: MetricConnections, labels: []string{"state", "closing"}},
	{name: "Scoreboard", text: true, metric: MetricScoreboard},

	// mod_ssl's TLS session cache (SSLSessionCache), after the header
	// TLSSessionCacheStatus. shmcb:
	{name: "CacheType", text: true, metric: "apache_tls_session_cache_info", label: "type", typ: "gauge",
		help: "1, with the type of mod_ssl's TLS session cache (SHMCB, DBM) as a label."},
	{name: "CacheSharedMemory", metric: "apache_tls_session_cache_shared_memory_bytes", typ: "gauge", unit: unitBytes,
		help: "Size of the shared memory of the TLS session cache."},
	{name: "CacheCurrentEntries", metric: "apache_tls_session_cache_entries", typ: "gauge",
		help: "Sessions in the TLS session cache."},
	{name: "CacheSubcaches", metric: "apache_tls_session_cache_subcaches", typ: "gauge",
		help: "Subcaches of the TLS session cache."},
	{name: "CacheIndexesPerSubcaches", metric: "apache_tls_session_cache_indexes_per_subcache", typ: "gauge",
		help: "Index entries of each subcache of the TLS session cache."},
	{name: "CacheTimeLeftOldestAvg", metric: "apache_tls_session_cache_time_left_oldest_avg_seconds", typ: "gauge", unit: unitSeconds,
		help: "Time until the oldest session of each subcache expires, averaged over the subcaches (printed when the cache holds sessions)."},
	{name: "CacheTimeLeftOldestMin", metric: "apache_tls_session_cache_time_left_oldest_min_seconds", typ: "gauge", unit: unitSeconds,
		help: "Time until the oldest session of each subcache expires, the least over the subcaches."},
	{name: "CacheTimeLeftOldestMax", metric: "apache_tls_session_cache_time_left_oldest_max_seconds", typ: "gauge", unit: unitSeconds,
		help: "Time until the oldest session of each subcache expires, the most over the subcaches."},
	{name: "CacheIndexUsage", metric: "apache_tls_session_cache_index_usage_ratio", scale: 1e-2, typ: "gauge", unit: unitRatio,
		help: "Share of the TLS session cache's index entries in use (Apache prints a percentage)."},
	{name: "CacheUsage", metric: "apache_tls_session_cache_usage_ratio", scale: 1e-2, typ: "gauge", unit: unitRatio,
		help: "Share of the TLS session cache's data space in use (Apache prints a percentage)."},
	{name: "CacheStoreCount", metric: "apache_tls_session_cache_stores_total", typ: "counter",
		help: "Sessions stored in the TLS session cache since the last restart."},
	{name: "CacheReplaceCount", metric: "apache_tls_session_cache_replaces_total", typ: "counter",
		help: "Sessions stored in the TLS session cache in place of one with the same id."},
	{name: "CacheExpireCount", metric: "apache_tls_session_cache_expires_total", typ: "counter",
		help: "Sessions removed from the TLS session cache because they expired."},
	{name: "CacheDiscardCount", metric: "apache_tls_session_cache_discards_total", typ: "counter",
		help: "Sessions removed from the TLS session cache before they expired, to make room."},
	{name: "CacheRetrieveHitCount", metric: "apache_tls_session_cache_retrieve_hits_total", typ: "counter",
		help: "Session lookups in the TLS session cache that found the session (resumed TLS sessions)."},
	{name: "CacheRetrieveMissCount", metric: "apache_tls_session_cache_retrieve_misses_total", typ: "counter",
		help: "Session lookups in the TLS session cache that did not find the session."},
	{name: "CacheRemoveHitCount", metric: "apache_tls_session_cache_remove_hits_total", typ: "counter",
		help: "Session removals from the TLS session cache that found the session."},
	{name: "CacheRemoveMissCount", metric: "apache_tls_session_cache_remove_misses_total", typ: "counter",
		help: "Session removals from the TLS session cache that did not find the session."},
	// dbm:
	{name: "CacheMaximumSize", text: true, why: "the DBM cache prints the constant \"unlimited\""},
	{name: "CacheCurrentSize", metric: "apache_tls_session_cache_size_bytes", typ: "gauge", unit: unitBytes,
		help: "Size of the DBM TLS session cache."},
	{name: "CacheAvgEntrySize", metric: "apache_tls_session_cache_average_entry_size_bytes", typ: "gauge", unit: unitBytes,
		help: "Average size of a session in the DBM TLS session cache."},
}

// The metrics of mod_proxy's balancer fields, ProxyBalancer[i]Worker[j]X.
const (
	metricBalancerStatus   = "apache_proxy_balancer_worker_status"
	metricBalancerElected  = "apache_proxy_balancer_worker_elected_total"
	metricBalancerBusy     = "apache_proxy_balancer_worker_busy"
	metricBalancerSent     = "apache_proxy_balancer_worker_sent_bytes_total"
	metricBalancerReceived = "apache_proxy_balancer_worker_received_bytes_total"
)

// balancerFields maps the numeric fields of a balancer worker to their
// metrics; the values are in kBytes for Sent and Rcvd.
var balancerFields = []struct {
	name, metric string
	scale        float64
}{
	{"Elected", metricBalancerElected, 1},
	{"Busy", metricBalancerBusy, 1},
	{"Sent", metricBalancerSent, 1024},
	{"Rcvd", metricBalancerReceived, 1024},
}

// scoreboardStates names the characters of Apache's scoreboard, in the
// order of the legend mod_status prints.
var scoreboardStates = []struct {
	char  byte
	state string
}{
	{'_', "waiting"},
	{'S', "starting"},
	{'R', "reading"},
	{'W', "sending"},
	{'K', "keepalive"},
	{'D', "dns"},
	{'C', "closing"},
	{'L', "logging"},
	{'G', "graceful"},
	{'I', "idle_cleanup"},
	{'.', "open"},
}

// lookupApacheField returns the field of apacheFields named name.
func lookupApacheField(name string) (apacheField, bool) {
	for _, f := range apacheFields {
		if f.name == name {
			return f, true
		}
	}
	return apacheField{}, false
}

// ParseApache parses the machine-readable form of a mod_status page.
// Fields it does not know are kept and listed in Unknown. Its errors give
// the line: `line 12: Total Accesses: "x" is not a number`. A line that is
// not "Name: value" is an error, except in a module's section, where it is
// skipped: mod_socache_redis, for one, prints HTML there.
func ParseApache(body []byte) (ApacheStatus, error) {
	st := ApacheStatus{Values: map[string]float64{}, Text: map[string]string{}}
	l := lines{b: body}
	inSection := false
	for first := true; ; first = false {
		n, line, ok := l.next()
		if !ok {
			break
		}
		name, value, ok := cutField(line)
		if !ok || !fieldName(name) {
			switch {
			case first && !ok && hostName(line):
				st.ServerName = line
			case !ok && sectionName(line):
				st.Sections = append(st.Sections, line)
				inSection = true
			case inSection:
			default:
				return st, fmt.Errorf("line %d: want %q, got %s", n, "Name: value", quote(line))
			}
			continue
		}
		if strings.HasPrefix(name, "ProxyBalancer[") {
			if err := st.balancerField(name, value); err != nil {
				return st, fmt.Errorf("line %d: %s: %w", n, name, err)
			}
			continue
		}
		f, known := lookupApacheField(name)
		if !known {
			st.Unknown = append(st.Unknown, name)
		}
		if known && f.text {
			st.Text[name] = value
			continue
		}
		v, err := parseNumber(value, "%")
		switch {
		case err == nil:
			st.Values[name] = v
		case known:
			return st, fmt.Errorf("line %d: %s: %w", n, name, err)
		default:
			st.Text[name] = value
		}
	}
	if len(st.Values) == 0 && len(st.Text) == 0 && len(st.Balancers) == 0 {
		return st, errors.New("no status fields: not the ?auto form of a mod_status page")
	}
	return st, nil
}

// balancerField records the field name (ProxyBalancer[i]Name or
// ProxyBalancer[i]Worker[j]Field) of value. Balancers and workers come in
// order, so i and j are at most one more than the last.
func (st *ApacheStatus) balancerField(name, value string) error {
	i, rest, ok := index(strings.TrimPrefix(name, "ProxyBalancer"))
	if !ok || i > len(st.Balancers) {
		return errors.New("bad balancer index")
	}
	if i == len(st.Balancers) {
		st.Balancers = append(st.Balancers, Balancer{})
	}
	b := &st.Balancers[i]
	if rest == "Name" {
		b.Name = value
		return nil
	}
	rest, ok = strings.CutPrefix(rest, "Worker")
	if !ok {
		st.Unknown = append(st.Unknown, name)
		return nil
	}
	j, field, ok := index(rest)
	if !ok || j > len(b.Workers) {
		return errors.New("bad worker index")
	}
	if j == len(b.Workers) {
		b.Workers = append(b.Workers, BalancerWorker{Values: map[string]float64{}})
	}
	w := &b.Workers[j]
	switch field {
	case "Name":
		w.Name = value
		return nil
	case "Status":
		w.Status = value
		return nil
	}
	v, err := parseNumber(value, "K")
	if err != nil {
		return err
	}
	w.Values[field] = v
	for _, f := range balancerFields {
		if f.name == field {
			return nil
		}
	}
	st.Unknown = append(st.Unknown, name)
	return nil
}

// index parses "[i]rest".
func index(s string) (i int, rest string, ok bool) {
	s, ok = strings.CutPrefix(s, "[")
	num, rest, ok2 := strings.Cut(s, "]")
	if !ok || !ok2 || len(num) == 0 || len(num) > 6 {
		return 0, "", false
	}
	i, err := strconv.Atoi(num)
	return i, rest, err == nil && i >= 0
}

// cutField splits "Name: value"; "Name:" has an empty value.
func cutField(line string) (name, value string, ok bool) {
	if name, ok := strings.CutSuffix(line, ":"); ok && !strings.Contains(name, ": ") {
		return strings.TrimSpace(name), "", name != ""
	}
	name, value, ok = strings.Cut(line, ": ")
	return strings.TrimSpace(name), strings.TrimSpace(value), ok && name != ""
}

// fieldName reports whether s can be the name of a field: letters, digits,
// spaces and brackets, as Apache and its modules print.
func fieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == ' ', c == '[', c == ']', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return s != ""
}

// hostName reports whether s can be the server name of the first line: a
// host name or an IP address.
func hostName(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return s != "" && len(s) <= 255
}

// sectionName reports whether s can be the header of a module's section,
// such as TLSSessionCacheStatus.
func sectionName(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		default:
			return false
		}
	}
	return s != "" && len(s) <= 64
}

// parseNumber parses a number as Apache prints it (%g, %d, %lu), with an
// optional suffix such as "%" or "K".
func parseNumber(s, suffix string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, suffix), 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number", quote(s))
	}
	return v, nil
}

// Samples returns the samples of st for job at now.
func (st ApacheStatus) Samples(job string, now time.Time) []metricstore.Sample {
	var out []metricstore.Sample
	st.emit(job, now.UnixMilli(), func(_ string, s metricstore.Sample) { out = append(out, s) })
	return out
}

// emit calls f with each sample of st and the field it comes from.
func (st ApacheStatus) emit(job string, ts int64, f func(field string, s metricstore.Sample)) {
	// The info metrics: one sample each, with a label from each text field.
	for _, info := range []string{MetricInfo, "apache_tls_session_cache_info"} {
		var kv, from []string
		for _, fd := range apacheFields {
			if v, ok := st.Text[fd.name]; ok && fd.metric == info {
				kv, from = append(kv, fd.label, v), append(from, fd.name)
			}
		}
		if from != nil {
			f(strings.Join(from, ", "), sample(ts, 1, info, job, kv...))
		}
	}
	for _, fd := range apacheFields {
		if fd.name == "Scoreboard" {
			if sb, ok := st.Text[fd.name]; ok {
				st.emitScoreboard(job, ts, sb, f)
			}
			continue
		}
		v, ok := st.Values[fd.name]
		if !ok || fd.text || fd.metric == "" {
			continue
		}
		if _, ok := st.Values[fd.unless]; ok && fd.unless != "" {
			continue
		}
		if fd.scale != 0 {
			v *= fd.scale
		}
		f(fd.name, sample(ts, v, fd.metric, job, fd.labels...))
	}
	type member struct{ balancer, worker string }
	seen := map[member]bool{} // Apache names members apart; a bad page may not
	for i, b := range st.Balancers {
		for j, w := range b.Workers {
			if seen[member{b.Name, w.Name}] {
				continue
			}
			seen[member{b.Name, w.Name}] = true
			prefix := fmt.Sprintf("ProxyBalancer[%d]Worker[%d]", i, j)
			lv := []string{"balancer", b.Name, "worker", w.Name}
			if w.Status != "" {
				f(prefix+"Status", sample(ts, 1, metricBalancerStatus, job, append(lv, "status", w.Status)...))
			}
			for _, bf := range balancerFields {
				if v, ok := w.Values[bf.name]; ok {
					f(prefix+bf.name, sample(ts, v*bf.scale, bf.metric, job, lv...))
				}
			}
		}
	}
}

// emitScoreboard counts the characters of the scoreboard sb by state,
// every state always, and "unknown" for characters of no state.
func (st ApacheStatus) emitScoreboard(job string, ts int64, sb string, f func(string, metricstore.Sample)) {
	var counts [256]int
	for i := 0; i < len(sb); i++ {
		counts[sb[i]]++
	}
	known := 0
	for _, s := range scoreboardStates {
		known += counts[s.char]
		f("Scoreboard", sample(ts, float64(counts[s.char]), MetricScoreboard, job, "state", s.state))
	}
	if unknown := len(sb) - known; unknown > 0 {
		f("Scoreboard", sample(ts, float64(unknown), MetricScoreboard, job, "state", "unknown"))
	}
}
