package hostmetrics

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// collectFileFD reads /proc/sys/fs/file-nr, which gopsutil has no call
// for: the allocated, the free (always 0 since Linux 2.6) and the maximum
// number of file handles.
func (c *Collector) collectFileFD(context.Context) error {
	name := filepath.Join(c.procFS, "sys/fs/file-nr")
	b, err := readFile(&c.buf, name)
	if err != nil {
		return err
	}
	var f [3][]byte
	n := 0
	for field := range fields(b) {
		if n == len(f) {
			n++
			break
		}
		f[n] = field
		n++
	}
	allocated, ok1 := parseUint(f[0])
	maximum, ok2 := parseUint(f[2])
	if n != 3 || !ok1 || !ok2 {
		return fmt.Errorf("%s: want 3 numbers, got %q", name, bytes.TrimSpace(b))
	}
	c.add(c.scalar("node_filefd_allocated"), float64(allocated))
	c.add(c.scalar("node_filefd_maximum"), float64(maximum))
	return nil
}

// procStat returns /proc/stat, read once per collection into a buffer of
// its own.
func (c *Collector) procStat() ([]byte, error) {
	if c.statGen == c.gen {
		return c.stat, c.statErr
	}
	c.stat, c.statErr = readFile(&c.statBuf, filepath.Join(c.procFS, "stat"))
	c.statGen = c.gen
	return c.stat, c.statErr
}

// collectStat reads the lines of /proc/stat besides the CPUs'. gopsutil
// would read the file twice more for them (host.BootTime, load.Misc) and
// list every process (load.Misc counts them).
func (c *Collector) collectStat(context.Context) error {
	name := filepath.Join(c.procFS, "stat")
	b, err := c.procStat()
	if err != nil {
		return err
	}
	found := false
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		key, rest, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		var metric string
		switch string(key) {
		case "btime":
			metric, found = "node_boot_time_seconds", true
		case "ctxt":
			metric = "node_context_switches_total"
		case "processes":
			metric = "node_forks_total"
		case "procs_running":
			metric = "node_procs_running"
		case "procs_blocked":
			metric = "node_procs_blocked"
		default:
			continue
		}
		v, ok := parseUint(bytes.TrimSpace(rest))
		if !ok {
			return fmt.Errorf("%s: bad %s %q", name, key, rest)
		}
		c.add(c.scalar(metric), float64(v))
	}
	if !found {
		return fmt.Errorf("%s: no btime", name)
	}
	return nil
}

// fields yields the fields of b that spaces and tabs separate, without
// allocating as bytes.Fields does.
func fields(b []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			i := bytes.IndexFunc(b, func(r rune) bool { return r != ' ' && r != '\t' && r != '\n' })
			if i < 0 {
				return
			}
			b = b[i:]
			j := bytes.IndexAny(b, " \t\n")
			if j < 0 {
				j = len(b)
			}
			if !yield(b[:j]) {
				return
			}
			b = b[j:]
		}
	}
}

// parseUint parses a decimal number without allocating.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + uint64(d-'0')
	}
	return n, true
}

// collectTime reports the time of the collection, as node_exporter's time
// collector reports the time of the scrape.
func (c *Collector) collectTime(context.Context) error {
	c.add(c.scalar("node_time_seconds"), float64(c.t)/float64(time.Second/time.Millisecond))
	return nil
}
