package hostmetrics

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/net"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// The series of a mount, in the order of fsNames.
var fsNames = [...]string{
	"node_filesystem_size_bytes", "node_filesystem_free_bytes", "node_filesystem_avail_bytes",
	"node_filesystem_files", "node_filesystem_files_free", "node_filesystem_readonly",
	"node_filesystem_device_error",
}

// remoteFS are the filesystem types whose statfs may hang (a server gone
// away): Collect asks them in a goroutine and waits at most mountTimeout.
var remoteFS = []string{
	"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "lustre", "gpfs", "afs", "9p", "davfs", "fuse.*",
}

// mountTimeout is how long a remote filesystem's statfs may take, as
// node_exporter's --collector.filesystem.mount-timeout.
const mountTimeout = 5 * time.Second

func (c *Collector) collectFilesystems(ctx context.Context) error {
	parts, err := disk.PartitionsWithContext(ctx, true)
	if err != nil {
		return err
	}
	// The last mount of a mount point hides those before it: walk
	// backwards and take the first of each.
	for _, p := range slices.Backward(parts) {
		if matchAny(c.excludeFS, p.Fstype) || c.excludedMount(p.Mountpoint) {
			continue
		}
		if e, ok := c.fss[p.Mountpoint]; ok && e.gen == c.gen {
			continue
		}
		e := c.deviceEntry(c.fss, p.Mountpoint, [2]string{p.Device, p.Fstype}, func() []metricstore.Labels {
			ls := make([]metricstore.Labels, len(fsNames))
			for i, name := range fsNames {
				ls[i] = c.labels(name, "device", p.Device, "fstype", p.Fstype, "mountpoint", p.Mountpoint)
			}
			return ls
		})
		readonly := 0.0
		if slices.Contains(p.Opts, "ro") {
			readonly = 1
		}
		u, err := c.statfs(ctx, p)
		if err != nil {
			c.add(e.labels[5], readonly)
			c.add(e.labels[6], 1)
			continue
		}
		for i, v := range [...]uint64{u.Total, u.Total - u.Used, u.Free, u.InodesTotal, u.InodesFree} {
			c.add(e.labels[i], float64(v))
		}
		c.add(e.labels[5], readonly)
		c.add(e.labels[6], 0)
	}
	return nil
}

// excludedMount reports whether the mount point p is excluded.
func (c *Collector) excludedMount(p string) bool {
	for _, x := range c.excludeMounts {
		if below, ok := strings.CutSuffix(x, "/"); ok {
			if strings.HasPrefix(p, below+"/") && len(p) > len(below)+1 {
				return true
			}
			continue
		}
		if p == x || strings.HasPrefix(p, x+"/") {
			return true
		}
	}
	return false
}

// statfs returns the usage of the mount p. A remote filesystem is asked in
// a goroutine, and not again while that call is stuck.
func (c *Collector) statfs(ctx context.Context, p disk.PartitionStat) (*disk.UsageStat, error) {
	mp := p.Mountpoint
	if c.rootFS != "/" {
		mp = filepath.Join(c.rootFS, mp)
	}
	if !matchAny(remoteFS, p.Fstype) {
		return disk.UsageWithContext(ctx, mp)
	}
	return c.stuck.usage(ctx, mp)
}

// stuckMounts asks for remote filesystems' usage with a timeout, and
// remembers the calls that are still under way.
type stuckMounts struct {
	mu sync.Mutex // guards m
	m  map[string]bool
}

var errStuck = errors.New("an earlier statfs has not returned")

func (s *stuckMounts) usage(ctx context.Context, mp string) (*disk.UsageStat, error) {
	s.mu.Lock()
	if s.m[mp] {
		s.mu.Unlock()
		return nil, fmt.Errorf("statfs %s: %w", mp, errStuck)
	}
	s.m[mp] = true
	s.mu.Unlock()
	type result struct {
		u   *disk.UsageStat
		err error
	}
	done := make(chan result, 1)
	go func() {
		u, err := disk.UsageWithContext(ctx, mp)
		s.mu.Lock()
		delete(s.m, mp)
		s.mu.Unlock()
		done <- result{u, err}
	}()
	timer := time.NewTimer(mountTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.u, r.err
	case <-timer.C:
		return nil, fmt.Errorf("statfs %s: no answer in %s", mp, mountTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// The series of a disk, in the order of diskNames.
var diskNames = [...]string{
	"node_disk_reads_completed_total", "node_disk_writes_completed_total",
	"node_disk_read_bytes_total", "node_disk_written_bytes_total",
	"node_disk_read_time_seconds_total", "node_disk_write_time_seconds_total",
	"node_disk_io_now", "node_disk_io_time_seconds_total", "node_disk_io_time_weighted_seconds_total",
}

func (c *Collector) collectDisks(ctx context.Context) error {
	stats, err := disk.IOCountersWithContext(ctx)
	if err != nil {
		return err
	}
	for name, d := range stats {
		if matchAny(c.excludeDisks, name) {
			continue
		}
		e := c.deviceEntry(c.disks, name, [2]string{}, func() []metricstore.Labels {
			return c.deviceLabels(diskNames[:], name)
		})
		// /proc/diskstats counts sectors of 512 bytes (gopsutil multiplies)
		// and milliseconds.
		for i, v := range [...]float64{
			float64(d.ReadCount), float64(d.WriteCount),
			float64(d.ReadBytes), float64(d.WriteBytes),
			float64(d.ReadTime) / 1000, float64(d.WriteTime) / 1000,
			float64(d.IopsInProgress), float64(d.IoTime) / 1000, float64(d.WeightedIO) / 1000,
		} {
			c.add(e.labels[i], v)
		}
	}
	return nil
}

// The series of a network device, in the order of netNames.
var netNames = [...]string{
	"node_network_receive_bytes_total", "node_network_transmit_bytes_total",
	"node_network_receive_packets_total", "node_network_transmit_packets_total",
	"node_network_receive_errs_total", "node_network_transmit_errs_total",
	"node_network_receive_drop_total", "node_network_transmit_drop_total",
}

func (c *Collector) collectNetwork(ctx context.Context) error {
	stats, err := net.IOCountersWithContext(ctx, true)
	if err != nil {
		return err
	}
	for _, n := range stats {
		if matchAny(c.excludeNet, n.Name) {
			continue
		}
		e := c.deviceEntry(c.nets, n.Name, [2]string{}, func() []metricstore.Labels {
			return c.deviceLabels(netNames[:], n.Name)
		})
		for i, v := range [...]uint64{n.BytesRecv, n.BytesSent, n.PacketsRecv, n.PacketsSent, n.Errin, n.Errout, n.Dropin, n.Dropout} {
			c.add(e.labels[i], float64(v))
		}
	}
	return nil
}

// deviceLabels returns the labels of each of names with device=dev.
func (c *Collector) deviceLabels(names []string, dev string) []metricstore.Labels {
	ls := make([]metricstore.Labels, len(names))
	for i, name := range names {
		ls[i] = c.labels(name, "device", dev)
	}
	return ls
}
