package webstatus_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/webstatus"
)

func ExampleParseNginx() {
	page := "Active connections: 2 \nserver accepts handled requests\n 10 10 12 \nReading: 0 Writing: 1 Waiting: 1 \n"
	st, err := webstatus.ParseNginx([]byte(page))
	if err != nil {
		panic(err)
	}
	for _, s := range st.Samples("web", time.Unix(1700000000, 0)) {
		fmt.Println(s.Labels, s.V)
	}
	_, err = webstatus.ParseNginx([]byte("Active connections: 2\nserver accepts handled requests\n 10 x 12\n"))
	fmt.Println(err)
	// Output:
	// {__name__="webserver_requests_total", job="web"} 12
	// {__name__="webserver_connections_accepted_total", job="web"} 10
	// {__name__="webserver_connections_handled_total", job="web"} 10
	// {__name__="webserver_connections", job="web", state="active"} 2
	// {__name__="webserver_connections", job="web", state="reading"} 0
	// {__name__="webserver_connections", job="web", state="writing"} 1
	// {__name__="webserver_connections", job="web", state="waiting"} 1
	// line 3: handled: "x" is not a count
}

// ExampleDocs prints the metric table of the README.
func ExampleDocs() {
	fmt.Println("| Metric | Type | Labels | Unit | From | Meaning |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, d := range webstatus.Docs() {
		fmt.Printf("| `%s` | %s | %s | %s | %s | %s |\n", d.Name, d.Type, strings.Join(d.Labels, ", "), d.Unit, d.Source, d.Help)
	}
	// Output:
	// | Metric | Type | Labels | Unit | From | Meaning |
	// |---|---|---|---|---|---|
	// | `up` | gauge | job |  | the scrape | 1 when the last scrape of the status page succeeded, 0 when it failed. |
	// | `webserver_info` | gauge | job, version, mpm, built |  | nginx: the Server header (version only); Apache: ServerVersion, ServerMPM, Server Built | 1, with the server's version, Apache's MPM and build date as labels. |
	// | `webserver_requests_total` | counter | job |  | nginx: requests; Apache: Total Accesses | Requests served since start (nginx counts the status requests, and requests in progress; Apache only those done). |
	// | `webserver_connections` | gauge | job, state |  | nginx: Active connections (active), Reading, Writing, Waiting; Apache (event MPM): ConnsTotal (active), ConnsAsyncWaitIO (wait_io), ConnsAsyncWriting (writing), ConnsAsyncKeepAlive (keepalive), ConnsAsyncClosing (closing) | Client connections by state. state="active" counts all of them and the other states are parts of it, so do not sum over state. |
	// | `webserver_connections_accepted_total` | counter | job |  | nginx: accepts | Client connections accepted since start. |
	// | `webserver_connections_handled_total` | counter | job |  | nginx: handled | Client connections handled since start: the accepted ones but those dropped at a resource limit. |
	// | `webserver_busy_workers` | gauge | job |  | Apache: BusyWorkers | Workers serving a request. |
	// | `webserver_idle_workers` | gauge | job |  | Apache: IdleWorkers | Workers waiting for a request. |
	// | `webserver_transferred_bytes_total` | counter | job | bytes | Apache: Total kBytes × 1024 | Bytes of the requests since the last restart, in steps of 1024 (ExtendedStatus On): with mod_logio (built into Debian's Apache), both ways on the wire, headers and TLS included; without it, the response bodies. |
	// | `webserver_uptime_seconds` | gauge | job | seconds | Apache: ServerUptimeSeconds, or Uptime when only it is printed | Time since the server's last restart. |
	// | `webserver_scoreboard` | gauge | job, state |  | Apache: Scoreboard (_ S R W K D C L G I .) | Worker slots by state: waiting, starting, reading, sending, keepalive, dns, closing, logging, graceful, idle_cleanup, open (a free slot), and unknown for a character of no state. |
	// | `dandan_webstatus_scrape_duration_seconds` | gauge | job | seconds | the scrape | Time the last scrape of the status page took, failed or not. |
	// | `apache_config_generation` | gauge | job |  | Apache: ParentServerConfigGeneration | Generation of the configuration of Apache's parent process: it grows by one each time Apache reloads its configuration (restart or graceful restart). |
	// | `apache_mpm_generation` | gauge | job |  | Apache: ParentServerMPMGeneration | Generation of the children of Apache's MPM: it grows by one each time the parent restarts them (restart or graceful restart). |
	// | `apache_load1` | gauge | job |  | Apache: Load1 | The host's 1-minute load average, as Apache reports it. |
	// | `apache_load5` | gauge | job |  | Apache: Load5 | The host's 5-minute load average, as Apache reports it. |
	// | `apache_load15` | gauge | job |  | Apache: Load15 | The host's 15-minute load average, as Apache reports it. |
	// | `apache_request_duration_seconds_total` | counter | job | seconds | Apache: Total Duration | Time spent serving requests since the last restart (ExtendedStatus On; Apache counts in milliseconds). |
	// | `apache_cpu_user_seconds_total` | counter | job | seconds | Apache: CPUUser | User CPU time of Apache's processes since the last restart. |
	// | `apache_cpu_system_seconds_total` | counter | job | seconds | Apache: CPUSystem | System CPU time of Apache's processes since the last restart. |
	// | `apache_cpu_children_user_seconds_total` | counter | job | seconds | Apache: CPUChildrenUser | User CPU time of the children of Apache's processes (CGI scripts, piped logs) since the last restart. |
	// | `apache_cpu_children_system_seconds_total` | counter | job | seconds | Apache: CPUChildrenSystem | System CPU time of the children of Apache's processes since the last restart. |
	// | `apache_cpu_load_ratio` | gauge | job | ratio | Apache: CPULoad | CPU time of Apache's processes over the uptime since the last restart, as a ratio of one CPU (Apache prints a percentage). |
	// | `apache_requests_per_second` | gauge | job |  | Apache: ReqPerSec | Requests per second averaged over the uptime since the last restart; rate(webserver_requests_total) is the current rate. |
	// | `apache_transferred_bytes_per_second` | gauge | job | bytes | Apache: BytesPerSec | Bytes transferred per second (as webserver_transferred_bytes_total counts them), averaged over the uptime since the last restart. |
	// | `apache_transferred_bytes_per_request` | gauge | job | bytes | Apache: BytesPerReq | Bytes transferred per request (as webserver_transferred_bytes_total counts them), averaged over the requests since the last restart. |
	// | `apache_request_duration_average_seconds` | gauge | job | seconds | Apache: DurationPerReq | Time spent per request, averaged over the requests since the last restart (Apache prints milliseconds). |
	// | `apache_graceful_workers` | gauge | job |  | Apache: GracefulWorkers | Workers finishing their request before they stop, in a graceful restart or stop. |
	// | `apache_processes` | gauge | job |  | Apache: Processes | Apache's child processes. |
	// | `apache_stopping_processes` | gauge | job |  | Apache: Stopping | Child processes that are stopping (after a graceful restart or when idle). |
	// | `apache_tls_session_cache_info` | gauge | job, type |  | Apache: CacheType | 1, with the type of mod_ssl's TLS session cache (SHMCB, DBM) as a label. |
	// | `apache_tls_session_cache_shared_memory_bytes` | gauge | job | bytes | Apache: CacheSharedMemory | Size of the shared memory of the TLS session cache. |
	// | `apache_tls_session_cache_entries` | gauge | job |  | Apache: CacheCurrentEntries | Sessions in the TLS session cache. |
	// | `apache_tls_session_cache_subcaches` | gauge | job |  | Apache: CacheSubcaches | Subcaches of the TLS session cache. |
	// | `apache_tls_session_cache_indexes_per_subcache` | gauge | job |  | Apache: CacheIndexesPerSubcaches | Index entries of each subcache of the TLS session cache. |
	// | `apache_tls_session_cache_time_left_oldest_avg_seconds` | gauge | job | seconds | Apache: CacheTimeLeftOldestAvg | Time until the oldest session of each subcache expires, averaged over the subcaches (printed when the cache holds sessions). |
	// | `apache_tls_session_cache_time_left_oldest_min_seconds` | gauge | job | seconds | Apache: CacheTimeLeftOldestMin | Time until the oldest session of each subcache expires, the least over the subcaches. |
	// | `apache_tls_session_cache_time_left_oldest_max_seconds` | gauge | job | seconds | Apache: CacheTimeLeftOldestMax | Time until the oldest session of each subcache expires, the most over the subcaches. |
	// | `apache_tls_session_cache_index_usage_ratio` | gauge | job | ratio | Apache: CacheIndexUsage | Share of the TLS session cache's index entries in use (Apache prints a percentage). |
	// | `apache_tls_session_cache_usage_ratio` | gauge | job | ratio | Apache: CacheUsage | Share of the TLS session cache's data space in use (Apache prints a percentage). |
	// | `apache_tls_session_cache_stores_total` | counter | job |  | Apache: CacheStoreCount | Sessions stored in the TLS session cache since the last restart. |
	// | `apache_tls_session_cache_replaces_total` | counter | job |  | Apache: CacheReplaceCount | Sessions stored in the TLS session cache in place of one with the same id. |
	// | `apache_tls_session_cache_expires_total` | counter | job |  | Apache: CacheExpireCount | Sessions removed from the TLS session cache because they expired. |
	// | `apache_tls_session_cache_discards_total` | counter | job |  | Apache: CacheDiscardCount | Sessions removed from the TLS session cache before they expired, to make room. |
	// | `apache_tls_session_cache_retrieve_hits_total` | counter | job |  | Apache: CacheRetrieveHitCount | Session lookups in the TLS session cache that found the session (resumed TLS sessions). |
	// | `apache_tls_session_cache_retrieve_misses_total` | counter | job |  | Apache: CacheRetrieveMissCount | Session lookups in the TLS session cache that did not find the session. |
	// | `apache_tls_session_cache_remove_hits_total` | counter | job |  | Apache: CacheRemoveHitCount | Session removals from the TLS session cache that found the session. |
	// | `apache_tls_session_cache_remove_misses_total` | counter | job |  | Apache: CacheRemoveMissCount | Session removals from the TLS session cache that did not find the session. |
	// | `apache_tls_session_cache_size_bytes` | gauge | job | bytes | Apache: CacheCurrentSize | Size of the DBM TLS session cache. |
	// | `apache_tls_session_cache_average_entry_size_bytes` | gauge | job | bytes | Apache: CacheAvgEntrySize | Average size of a session in the DBM TLS session cache. |
	// | `apache_proxy_balancer_worker_status` | gauge | job, balancer, worker, status |  | Apache: ProxyBalancer[i]Worker[j]Status, with ProxyBalancer[i]Name and ProxyBalancer[i]Worker[j]Name as labels | 1, with the status of the mod_proxy balancer member as a label, such as "Init Ok". |
	// | `apache_proxy_balancer_worker_elected_total` | counter | job, balancer, worker |  | Apache: ProxyBalancer[i]Worker[j]Elected | Requests the balancer sent to the member. |
	// | `apache_proxy_balancer_worker_busy` | gauge | job, balancer, worker |  | Apache: ProxyBalancer[i]Worker[j]Busy | Requests to the member in progress. |
	// | `apache_proxy_balancer_worker_sent_bytes_total` | counter | job, balancer, worker | bytes | Apache: ProxyBalancer[i]Worker[j]Sent × 1024 | Bytes sent to the member, in steps of 1024. |
	// | `apache_proxy_balancer_worker_received_bytes_total` | counter | job, balancer, worker | bytes | Apache: ProxyBalancer[i]Worker[j]Rcvd × 1024 | Bytes received from the member, in steps of 1024. |
}
