package hostmetrics

import (
	"bytes"
	"context"
	"fmt"

	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// cpuModes are the modes of node_cpu_seconds_total, in node_exporter's
// order, which is that of /proc/stat's columns. The guest columns that
// follow are not modes: the kernel counts guest time in user and nice.
var cpuModes = [...]string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

// userHZ is the unit of /proc/stat's CPU times: 1/100 s on every
// architecture Linux runs on (node_exporter's procfs assumes it too).
const userHZ = 100

// cpuJumpBack is how many seconds a CPU's idle time must go back for its
// counters to count as reset (the CPU went offline and came back), as
// node_exporter.
const cpuJumpBack = 3.0

// collectCPU reads the per-CPU lines of /proc/stat. It parses them itself
// rather than with gopsutil's cpu.Times: the stat collector reads the same
// file, and cpu.Times would read it again (and its package needs
// sysconf(3) bindings for a constant that is 100 on Linux).
func (c *Collector) collectCPU(context.Context) error {
	b, err := c.procStat()
	if err != nil {
		return err
	}
	n := 0
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		name, rest, _ := bytes.Cut(line, []byte{' '})
		num, ok := bytes.CutPrefix(name, []byte("cpu"))
		if !ok {
			break // the CPU lines come first
		}
		if len(num) == 0 {
			continue // the total of all CPUs
		}
		var vals [len(cpuModes)]float64
		i := 0
		for f := range fields(rest) {
			if i == len(vals) {
				break
			}
			v, ok := parseUint(f)
			if !ok {
				return fmt.Errorf("%s/stat: bad %s time %q", c.procFS, name, f)
			}
			vals[i] = float64(v) / userHZ
			i++
		}
		if i < 4 { // user nice system idle, since Linux 2.4
			return fmt.Errorf("%s/stat: %d CPU times for %s", c.procFS, i, name)
		}
		e, ok := c.cpus[string(name)] // no allocation, unlike a call with string(name)
		if ok {
			e.gen = c.gen
		} else {
			e = c.deviceEntry(c.cpus, string(name), [2]string{}, func() []metricstore.Labels {
				ls := make([]metricstore.Labels, len(cpuModes))
				for i, mode := range cpuModes {
					ls[i] = c.labels("node_cpu_seconds_total", "cpu", string(num), "mode", mode)
				}
				return ls
			})
		}
		// Some kernels let a counter (iowait above all) step back a little;
		// a counter must not, so keep the last value, as node_exporter does.
		if e.last == nil || e.last[3]-vals[3] >= cpuJumpBack {
			e.last = make([]float64, len(cpuModes))
		}
		for i, v := range vals {
			e.last[i] = max(e.last[i], v)
			c.add(e.labels[i], e.last[i])
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s/stat: no CPU lines", c.procFS)
	}
	return nil
}

func (c *Collector) collectLoad(ctx context.Context) error {
	avg, err := load.AvgWithContext(ctx)
	if err != nil {
		return err
	}
	c.add(c.scalar("node_load1"), avg.Load1)
	c.add(c.scalar("node_load5"), avg.Load5)
	c.add(c.scalar("node_load15"), avg.Load15)
	return nil
}

func (c *Collector) collectMemory(ctx context.Context) error {
	m, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    uint64
	}{
		{"node_memory_MemTotal_bytes", m.Total},
		{"node_memory_MemFree_bytes", m.Free},
		{"node_memory_MemAvailable_bytes", m.Available},
		{"node_memory_Buffers_bytes", m.Buffers},
		// gopsutil adds the reclaimable slab to Cached, as free(1) does;
		// node_exporter reports /proc/meminfo's Cached as it is.
		{"node_memory_Cached_bytes", m.Cached - min(m.Sreclaimable, m.Cached)},
		{"node_memory_SwapTotal_bytes", m.SwapTotal},
		{"node_memory_SwapFree_bytes", m.SwapFree},
	} {
		c.add(c.scalar(f.name), float64(f.v))
	}
	return nil
}
