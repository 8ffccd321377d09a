package watch

import (
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/dandan-sre/dandan/internal/component"
)

//go:embed templates
var templatesFS embed.FS

// example is the part's commented section of the example config.
const example = `# Watchdog agent: tails access logs into request metrics, scrapes
# nginx/Apache status pages and the host, and writes every sample to the
# embedded store (and to remote_write / OpenTSDB receivers) without losing
# or repeating a line across rotations, restarts and crashes.
watch:
  interval: 10s            # how often every series is sampled and committed
  jobs:
    # dandan's own requests (server.access_log_file), in the media format
    - name: dandan
      files: [data/access.log]
      format: media-nginx
  #  - name: web
  #    files: [/var/log/nginx/access.log]   # files and globs
  #    format: media-nginx    # preset (media-nginx, media-apache, combined, common, json) or a pasted log_format
  #    from_start: false      # read existing files from the beginning, not the end
  #    path_rules: ["/article/*=/article/{id}"]   # PATTERN=TEMPLATE, first match wins; ~regexp too
  #    auto_template: true    # collapse IDs, UUIDs, hashes, dates in paths
  #    max_paths: 1000        # cap on path templates; the rest count as path="other"
  #    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
  #    referers: false        # http_requests_by_referer_total
  #    top_clients: 1000      # counters of the top-clients sketch
  #    native_histograms: false   # also http_request_duration_seconds as a native histogram (store, remote_write)
  #    native_bucket_factor: 1.1  # its resolution: each bucket at most this much wider than the last (schema 3)
  #    native_max_buckets: 160    # past this many populated buckets they double in width
  # status:
  #   - job: web
  #     kind: nginx           # nginx (stub_status) or apache (mod_status ?auto)
  #     url: http://127.0.0.1/nginx_status
  #     interval: 15s
  #     timeout: 5s
  host:
    enabled: true          # CPU, memory, disks, network, load, file descriptors
    interval: 15s
  # Synthetic media traffic with a daily shape and spikes, as job "demo",
  # so a new install shows moving numbers at once. Turn it off for real use.
  demo:
    enabled: true
    rate: 40               # lines per second at the daily peak
  outputs:
    store: true            # the embedded store (store.metrics)
    remote_write: []
    #  - name: central
    #    url: http://prometheus:9090/api/v1/write
    #    bearer_token: ${REMOTE_WRITE_TOKEN}
    #    # basic_auth: {username: agent, password: ${RW_PASSWORD}}
    #    # headers: {X-Scope-OrgID: media}
    #    timeout: 30s
    opentsdb: []
    #  - name: legacy
    #    addr: opentsdb:4242
  queue:
    max_size: 256MiB       # journal bound; past it unsent samples are dropped and counted
    sync: false            # fsync each commit (power-loss safe); a killed process loses nothing either way
`

// Part returns the watchdog part.
func Part() component.Part {
	return component.Part{
		Name:      "watch",
		Summary:   "Tail access logs, status pages and host metrics into the metric store and remote_write",
		Example:   example,
		NewConfig: func() component.Config { return DefaultConfig() },
		New: func(d component.Deps, c component.Config) (component.Component, error) {
			return NewAgent(d, c.(*Config))
		},
		Command: command,
	}
}

// NewAgent builds the agent and parses its pages.
func NewAgent(d component.Deps, cfg *Config) (*Agent, error) {
	a, err := New(d, cfg)
	if err != nil {
		return nil, err
	}
	if d.UI != nil {
		sub, err := fs.Sub(templatesFS, "templates")
		if err != nil {
			return nil, err
		}
		if a.pages, err = d.UI.Parse(sub, "jobs.html", "query.html"); err != nil {
			return nil, fmt.Errorf("parse watch pages: %w", err)
		}
	}
	return a, nil
}

var _ component.Component = (*Agent)(nil)
var _ component.Readier = (*Agent)(nil)

// agentGCPercent is the Go GC's GOGC for `dandan watch` when the
// environment sets none. The agent's heap is small and it allocates little
// between commits, so collecting at +25% instead of +100% of the live heap
// costs next to no CPU (measured: 1.5% of a core either way at 10,000
// lines/s) and keeps its RSS about half as large and flat from the first
// minute, as an agent on a production host should be.
const agentGCPercent = 25

func agentGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(agentGCPercent)
	}
}

func command(env component.Env) *cobra.Command {
	var once bool
	var lines int
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Run the watchdog agent alone, or check its config with --once",
		Long: `Watch runs the watchdog agent alone: it tails the access logs of watch.jobs,
scrapes watch.status pages and the host, and commits samples to the
embedded store and the configured outputs. For an agent that only feeds a
central dandan or Prometheus, set store.metrics.enabled: false and give
watch.outputs.remote_write.

With --once it reads nothing for good: it lists the files each job would
read, parses the last lines of each with the job's format, scrapes each
status page and the host once, prints what it would collect, and exits 1
if anything fails (no file matches, a file cannot be read, lines do not
match the format, a status page does not answer).`,
		Example: `  dandan watch --config dandan.yaml
  dandan watch --config dandan.yaml --once`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !once {
				agentGC()
				return env.RunAlone(cmd)
			}
			c, dataDir, err := env.Section(cmd)
			if err != nil {
				return err
			}
			return runOnce(cmd.Context(), c.(*Config), dataDir, lines, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "check the config against the files and pages it names, print what would be collected, and exit")
	cmd.Flags().IntVar(&lines, "lines", 1000, "with --once: how many of each file's last lines to parse")
	return cmd
}

func urlQuery(s string) string { return url.QueryEscape(s) }
