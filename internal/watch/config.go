package watch

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/logs"
	"github.com/dandan-sre/dandan/internal/logs/format"
)

// Config is the watch section: what the agent reads and where it sends it.
type Config struct {
	// Interval is how often the agent takes a sample of every series and
	// commits it with the file positions that produced it.
	Interval config.Duration `yaml:"interval"`
	// Jobs are the access logs to tail, one job label each.
	Jobs []*JobConfig `yaml:"jobs"`
	// Status are web-server status pages to scrape.
	Status []*StatusConfig `yaml:"status"`
	// Host turns host metrics (CPU, memory, disks, network) on or off.
	Host HostConfig `yaml:"host"`
	// Demo writes a synthetic media-format log and tails it as job "demo".
	Demo DemoConfig `yaml:"demo"`
	// Outputs say where samples go besides the /api/watch/metrics page.
	Outputs OutputsConfig `yaml:"outputs"`
	// Queue bounds the on-disk journal every output reads from.
	Queue QueueConfig `yaml:"queue"`
}

// JobConfig is one access-log job.
type JobConfig struct {
	Name  string   `yaml:"name"`  // the job label
	Files []string `yaml:"files"` // files and globs
	// Format is a preset (media-nginx, media-apache, combined, common,
	// json) or a pasted nginx log_format / Apache LogFormat string.
	Format     string            `yaml:"format"`
	JSONFields map[string]string `yaml:"json_fields"`
	// FromStart reads files found at start from their beginning, not
	// their end. Files that appear later are always read from the start.
	FromStart bool `yaml:"from_start"`
	// PathRules map paths to templates, PATTERN=TEMPLATE, first match wins.
	PathRules    []string  `yaml:"path_rules"`
	AutoTemplate *bool     `yaml:"auto_template"` // collapse ID-like segments; default true
	MaxPaths     int       `yaml:"max_paths"`     // cap on path templates
	Buckets      []float64 `yaml:"buckets"`       // duration histogram bounds, seconds
	Referers     bool      `yaml:"referers"`      // count by referer host
	TopClients   int       `yaml:"top_clients"`   // counters of the top-clients sketch
	// NativeHistograms also writes http_request_duration_seconds as a
	// native histogram (schema 3), to the store and remote_write.
	NativeHistograms bool `yaml:"native_histograms"`
	// NativeBucketFactor is the native histogram's resolution: each bucket
	// at most this factor wider than the one before (1.1: schema 3).
	NativeBucketFactor float64 `yaml:"native_bucket_factor"`
	// NativeMaxBuckets bounds its populated buckets; past it, buckets
	// double in width (160).
	NativeMaxBuckets int `yaml:"native_max_buckets"`

	format *format.Format
	rules  []logs.Rule
	demo   bool
}

// StatusConfig is one web-server status page.
type StatusConfig struct {
	Job      string          `yaml:"job"`
	Kind     string          `yaml:"kind"` // nginx (stub_status) or apache (mod_status ?auto)
	URL      string          `yaml:"url"`
	Interval config.Duration `yaml:"interval"`
	Timeout  config.Duration `yaml:"timeout"`
}

// HostConfig configures host metrics.
type HostConfig struct {
	Enabled  bool            `yaml:"enabled"`
	Interval config.Duration `yaml:"interval"`
}

// DemoConfig configures the demo source.
type DemoConfig struct {
	Enabled bool `yaml:"enabled"`
	// Rate is the demo's mean lines per second at the daily peak.
	Rate int `yaml:"rate"`
}

// OutputsConfig lists the outputs.
type OutputsConfig struct {
	// Store writes to the embedded metric store (when store.metrics is on).
	Store       bool                 `yaml:"store"`
	RemoteWrite []*RemoteWriteConfig `yaml:"remote_write"`
	OpenTSDB    []*OpenTSDBConfig    `yaml:"opentsdb"`
}

// RemoteWriteConfig is one Prometheus remote_write receiver.
type RemoteWriteConfig struct {
	Name        string            `yaml:"name"`
	URL         string            `yaml:"url"`
	Headers     map[string]string `yaml:"headers"`
	BearerToken config.Secret     `yaml:"bearer_token"`
	BasicAuth   struct {
		Username string        `yaml:"username"`
		Password config.Secret `yaml:"password"`
	} `yaml:"basic_auth"`
	Timeout config.Duration `yaml:"timeout"`
}

// OpenTSDBConfig is one OpenTSDB (or compatible) telnet put receiver.
type OpenTSDBConfig struct {
	Name string `yaml:"name"`
	Addr string `yaml:"addr"` // host:port
}

// QueueConfig bounds the journal.
type QueueConfig struct {
	// MaxSize bounds the journal on disk; past it the oldest samples not
	// yet sent are dropped, counted and reported.
	MaxSize config.Size `yaml:"max_size"`
	// Sync makes every commit wait for the disk (fsync): survives power
	// loss, at a cost. Without it a killed process loses nothing.
	Sync bool `yaml:"sync"`
}

// Defaults.
const (
	defaultInterval       = 10 * time.Second
	defaultStatusInterval = 15 * time.Second
	defaultStatusTimeout  = 5 * time.Second
	defaultHostInterval   = 15 * time.Second
	defaultDemoRate       = 40
	defaultQueueSize      = 256 << 20
	defaultTopClients     = 1000
)

// DefaultConfig returns the section's defaults: host metrics and the
// embedded store on, no jobs.
func DefaultConfig() *Config {
	return &Config{
		Interval: config.Duration(defaultInterval),
		Host:     HostConfig{Enabled: true, Interval: config.Duration(defaultHostInterval)},
		Demo:     DemoConfig{Rate: defaultDemoRate},
		Outputs:  OutputsConfig{Store: true},
		Queue:    QueueConfig{MaxSize: defaultQueueSize},
	}
}

var nameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.:-]{0,62}$`)

// Validate reports every problem by key path, and compiles the formats.
func (c *Config) Validate() error {
	var errs config.Errors
	if c.Interval.Std() < 100*time.Millisecond || c.Interval.Std() > 10*time.Minute {
		errs.Add("interval", "must be between 100ms and 10m")
	}
	seen := map[string]string{}
	claim := func(path, job string) {
		if prev, ok := seen[job]; ok {
			errs.Add(path, "job %q is already used at %s", job, prev)
			return
		}
		seen[job] = path
	}
	for i, j := range c.Jobs {
		p := "jobs[" + strconv.Itoa(i) + "]"
		if j == nil {
			errs.Add(p, "expected a mapping with name, files and format")
			continue
		}
		if !nameRE.MatchString(j.Name) {
			errs.Add(p+".name", "required: letters, digits, '_', '.', ':' or '-', starting with a letter")
		} else {
			claim(p+".name", j.Name)
		}
		if len(j.Files) == 0 {
			errs.Add(p+".files", "at least one file or glob is required")
		}
		j.validate(&errs, p)
		if j.NativeHistograms && !c.Outputs.Store && len(c.Outputs.RemoteWrite) == 0 {
			errs.Add(p+".native_histograms", "no output takes native histograms: turn on outputs.store or add a remote_write (OpenTSDB has none)")
		}
	}
	if c.Demo.Enabled {
		claim("demo.enabled", "demo")
		if c.Demo.Rate < 1 || c.Demo.Rate > 100000 {
			errs.Add("demo.rate", "must be between 1 and 100000 lines per second")
		}
	}
	for i, s := range c.Status {
		p := "status[" + strconv.Itoa(i) + "]"
		if s == nil {
			errs.Add(p, "expected a mapping with job, kind and url")
			continue
		}
		if !nameRE.MatchString(s.Job) {
			errs.Add(p+".job", "required: the job label of the web server")
		}
		if s.Kind != "nginx" && s.Kind != "apache" {
			errs.Add(p+".kind", "must be nginx (stub_status) or apache (mod_status)")
		}
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.Add(p+".url", "must be an http:// or https:// URL, e.g. http://127.0.0.1/nginx_status")
		}
		if s.Interval == 0 {
			s.Interval = config.Duration(defaultStatusInterval)
		}
		if s.Timeout == 0 {
			s.Timeout = min(config.Duration(defaultStatusTimeout), s.Interval)
		}
		if s.Interval.Std() < time.Second {
			errs.Add(p+".interval", "must be at least 1s")
		}
		if s.Timeout.Std() <= 0 || s.Timeout > s.Interval {
			errs.Add(p+".timeout", "must be more than 0 and at most the interval")
		}
	}
	if c.Host.Interval.Std() < time.Second {
		errs.Add("host.interval", "must be at least 1s")
	}
	names := map[string]bool{}
	for i, r := range c.Outputs.RemoteWrite {
		p := "outputs.remote_write[" + strconv.Itoa(i) + "]"
		if r == nil {
			errs.Add(p, "expected a mapping with name and url")
			continue
		}
		if r.Name == "" {
			r.Name = "rw" + strconv.Itoa(i)
		}
		outputName(&errs, p+".name", "remote_write-"+r.Name, names)
		if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.Add(p+".url", "must be an http:// or https:// URL, e.g. http://prometheus:9090/api/v1/write")
		}
		if r.BearerToken != "" && r.BasicAuth.Username != "" {
			errs.Add(p, "set bearer_token or basic_auth, not both")
		}
		if r.Timeout < 0 {
			errs.Add(p+".timeout", "must not be negative")
		}
	}
	for i, o := range c.Outputs.OpenTSDB {
		p := "outputs.opentsdb[" + strconv.Itoa(i) + "]"
		if o == nil {
			errs.Add(p, "expected a mapping with name and addr")
			continue
		}
		if o.Name == "" {
			o.Name = "tsdb" + strconv.Itoa(i)
		}
		outputName(&errs, p+".name", "opentsdb-"+o.Name, names)
		if _, port, err := splitHostPort(o.Addr); err != nil || port == "" {
			errs.Add(p+".addr", "must be host:port, e.g. opentsdb:4242")
		}
	}
	if c.Queue.MaxSize < 1<<20 {
		errs.Add("queue.max_size", "must be at least 1MiB")
	}
	return errs.Err()
}

func outputName(errs *config.Errors, path, name string, seen map[string]bool) {
	if !nameRE.MatchString(name) {
		errs.Add(path, "letters, digits, '_', '.', ':' or '-'")
	}
	if seen[name] {
		errs.Add(path, "%q is used twice", name)
	}
	seen[name] = true
}

func (j *JobConfig) validate(errs *config.Errors, p string) {
	if j.Format == "" {
		j.Format = "media-nginx"
	}
	f, err := format.Compile(j.Format, format.Options{JSONFields: j.JSONFields})
	if err != nil {
		errs.Add(p+".format", "%v", err)
	}
	j.format = f
	j.rules = nil
	for k, r := range j.PathRules {
		rule, err := logs.ParseRule(r)
		if err != nil {
			errs.Add(p+".path_rules["+strconv.Itoa(k)+"]", "%v", err)
			continue
		}
		j.rules = append(j.rules, rule)
	}
	if j.MaxPaths < 0 || j.MaxPaths > 100000 {
		errs.Add(p+".max_paths", "must be between 1 and 100000 (0: the default 1000)")
	}
	if j.TopClients < 0 || j.TopClients > 100000 {
		errs.Add(p+".top_clients", "must be between 0 and 100000")
	}
	if j.NativeBucketFactor != 0 {
		if _, err := logs.NativeSchema(j.NativeBucketFactor); err != nil {
			errs.Add(p+".native_bucket_factor", "%v", err)
		}
	}
	if j.NativeMaxBuckets != 0 && (j.NativeMaxBuckets < 3 || j.NativeMaxBuckets > 10000) {
		errs.Add(p+".native_max_buckets", "must be between 3 and 10000 (0: the default %d)", logs.DefaultNativeMaxBuckets)
	}
	if j.Buckets != nil {
		if !slices.IsSorted(j.Buckets) || len(j.Buckets) == 0 {
			errs.Add(p+".buckets", "must be increasing upper bounds in seconds, e.g. [0.01, 0.1, 1]")
		} else if _, err := logs.New(logs.Config{Format: f, Buckets: j.Buckets}); err != nil && f != nil {
			errs.Add(p+".buckets", "%v", err)
		}
	}
}

// engineConfig returns the access-log engine's config of the job.
func (j *JobConfig) engineConfig() logs.Config {
	c := logs.DefaultConfig()
	c.Job = j.Name
	c.Format = j.format
	c.Rules = j.rules
	if j.AutoTemplate != nil {
		c.AutoTemplate = *j.AutoTemplate
	}
	if j.MaxPaths > 0 {
		c.MaxPaths = j.MaxPaths
	}
	c.Buckets = j.Buckets
	c.Referers = j.Referers
	c.NativeHistograms = j.NativeHistograms
	c.NativeBucketFactor = j.NativeBucketFactor
	c.NativeMaxBuckets = j.NativeMaxBuckets
	c.TopClients = defaultTopClients
	if j.TopClients > 0 {
		c.TopClients = j.TopClients
	}
	return c
}

func splitHostPort(a string) (string, string, error) {
	u, err := url.Parse("tcp://" + a)
	if err != nil {
		return "", "", err
	}
	if u.Host != a {
		return "", "", fmt.Errorf("not host:port")
	}
	return u.Hostname(), u.Port(), nil
}
