package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/hostmetrics"
	"github.com/dandan-sre/dandan/internal/logs"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/webstatus"
)

// runOnce is `dandan watch --once`: check every job, status page and the
// host once and print what would be collected.
func runOnce(ctx context.Context, cfg *Config, dataDir string, lines int, out io.Writer) error {
	var problems []string
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		problems = append(problems, msg)
		fmt.Fprintf(out, "  PROBLEM: %s\n", msg)
	}
	now := time.Now()
	for _, jc := range cfg.Jobs {
		fmt.Fprintf(out, "job %s (format %s)\n", jc.Name, jc.Format)
		agg, err := logs.New(jc.engineConfig())
		if err != nil {
			fail("job %s: %v", jc.Name, err)
			continue
		}
		var files []string
		for _, g := range jc.Files {
			m, err := filepath.Glob(g)
			if err != nil {
				fail("job %s: files %q: %v", jc.Name, g, err)
				continue
			}
			if len(m) == 0 {
				fail("job %s: files %q: no file matches (yet); the agent will pick it up when it appears", jc.Name, g)
			}
			files = append(files, m...)
		}
		for _, f := range files {
			data, size, err := lastLines(f, lines)
			if err != nil {
				fail("job %s: %v", jc.Name, err)
				continue
			}
			read, invalid := 0, 0
			var first []string
			for _, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
				if len(l) == 0 {
					continue
				}
				read++
				if !agg.Line(l) {
					invalid++
					if len(first) < 3 {
						first = append(first, agg.Err().Error())
					}
				}
			}
			fmt.Fprintf(out, "  %s: %d bytes; parsed its last %d lines, %d invalid\n", f, size, read, invalid)
			for _, e := range first {
				fmt.Fprintf(out, "    invalid: %s\n", e)
			}
			if read > 0 && invalid == read {
				fail("job %s: %s: no line matches the format %s", jc.Name, f, jc.Format)
			}
		}
		samples := appendFamilies(nil, agg.Families(), now.UnixMilli(), nil)
		printSamples(out, samples, 12)
	}
	if len(cfg.Status) > 0 {
		scr := webstatus.New(&http.Client{})
		for _, s := range cfg.Status {
			fmt.Fprintf(out, "status %s (%s %s)\n", s.Job, s.Kind, s.URL)
			samples, err := scr.Scrape(ctx, webstatus.Target{Job: s.Job, Kind: webstatus.Kind(s.Kind), URL: s.URL, Timeout: s.Timeout.Std()}, now)
			if err != nil {
				fail("status %s: %v", s.Job, err)
			}
			printSamples(out, samples, 12)
		}
	}
	if cfg.Host.Enabled {
		fmt.Fprintln(out, "host")
		samples, err := hostmetrics.New(hostmetrics.Options{}).Collect(ctx, now)
		if err != nil {
			fail("host: %v", err)
		}
		printSamples(out, samples, 8)
	}
	var outs []string
	if cfg.Outputs.Store {
		outs = append(outs, "the embedded store ("+filepath.Join(dataDir, "metrics")+")")
	}
	for _, r := range cfg.Outputs.RemoteWrite {
		outs = append(outs, "remote_write "+r.Name+" "+r.URL)
	}
	for _, o := range cfg.Outputs.OpenTSDB {
		outs = append(outs, "opentsdb "+o.Name+" "+o.Addr)
	}
	fmt.Fprintf(out, "outputs: %s\n", strings.Join(outs, ", "))
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s): %s", len(problems), problems[0])
	}
	fmt.Fprintln(out, "ok")
	return nil
}

// lastLines returns up to n whole lines from the end of file.
func lastLines(path string, n int) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if fi.IsDir() {
		return nil, 0, errors.New(path + " is a directory")
	}
	size := fi.Size()
	want := int64(n) * 512
	off := max(0, size-want)
	buf := make([]byte, size-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, size, fmt.Errorf("read %s: %w", path, err)
	}
	if off > 0 {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i+1]
	} else {
		buf = nil
	}
	for c := bytes.Count(buf, []byte("\n")); c > n; c-- {
		buf = buf[bytes.IndexByte(buf, '\n')+1:]
	}
	return buf, size, nil
}

// printSamples prints the number of series and the first few.
func printSamples(out io.Writer, samples []metricstore.Sample, show int) {
	names := map[string]int{}
	for _, s := range samples {
		names[s.Labels.Get("__name__")]++
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(out, "  would collect %d series in %d metrics\n", len(samples), len(keys))
	for i, s := range samples {
		if i == show {
			fmt.Fprintf(out, "    … %d more\n", len(samples)-show)
			break
		}
		if s.H != nil {
			fmt.Fprintf(out, "    %s native histogram, count %d\n", s.Labels.String(), s.H.Count)
			continue
		}
		fmt.Fprintf(out, "    %s %g\n", s.Labels.String(), s.V)
	}
}
