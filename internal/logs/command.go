package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/dandan-sre/dandan/internal/logs/format"
)

// maxLine is the longest line `logs parse` reads; longer ones are invalid.
const maxLine = 1 << 20

// invalidSamples is how many invalid lines the summary shows.
const invalidSamples = 5

// parseOptions are the flags of `dandan logs parse`.
type parseOptions struct {
	format     formatFlag
	jsonFields jsonFieldsFlag
	job        string
	output     outputFlag
	strict     bool
	rules      rulesFlag
	rulesFile  string
	noAuto     bool
	maxPaths   int
	buckets    bucketsFlag
	native     bool
	nativeF    float64
	nativeMax  int
	referers   bool
	maxRefs    int
	topIPs     int
	progress   string
}

// formatFlag is --format: a preset or a format string, compiled when set
// so that a bad one is a usage error.
type formatFlag struct{ spec string }

func (f *formatFlag) String() string { return f.spec }
func (f *formatFlag) Type() string   { return "format" }
func (f *formatFlag) Set(s string) error {
	if _, err := format.Compile(s, format.Options{}); err != nil {
		return err
	}
	f.spec = s
	return nil
}

// jsonFieldsFlag is --json-field VAR=KEY, repeated.
type jsonFieldsFlag struct{ m map[string]string }

func (f *jsonFieldsFlag) String() string { return "" }
func (f *jsonFieldsFlag) Type() string   { return "VAR=KEY" }
func (f *jsonFieldsFlag) Set(s string) error {
	for _, kv := range strings.Split(s, ",") {
		v, k, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q: want VAR=KEY", kv)
		}
		if f.m == nil {
			f.m = map[string]string{}
		}
		f.m[strings.TrimSpace(v)] = strings.TrimSpace(k)
	}
	_, err := format.Compile("json", format.Options{JSONFields: f.m})
	return err
}

// outputFlag is --output.
type outputFlag struct{ kind string }

func (f *outputFlag) String() string { return f.kind }
func (f *outputFlag) Type() string   { return "kind" }
func (f *outputFlag) Set(s string) error {
	if !slices.Contains(Outputs(), s) {
		return fmt.Errorf("unknown output %q (use %s)", s, strings.Join(Outputs(), ", "))
	}
	f.kind = s
	return nil
}

// rulesFlag is --path-rule PATTERN=TEMPLATE, repeated.
type rulesFlag struct{ rules []Rule }

func (f *rulesFlag) String() string { return "" }
func (f *rulesFlag) Type() string   { return "PATTERN=TEMPLATE" }
func (f *rulesFlag) Set(s string) error {
	r, err := ParseRule(s)
	if err != nil {
		return err
	}
	f.rules = append(f.rules, r)
	return nil
}

// bucketsFlag is --buckets: comma-separated upper bounds in seconds.
type bucketsFlag struct{ b []float64 }

func (f *bucketsFlag) String() string {
	var s []string
	for _, b := range f.b {
		s = append(s, formatBound(b))
	}
	return strings.Join(s, ",")
}
func (f *bucketsFlag) Type() string { return "seconds,…" }
func (f *bucketsFlag) Set(s string) error {
	var bs []float64
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return fmt.Errorf("bucket %q: not a number", p)
		}
		bs = append(bs, v)
	}
	if err := checkBuckets(bs); err != nil {
		return err
	}
	f.b = bs
	return nil
}

// Command returns `dandan logs` with its subcommand `parse`.
func Command() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Turn access logs into request metrics",
		Long: `Logs turns web-server access logs into request metrics: requests, durations
and bytes by templated path, method and status, with the formats nginx and
Apache write. The watchdog agent runs the same engine on tailed files.`,
		Example: `  dandan logs parse /var/log/nginx/access.log
  dandan logs parse --format media-apache --output prom access.log.1.gz`,
	}
	cmd.AddCommand(parseCommand())
	return cmd
}

func presetHelp() string {
	var b strings.Builder
	for _, p := range Presets() {
		fmt.Fprintf(&b, "  %-13s %s\n", p.Name, p.Description)
		if p.Format != "" {
			fmt.Fprintf(&b, "  %-13s %s\n", "", p.Format)
		}
	}
	return b.String()
}

// Presets returns the named formats of --format.
func Presets() []format.Preset { return format.Presets() }

// defaultParseOptions returns the flag defaults of `logs parse`.
func defaultParseOptions() *parseOptions {
	o := &parseOptions{format: formatFlag{"media-nginx"}, job: "access", output: outputFlag{OutputOpenTSDB},
		maxPaths: 1000, maxRefs: 100, topIPs: 10, progress: "auto"}
	o.buckets.b = DefaultBuckets()
	return o
}

func parseCommand() *cobra.Command {
	o := defaultParseOptions()
	cmd := &cobra.Command{
		Use:   "parse [flags] [FILE...]",
		Short: "Print per-second metrics from access-log files, and a summary",
		Long: `Parse reads access-log files in order (gzip too; - or no FILE reads stdin)
and prints, for each second of log time, the metrics that changed: the
seed's OpenTSDB lines (default), Prometheus text with timestamps, or JSON
lines. A summary ends on stderr: top clients, lines read, invalid lines
with the first few reasons, distinct paths before and after templating,
and lines per second. Invalid lines are counted and skipped; --strict makes
the first one an error. Exit codes: 0 ok, 1 failure, 2 bad usage.

--format takes a preset, a pasted nginx log_format or Apache LogFormat
string (the whole directive may be pasted too), or nginx:<fmt> /
apache:<fmt> to say which. Presets:
` + presetHelp() + `
Paths lose their query string, then the first --path-rule that matches
(a glob, or a regular expression after ~) gives the template; otherwise
ID-like segments collapse: numbers {id}, UUIDs {uuid}, dates {date}, hex
{hex}, tokens {token}, slugs ending in a number {slug}, hashed file names
app.{hash}.js. Past --max-paths templates, paths count as "other".

Outputs (cumulative counters for prom and json, per-second deltas for
opentsdb):
  opentsdb  nginx.log.status 1633873130 4 req_path=/home http_status=200
            nginx.log.elapsed.time 1633873130 0.005 req_path=/home
            (also nginx.log.bytes, .referer, .invalid, .capped)
  prom      http_requests_total{job="access",method="GET",path="/home",status="200"} 42 1633873130000
  json      {"ts":1633873130,"metric":"http_requests_total","labels":{…},"value":42}

--native-histograms also keeps each duration series as a Prometheus native
histogram (schema 3, as client_golang's NativeHistogramBucketFactor 1.1;
buckets double in width past 160; --native-bucket-factor and
--native-max-buckets change both), written in JSON as
"native":{"schema":3,…,"buckets":[[index,count],…]}; bucket i holds the
durations in (2^((i-1)/2^schema), 2^(i/2^schema)] s. It needs --output
json: the prom text and OpenTSDB formats have no native histograms.`,
		Example: `  # the seed's loganalyzer: OpenTSDB lines from the media format
  dandan logs parse /var/log/nginx/access.log

  # Apache with %D, Prometheus text, templated article paths
  dandan logs parse --format media-apache --output prom --path-rule '/article/*=/article/{id}' access_log

  # a pasted nginx format, gzipped rotations, JSON lines
  dandan logs parse --format '$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time' --output json access.log.*.gz

  # JSON logs whose keys are not nginx's
  dandan logs parse --format json --json-field status=code,request_time=latency,time_iso8601=ts app.log

  # stdin, fail on the first bad line
  zcat access.log.gz | dandan logs parse --strict -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"-"}
			}
			if err := o.check(); err != nil {
				return cmd.FlagErrorFunc()(cmd, err) // a usage error: exit 2
			}
			_, err := runParse(cmd.Context(), o, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			return err
		},
	}
	fl := cmd.Flags()
	fl.Var(&o.format, "format", "log format: a preset, a pasted nginx or Apache format, or nginx:/apache:<fmt>")
	fl.Var(&o.jsonFields, "json-field", "for --format json: the JSON key of an nginx variable, VAR=KEY (repeatable, comma-separated)")
	fl.StringVar(&o.job, "job", o.job, "job label of the metrics")
	fl.Var(&o.output, "output", "output: opentsdb, prom or json")
	fl.BoolVar(&o.strict, "strict", false, "stop at the first invalid line with an error")
	fl.Var(&o.rules, "path-rule", "map paths to a template, PATTERN=TEMPLATE, first match wins (repeatable); ~PATTERN is a regexp")
	fl.StringVar(&o.rulesFile, "path-rules", "", "file of PATTERN=TEMPLATE rules, one a line, # comments; applied after --path-rule")
	fl.BoolVar(&o.noAuto, "no-auto-template", false, "keep ID-like path segments instead of collapsing them")
	fl.IntVar(&o.maxPaths, "max-paths", o.maxPaths, "cap on distinct path templates; the rest count as path=\"other\"")
	fl.Var(&o.buckets, "buckets", "duration histogram bounds in seconds")
	fl.BoolVar(&o.native, "native-histograms", false, "also write each duration histogram as a native histogram (needs --output json)")
	fl.Float64Var(&o.nativeF, "native-bucket-factor", DefaultNativeBucketFactor, "with --native-histograms: each bucket at most this factor wider than the last (1.1: schema 3)")
	fl.IntVar(&o.nativeMax, "native-max-buckets", DefaultNativeMaxBuckets, "with --native-histograms: past this many populated buckets, buckets double in width")
	fl.BoolVar(&o.referers, "referers", false, "count http_requests_by_referer_total by path and referer host")
	fl.IntVar(&o.maxRefs, "max-referers", o.maxRefs, "cap on distinct referer hosts; the rest count as \"other\"")
	fl.IntVar(&o.topIPs, "top-ips", o.topIPs, "client addresses to list in the summary (0: none)")
	fl.StringVar(&o.progress, "progress", o.progress, "progress bar on stderr: auto (on a terminal), always or never")
	return cmd
}

// check checks the flags that depend on each other.
func (o *parseOptions) check() error {
	if o.native && o.output.kind != OutputJSON {
		return fmt.Errorf("--native-histograms needs --output json: the %s output has no native histograms", o.output.kind)
	}
	if !o.native {
		return nil
	}
	if _, err := NativeSchema(o.nativeF); o.nativeF != 0 && err != nil {
		return fmt.Errorf("--native-bucket-factor: %v", err)
	}
	if o.nativeMax != 0 && o.nativeMax < 3 {
		return fmt.Errorf("--native-max-buckets %d: must be at least 3", o.nativeMax)
	}
	return nil
}

// runParse is `dandan logs parse`; it returns the aggregator for tests.
func runParse(ctx context.Context, o *parseOptions, files []string, stdin io.Reader, stdout, stderr io.Writer) (*Aggregator, error) {
	started := time.Now()
	fmtc, err := format.Compile(o.format.spec, format.Options{JSONFields: o.jsonFields.m})
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.maxPaths <= 0 || o.maxRefs <= 0 || o.topIPs < 0 {
		return nil, errors.New("--max-paths and --max-referers must be positive, --top-ips at least 0")
	}
	rules := slices.Clone(o.rules.rules)
	if o.rulesFile != "" {
		f, err := os.Open(o.rulesFile)
		if err != nil {
			return nil, err
		}
		more, err := ReadRules(f, o.rulesFile)
		f.Close()
		if err != nil {
			return nil, err
		}
		rules = append(rules, more...)
	}
	out := bufio.NewWriterSize(stdout, 256<<10)
	w, err := newWriter(o.output.kind, out, time.Now)
	if err != nil {
		return nil, err
	}
	cfg := DefaultConfig()
	cfg.Job, cfg.Format, cfg.Rules, cfg.AutoTemplate = o.job, fmtc, rules, !o.noAuto
	cfg.MaxPaths, cfg.Buckets, cfg.Referers, cfg.MaxReferers = o.maxPaths, o.buckets.b, o.referers, o.maxRefs
	cfg.NativeHistograms, cfg.NativeBucketFactor, cfg.NativeMaxBuckets = o.native, o.nativeF, o.nativeMax
	cfg.TopClients = max(1000, 10*o.topIPs)
	if o.topIPs == 0 {
		cfg.TopClients = 0
	}
	var read atomic.Int64 // input bytes read, for the progress bar
	pl := newPipeline(files, stdin, &read, fmtc, o.output.kind, out, stdout, o.strict, cfg.Rules, cfg.AutoTemplate)
	cfg.Emit = pl.emit
	agg, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := w.header(cfg.Referers); err != nil {
		return nil, err
	}

	var total int64
	for _, f := range files {
		if fi, err := os.Stat(f); f != "-" && err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
	}
	if err := pl.start(); err != nil {
		return nil, err
	}
	stop := startProgress(o.progress, stderr, &read, total, agg)
	samples, runErr := pl.run(ctx, agg)
	if err := agg.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	if err := pl.finish(runErr == nil && !pl.failed.Load()); err != nil && runErr == nil {
		runErr = fmt.Errorf("write output: %w", err)
	}
	if err := out.Flush(); err != nil && runErr == nil {
		runErr = fmt.Errorf("write output: %w", err)
	}
	stop()
	summary(stderr, agg, samples, o.topIPs, o.maxPaths, time.Since(started))
	return agg, runErr
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// startProgress shows a progress bar on stderr when it is a terminal (or
// mode is "always") and returns the function that stops and clears it.
func startProgress(mode string, stderr io.Writer, read *atomic.Int64, total int64, agg *Aggregator) func() {
	f, isFile := stderr.(*os.File)
	on := mode == "always" || mode == "auto" && isFile && term.IsTerminal(int(f.Fd()))
	if !on {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				fmt.Fprint(stderr, "\r\033[K")
				return
			case <-t.C:
				n := read.Load()
				mib := float64(n) / (1 << 20)
				rate := mib / time.Since(start).Seconds()
				if total > 0 {
					pct := min(100, float64(n)*100/float64(total))
					bar := strings.Repeat("#", int(pct/5)) + strings.Repeat(".", 20-int(pct/5))
					fmt.Fprintf(stderr, "\r[%s] %3.0f%% %.0f/%.0f MiB %.0f MiB/s", bar, pct, mib, float64(total)/(1<<20), rate)
				} else {
					fmt.Fprintf(stderr, "\r%.0f MiB %.0f MiB/s", mib, rate)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// summary prints the end-of-run summary; its last lines start with fixed
// words scripts grep: "lines read:", "lines invalid:", "paths:", "rate:".
func summary(w io.Writer, agg *Aggregator, samples []string, topN, maxPaths int, took time.Duration) {
	st := agg.Stats()
	if top := agg.TopClients(topN); len(top) > 0 {
		fmt.Fprintf(w, "top %d client IPs (requests, Space-Saving estimate):\n", len(top))
		for _, c := range top {
			if c.Error > 0 {
				fmt.Fprintf(w, "  %-40s %d (±%d)\n", c.Addr, c.Count, c.Error)
			} else {
				fmt.Fprintf(w, "  %-40s %d\n", c.Addr, c.Count)
			}
		}
	}
	if !st.First.IsZero() {
		fmt.Fprintf(w, "log time: %s to %s\n", st.First.Format(time.RFC3339), st.Last.Format(time.RFC3339))
	}
	if st.Capped > 0 {
		fmt.Fprintf(w, "paths capped: %d lines counted as path=\"other\" past --max-paths %d\n", st.Capped, maxPaths)
	}
	fmt.Fprintf(w, "lines read: %d\n", st.Lines)
	fmt.Fprintf(w, "lines invalid: %d\n", st.Invalid)
	for _, s := range samples {
		fmt.Fprintf(w, "  %s\n", s)
	}
	if int(st.Invalid) > len(samples) && len(samples) > 0 {
		fmt.Fprintf(w, "  … %d more\n", int(st.Invalid)-len(samples))
	}
	// Above 4096 the distinct count is a HyperLogLog estimate (±1%).
	fmt.Fprintf(w, "paths: %d distinct raw, %d after templating\n", st.DistinctPaths, st.Templates)
	rate := float64(st.Lines) / max(took.Seconds(), 1e-9)
	fmt.Fprintf(w, "rate: %.0f lines/s\n", rate)
}
