package hostmetrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/common"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// Options configure a Collector. The zero value is usable: every zero field
// takes the default named on it. In the Exclude lists, nil means the
// default and an empty, non-nil list excludes nothing.
type Options struct {
	// Job is the job label of every series; "" means "node".
	Job string
	// Instance is the instance label of every series; "" means the host
	// name (or "localhost" when it cannot be read).
	Instance string
	// ExcludeFS lists filesystem types whose mounts are not reported, as
	// path.Match patterns ("fuse.*"); nil means DefaultExcludeFS().
	ExcludeFS []string
	// ExcludeMounts lists mount points that are not reported, with all
	// below them; an entry ending in "/" excludes only what is below it.
	// nil means DefaultExcludeMounts().
	ExcludeMounts []string
	// ExcludeDisks lists block devices whose I/O is not reported, as
	// path.Match patterns; nil means DefaultExcludeDisks().
	ExcludeDisks []string
	// ExcludeNet lists network devices that are not reported, as
	// path.Match patterns; nil means DefaultExcludeNet().
	ExcludeNet []string
	// ProcFS, SysFS and RootFS are where the host's /proc, /sys and / are
	// mounted, for dandan in a container (node_exporter's --path.procfs,
	// --path.sysfs and --path.rootfs). "" means gopsutil's HOST_PROC,
	// HOST_SYS and HOST_ROOT environment variables, or else /proc, /sys
	// and /.
	ProcFS, SysFS, RootFS string
}

// DefaultExcludeFS returns node_exporter's default excluded filesystem
// types: virtual filesystems, and overlay and squashfs (container and
// snap layers, whose space is their backing filesystem's).
func DefaultExcludeFS() []string {
	return []string{
		"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs",
		"fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay", "proc", "procfs", "pstore",
		"rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "erofs", "sysfs", "tracefs",
	}
}

// DefaultExcludeMounts returns node_exporter's default excluded mount
// points.
func DefaultExcludeMounts() []string {
	return []string{"/dev", "/proc", "/sys", "/run/credentials/", "/var/lib/docker/", "/var/lib/containers/storage/"}
}

// DefaultExcludeDisks returns node_exporter's default excluded block
// devices: partitions (their disk counts their I/O), RAM, loop and floppy
// devices.
func DefaultExcludeDisks() []string {
	return []string{
		"ram*", "zram*", "loop*", "fd[0-9]*",
		"hd[a-z]*[0-9]", "sd[a-z]*[0-9]", "vd[a-z]*[0-9]", "xvd[a-z]*[0-9]", "nvme*n*p[0-9]*",
	}
}

// DefaultExcludeNet returns the default excluded network devices: the
// loopback, and the host ends of container links, whose traffic the
// physical devices count again. (node_exporter excludes none.)
func DefaultExcludeNet() []string { return []string{"lo", "veth*", "cali*", "lxc*"} }

// Collector reads the host's metrics. Its methods are safe for concurrent
// use; collections run one at a time.
type Collector struct {
	job, instance string
	excludeFS     []string
	excludeMounts []string
	excludeDisks  []string
	excludeNet    []string
	procFS        string
	sysFS         string
	rootFS        string
	env           common.EnvMap // for gopsutil's calls; nil when all are default

	stuck stuckMounts // statfs calls of network filesystems still under way

	mu      sync.Mutex // guards the fields below
	out     []metricstore.Sample
	t       int64
	gen     uint64 // counts collections; a cache entry not seen in this one is dropped
	buf     []byte // file reads
	statBuf []byte // /proc/stat, which two collectors read
	stat    []byte // /proc/stat in this collection, when statGen == gen
	statErr error
	statGen uint64
	scalars map[scalarKey]metricstore.Labels
	cpus    map[string]*entry
	fss     map[string]*entry
	disks   map[string]*entry
	nets    map[string]*entry
	lastLen int
	uname   unameInfo
	osInfo  *osInfo
}

// New returns a Collector. It reads nothing yet.
func New(opts Options) *Collector {
	c := &Collector{
		job:           opts.Job,
		instance:      opts.Instance,
		excludeFS:     orDefault(opts.ExcludeFS, DefaultExcludeFS),
		excludeMounts: orDefault(opts.ExcludeMounts, DefaultExcludeMounts),
		excludeDisks:  orDefault(opts.ExcludeDisks, DefaultExcludeDisks),
		excludeNet:    orDefault(opts.ExcludeNet, DefaultExcludeNet),
		procFS:        hostPath(opts.ProcFS, "HOST_PROC", "/proc"),
		sysFS:         hostPath(opts.SysFS, "HOST_SYS", "/sys"),
		rootFS:        hostPath(opts.RootFS, "HOST_ROOT", "/"),
		stuck:         stuckMounts{m: map[string]bool{}},
		buf:           make([]byte, 0, 512),
		statBuf:       make([]byte, 0, 4096),
		scalars:       map[scalarKey]metricstore.Labels{},
		cpus:          map[string]*entry{},
		fss:           map[string]*entry{},
		disks:         map[string]*entry{},
		nets:          map[string]*entry{},
	}
	if c.job == "" {
		c.job = "node"
	}
	if c.instance == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		c.instance = h
	}
	if opts.ProcFS != "" || opts.SysFS != "" || opts.RootFS != "" {
		c.env = common.EnvMap{common.HostProcEnvKey: c.procFS, common.HostSysEnvKey: c.sysFS}
		if c.rootFS != "/" {
			for k, dir := range map[common.EnvKeyType]string{
				common.HostRootEnvKey: "", common.HostEtcEnvKey: "etc", common.HostVarEnvKey: "var",
				common.HostRunEnvKey: "run", common.HostDevEnvKey: "dev",
			} {
				c.env[k] = filepath.Join(c.rootFS, dir)
			}
		}
	}
	return c
}

func orDefault(s []string, def func() []string) []string {
	if s == nil {
		return def()
	}
	return slices.Clone(s)
}

// hostPath is opt, or else the environment variable env (as gopsutil
// reads it), or else def.
func hostPath(opt, env, def string) string {
	if opt != "" {
		return opt
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// collector is one group of metrics, named as node_exporter's collector of
// them in node_scrape_collector_success.
type collector struct {
	name    string
	collect func(c *Collector, ctx context.Context) error
}

// collectors in the order Collect runs them.
func collectors() []collector {
	return []collector{
		{"cpu", (*Collector).collectCPU},
		{"loadavg", (*Collector).collectLoad},
		{"meminfo", (*Collector).collectMemory},
		{"filesystem", (*Collector).collectFilesystems},
		{"diskstats", (*Collector).collectDisks},
		{"netdev", (*Collector).collectNetwork},
		{"filefd", (*Collector).collectFileFD},
		{"stat", (*Collector).collectStat},
		{"time", (*Collector).collectTime},
		{"uname", (*Collector).collectUname},
		{"os", (*Collector).collectOS},
	}
}

// Collect reads every metric once and returns its samples, all at now.
// When some collectors fail it returns the samples of the others and the
// failures joined; node_scrape_collector_success{collector} tells which.
// It stops early, with ctx's error, when ctx is done.
func (c *Collector) Collect(ctx context.Context, now time.Time) ([]metricstore.Sample, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.env != nil {
		ctx = context.WithValue(ctx, common.EnvKey, c.env)
	}
	c.out = make([]metricstore.Sample, 0, max(c.lastLen, 256))
	c.t = now.UnixMilli()
	c.gen++
	var errs []error
	for _, col := range collectors() {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		start := time.Now()
		err := col.collect(c, ctx)
		took := time.Since(start)
		if err != nil {
			errs = append(errs, fmt.Errorf("collect %s: %w", col.name, err))
		}
		success := 1.0
		if err != nil {
			success = 0
		}
		c.add(c.scalar("node_scrape_collector_success", "collector", col.name), success)
		c.add(c.scalar("node_scrape_collector_duration_seconds", "collector", col.name), took.Seconds())
	}
	for _, m := range []map[string]*entry{c.cpus, c.fss, c.disks, c.nets} {
		for k, e := range m {
			if e.gen != c.gen {
				delete(m, k)
			}
		}
	}
	out := c.out
	c.out = nil
	c.lastLen = len(out)
	return out, errors.Join(errs...)
}

// add appends the sample ls = v at the collection's time.
func (c *Collector) add(ls metricstore.Labels, v float64) {
	c.out = append(c.out, metricstore.Sample{Labels: ls, T: c.t, V: v})
}

// labels returns the labels of the series name{job, instance, nameValues...}.
func (c *Collector) labels(name string, nameValues ...string) metricstore.Labels {
	kv := make([]string, 0, 6+len(nameValues))
	kv = append(kv, "__name__", name, "job", c.job, "instance", c.instance)
	return metricstore.FromStrings(append(kv, nameValues...)...)
}

// scalarKey names a series of scalars: its name and its one label's value.
type scalarKey struct{ name, value string }

// scalar returns the labels of a series with at most one label of its own,
// built once: name{job, instance} or name{job, instance, label=value}.
func (c *Collector) scalar(name string, labelValue ...string) metricstore.Labels {
	var key scalarKey
	key.name = name
	if len(labelValue) == 2 {
		key.value = labelValue[1]
	}
	ls, ok := c.scalars[key]
	if !ok {
		ls = c.labels(name, labelValue...)
		c.scalars[key] = ls
	}
	return ls
}

// entry holds the label sets of one device's (CPU's, mount's) series, so
// that collections build labels only for devices they have not seen.
type entry struct {
	labels []metricstore.Labels
	id     [2]string // what the labels were built from, besides the key
	last   []float64 // the values reported last, where they must not go back
	gen    uint64
}

// deviceEntry returns the entry of the device key in m, its labels built
// by build when key is new or its id changed.
func (c *Collector) deviceEntry(m map[string]*entry, key string, id [2]string, build func() []metricstore.Labels) *entry {
	e, ok := m[key]
	if !ok || e.id != id {
		e = &entry{labels: build(), id: [2]string{strings.Clone(id[0]), strings.Clone(id[1])}}
		m[strings.Clone(key)] = e
	}
	e.gen = c.gen
	return e
}

// matchAny reports whether name matches one of the path.Match patterns.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// readFile reads the file at name into *buf, growing it as needed; the
// result aliases *buf until the next read.
func readFile(buf *[]byte, name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			*buf = b
			return b, nil
		}
		if err != nil {
			*buf = b
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
}
