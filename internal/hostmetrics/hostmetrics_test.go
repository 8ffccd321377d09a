package hostmetrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/testkit"
)

func TestMain(m *testing.M) {
	// Remote filesystems are asked in goroutines: none may outlive a test.
	goleak.VerifyTestMain(m)
}

// series indexes samples by their labels' string form.
func series(t *testing.T, samples []metricstore.Sample) map[string]metricstore.Sample {
	t.Helper()
	m := make(map[string]metricstore.Sample, len(samples))
	for _, s := range samples {
		k := s.Labels.String()
		if _, dup := m[k]; dup {
			t.Errorf("series %s twice", k)
		}
		m[k] = s
	}
	return m
}

// value returns the value of the one series of name with the given labels
// (besides job and instance), failing the test when there is none.
func value(t *testing.T, samples []metricstore.Sample, name string, nameValues ...string) float64 {
	t.Helper()
	want := append([]string{"__name__", name}, nameValues...)
next:
	for _, s := range samples {
		for i := 0; i < len(want); i += 2 {
			if s.Labels.Get(want[i]) != want[i+1] {
				continue next
			}
		}
		return s.V
	}
	t.Fatalf("no series %q", want)
	return 0
}

// byName groups samples by metric name.
func byName(samples []metricstore.Sample) map[string][]metricstore.Sample {
	m := map[string][]metricstore.Sample{}
	for _, s := range samples {
		n := s.Labels.Get("__name__")
		m[n] = append(m[n], s)
	}
	return m
}

// procField returns field i (from 0) of the line of the /proc file that
// starts with prefix.
func procField(t *testing.T, file, prefix string, i int) float64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimLeft(line, " "); strings.HasPrefix(line, prefix) {
			f := strings.Fields(strings.TrimPrefix(line, prefix))
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("%s: no line %q", file, prefix)
	return 0
}

// diskSectorsRead returns the sectors read from dev, from /proc/diskstats.
func diskSectorsRead(t *testing.T, dev string) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/diskstats")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 5 && f[2] == dev {
			v, err := strconv.ParseFloat(f[5], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("/proc/diskstats: no %s", dev)
	return 0
}

// TestCollect reads this machine: every family is there with sane values,
// and values agree with /proc read directly.
func TestCollect(t *testing.T) {
	host, _ := os.Hostname()
	c := New(Options{})
	now := time.Now()
	samples, err := c.Collect(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	series(t, samples)
	for _, s := range samples {
		if s.T != now.UnixMilli() {
			t.Fatalf("%s at %d, want %d", s.Labels, s.T, now.UnixMilli())
		}
		if s.Labels.Get("job") != "node" || s.Labels.Get("instance") != host {
			t.Fatalf("%s: want job=node and instance=%s", s.Labels, host)
		}
	}
	fams := byName(samples)
	for _, d := range Docs() {
		if d.Name == "node_os_info" {
			if _, err := os.Stat("/etc/os-release"); err != nil {
				continue
			}
		}
		if len(fams[d.Name]) == 0 {
			t.Errorf("no %s", d.Name)
		}
	}
	for _, s := range fams["node_scrape_collector_success"] {
		if s.V != 1 {
			t.Errorf("%s = %v", s.Labels, s.V)
		}
	}

	total := value(t, samples, "node_memory_MemTotal_bytes")
	if want := procField(t, "/proc/meminfo", "MemTotal:", 0) * 1024; total != want {
		t.Errorf("MemTotal %v, /proc/meminfo %v", total, want)
	}
	for _, name := range []string{"MemFree", "MemAvailable", "Buffers", "Cached"} {
		if v := value(t, samples, "node_memory_"+name+"_bytes"); v <= 0 || v > total {
			t.Errorf("%s %v, MemTotal %v", name, v, total)
		}
	}
	if free, total := value(t, samples, "node_memory_SwapFree_bytes"), value(t, samples, "node_memory_SwapTotal_bytes"); free > total {
		t.Errorf("SwapFree %v > SwapTotal %v", free, total)
	}

	if got, want := value(t, samples, "node_boot_time_seconds"), procField(t, "/proc/stat", "btime ", 0); got != want {
		t.Errorf("boot time %v, /proc/stat btime %v", got, want)
	}
	if got := value(t, samples, "node_time_seconds"); got != float64(now.UnixMilli())/1000 {
		t.Errorf("node_time_seconds %v, want %v", got, now)
	}
	if got, want := value(t, samples, "node_filefd_maximum"), procField(t, "/proc/sys/fs/file-nr", "", 2); got != want {
		t.Errorf("filefd maximum %v, file-nr %v", got, want)
	}
	if got, want := value(t, samples, "node_filefd_allocated"), procField(t, "/proc/sys/fs/file-nr", "", 0); got <= 0 || got < want/2 || got > want*2 {
		t.Errorf("filefd allocated %v, file-nr now %v", got, want)
	}

	var cpus int
	b, _ := os.ReadFile("/proc/stat")
	for line := range strings.Lines(string(b)) {
		if len(line) > 3 && line[:3] == "cpu" && line[3] >= '0' && line[3] <= '9' {
			cpus++
		}
	}
	if got := len(fams["node_cpu_seconds_total"]); got != cpus*len(cpuModes) {
		t.Errorf("%d CPU series, want %d CPUs × %d modes", got, cpus, len(cpuModes))
	}

	fss := fams["node_filesystem_size_bytes"]
	if len(fss) == 0 {
		t.Fatal("no filesystem")
	}
	for _, s := range fss {
		var mp []string
		s.Labels.Range(func(l metricstore.Label) {
			if l.Name != "__name__" {
				mp = append(mp, l.Name, l.Value)
			}
		})
		size := s.V
		free := value(t, samples, "node_filesystem_free_bytes", mp...)
		avail := value(t, samples, "node_filesystem_avail_bytes", mp...)
		if size <= 0 || free > size || avail > free {
			t.Errorf("%s: size %v, free %v, avail %v", s.Labels, size, free, avail)
		}
		if f, ff := value(t, samples, "node_filesystem_files", mp...), value(t, samples, "node_filesystem_files_free", mp...); ff > f {
			t.Errorf("%s: files %v, free %v", s.Labels, f, ff)
		}
		if fstype := s.Labels.Get("fstype"); slices.Contains(DefaultExcludeFS(), fstype) {
			t.Errorf("%s: excluded fstype", s.Labels)
		}
	}

	nets := fams["node_network_receive_bytes_total"]
	if len(nets) == 0 {
		t.Fatal("no network device")
	}
	for _, s := range nets {
		dev := s.Labels.Get("device")
		if dev == "lo" {
			t.Errorf("lo is reported")
		}
		// Counters only grow: /proc read after Collect holds at least as much.
		if now := procField(t, "/proc/net/dev", dev+":", 0); s.V > now {
			t.Errorf("%s: %v received, /proc/net/dev says %v since", dev, s.V, now)
		}
	}
	for _, s := range fams["node_disk_read_bytes_total"] {
		dev := s.Labels.Get("device")
		if now := diskSectorsRead(t, dev) * 512; s.V > now || s.V < 0 {
			t.Errorf("%s: %v bytes read, /proc/diskstats says %v since", dev, s.V, now)
		}
	}
}

// TestCollectTwice: counters never go back between collections, and the
// second collection returns the same series.
func TestCollectTwice(t *testing.T) {
	c := New(Options{})
	first, err := c.Collect(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Burn a little CPU so that the counters move.
	for deadline := time.Now().Add(30 * time.Millisecond); time.Now().Before(deadline); {
	}
	second, err := c.Collect(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a, b := series(t, first), series(t, second)
	moved := false
	for k, s := range a {
		if !strings.HasSuffix(s.Labels.Get("__name__"), "_total") {
			continue
		}
		n, ok := b[k]
		if !ok {
			continue // a device went away
		}
		if n.V < s.V {
			t.Errorf("%s went back from %v to %v", k, s.V, n.V)
		}
		if n.V > s.V && s.Labels.Get("__name__") == "node_cpu_seconds_total" {
			moved = true
		}
	}
	if !moved {
		t.Error("no CPU counter moved")
	}
	if len(first) != len(second) {
		t.Logf("%d series, then %d", len(first), len(second))
	}
}

// TestDocs: the names Collect returns are exactly those of Docs, with the
// labels, type and unit Docs gives them.
func TestDocs(t *testing.T) {
	samples, err := New(Options{}).Collect(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]Doc{}
	for _, d := range Docs() {
		if _, dup := docs[d.Name]; dup {
			t.Errorf("%s documented twice", d.Name)
		}
		docs[d.Name] = d
		switch {
		case d.Type != "counter" && d.Type != "gauge":
			t.Errorf("%s: type %q", d.Name, d.Type)
		case (d.Type == "counter") != strings.HasSuffix(d.Name, "_total"):
			t.Errorf("%s: a %s", d.Name, d.Type)
		case d.Unit != "" && !strings.Contains(d.Name, "_"+d.Unit):
			t.Errorf("%s: unit %s not in the name", d.Name, d.Unit)
		case d.Unit == "" && (strings.Contains(d.Name, "_bytes") || strings.Contains(d.Name, "_seconds")):
			t.Errorf("%s: no unit", d.Name)
		case d.Help == "" || !strings.HasSuffix(d.Help, "."):
			t.Errorf("%s: help %q", d.Name, d.Help)
		}
	}
	got := map[string]bool{}
	for _, s := range samples {
		name := s.Labels.Get("__name__")
		got[name] = true
		d, ok := docs[name]
		if !ok {
			t.Errorf("%s is not documented", name)
			continue
		}
		s.Labels.Range(func(l metricstore.Label) {
			if l.Name != "__name__" && l.Name != "job" && l.Name != "instance" && !slices.Contains(d.Labels, l.Name) {
				t.Errorf("%s: label %s is not documented", s.Labels, l.Name)
			}
		})
		if name != "node_os_info" && s.Labels.Len() != 3+len(d.Labels) {
			t.Errorf("%s: want labels %v", s.Labels, d.Labels)
		}
	}
	if _, err := os.Stat("/etc/os-release"); err != nil {
		got["node_os_info"] = true
	}
	if want := slices.Sorted(maps.Keys(docs)); !slices.Equal(slices.Sorted(maps.Keys(got)), want) {
		t.Errorf("names\n got %v\nwant %v", slices.Sorted(maps.Keys(got)), want)
	}
	md := Metadata()
	for name, d := range docs {
		if m := md[name]; m.Type != d.Type || m.Help != d.Help || m.Unit != d.Unit {
			t.Errorf("%s: metadata %+v, doc %+v", name, m, d)
		}
	}
	if len(md) != len(docs) {
		t.Errorf("%d metadata, %d docs", len(md), len(docs))
	}
}

// TestFixture reads a fixed /proc, /sys and root (testdata/fixture) and
// compares every sample with testdata/fixture/want.txt: the units, the
// exclusions and the mount handling, exactly. Values that come from the
// machine running the test (statfs of /, uname, times) are masked.
func TestFixture(t *testing.T) {
	dir, err := filepath.Abs("testdata/fixture")
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{
		Job: "fixture", Instance: "host:9100",
		ProcFS: filepath.Join(dir, "proc"), SysFS: filepath.Join(dir, "sys"), RootFS: filepath.Join(dir, "root"),
	})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	samples, err := c.Collect(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "testdata/fixture/want.txt", render(samples))

	// A second collection reuses the labels and reports the same.
	again, err := c.Collect(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(again), render(samples); !bytes.Equal(got, want) {
		t.Errorf("second collection differs:\n%s", got)
	}
}

// render prints samples one a line, sorted, with what the machine decides
// masked.
func render(samples []metricstore.Sample) []byte {
	var lines []string
	for _, s := range samples {
		name := s.Labels.Get("__name__")
		v := strconv.FormatFloat(s.V, 'g', -1, 64)
		switch {
		case name == "node_scrape_collector_duration_seconds", name == "node_uname_info":
			continue
		case strings.HasPrefix(name, "node_filesystem_") && s.Labels.Get("mountpoint") == "/" &&
			name != "node_filesystem_readonly" && name != "node_filesystem_device_error":
			v = "<statfs>"
		}
		lines = append(lines, fmt.Sprintf("%s %s %d", s.Labels, v, s.T))
	}
	slices.Sort(lines)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// TestCollectFailures: collectors that fail leave the others' samples,
// report node_scrape_collector_success 0, and are named in the error.
func TestCollectFailures(t *testing.T) {
	c := New(Options{ProcFS: t.TempDir(), RootFS: "/"})
	samples, err := c.Collect(context.Background(), time.Now())
	if err == nil {
		t.Fatal("no error from an empty /proc")
	}
	for _, name := range []string{"cpu", "meminfo", "filesystem", "diskstats", "netdev", "filefd", "stat"} {
		if !strings.Contains(err.Error(), "collect "+name+": ") {
			t.Errorf("error does not name %s: %v", name, err)
		}
		if v := value(t, samples, "node_scrape_collector_success", "collector", name); v != 0 {
			t.Errorf("%s: success %v", name, v)
		}
	}
	for _, name := range []string{"time", "uname"} {
		if v := value(t, samples, "node_scrape_collector_success", "collector", name); v != 1 {
			t.Errorf("%s: success %v", name, v)
		}
	}
	value(t, samples, "node_time_seconds")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	samples, err = New(Options{}).Collect(ctx, time.Now())
	if !errors.Is(err, context.Canceled) || len(samples) != 0 {
		t.Errorf("canceled: %d samples, %v", len(samples), err)
	}
}

func TestExclude(t *testing.T) {
	c := New(Options{})
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"disk sda", matchAny(c.excludeDisks, "sda"), false},
		{"disk sda1", matchAny(c.excludeDisks, "sda1"), true},
		{"disk sdaa", matchAny(c.excludeDisks, "sdaa"), false},
		{"disk nvme0n1", matchAny(c.excludeDisks, "nvme0n1"), false},
		{"disk nvme0n1p2", matchAny(c.excludeDisks, "nvme0n1p2"), true},
		{"disk dm-0", matchAny(c.excludeDisks, "dm-0"), false},
		{"disk loop7", matchAny(c.excludeDisks, "loop7"), true},
		{"disk vda", matchAny(c.excludeDisks, "vda"), false},
		{"disk xvdb3", matchAny(c.excludeDisks, "xvdb3"), true},
		{"disk mmcblk0", matchAny(c.excludeDisks, "mmcblk0"), false},
		{"net eth0", matchAny(c.excludeNet, "eth0"), false},
		{"net lo", matchAny(c.excludeNet, "lo"), true},
		{"net veth9f", matchAny(c.excludeNet, "veth9f"), true},
		{"net docker0", matchAny(c.excludeNet, "docker0"), false},
		{"fs ext4", matchAny(c.excludeFS, "ext4"), false},
		{"fs tmpfs", matchAny(c.excludeFS, "tmpfs"), false},
		{"fs overlay", matchAny(c.excludeFS, "overlay"), true},
		{"mount /", c.excludedMount("/"), false},
		{"mount /dev", c.excludedMount("/dev"), true},
		{"mount /dev/shm", c.excludedMount("/dev/shm"), true},
		{"mount /devices", c.excludedMount("/devices"), false},
		{"mount /var/lib/docker", c.excludedMount("/var/lib/docker"), false},
		{"mount /var/lib/docker/overlay2/x", c.excludedMount("/var/lib/docker/overlay2/x"), true},
		{"mount /run/credentials/a.service", c.excludedMount("/run/credentials/a.service"), true},
		{"remote nfs4", matchAny(remoteFS, "nfs4"), true},
		{"remote fuse.sshfs", matchAny(remoteFS, "fuse.sshfs"), true},
		{"nothing excluded", matchAny(New(Options{ExcludeNet: []string{}}).excludeNet, "lo"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("excluded %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	got := parseOSRelease([]byte("# c\nID=debian\nNAME=\"Debian \\\"GNU\\\"\"\nX='a \\b'\n\nBAD\nE=\nQ=\"\n"))
	want := map[string]string{"ID": "debian", "NAME": `Debian "GNU"`, "X": `a \b`, "E": "", "Q": `"`}
	if !maps.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("ID=debian\nNAME=\"Debian \\\"x\\\"\"\n"))
	f.Add([]byte("A='\nB=\"\\"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for k, v := range parseOSRelease(b) {
			if strings.Contains(k, "\n") || strings.Contains(v, "\n") {
				t.Fatalf("%q=%q spans lines", k, v)
			}
		}
	})
}

func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0", "18446744073709551615", "12a", "", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUint([]byte(s))
		want, err := strconv.ParseUint(s, 10, 64)
		if ok && (err != nil || got != want) {
			t.Fatalf("parseUint(%q) = %d, strconv says %d, %v", s, got, want, err)
		}
	})
}

// TestStuckMount: a remote filesystem whose statfs is still under way is
// not asked again, and reports an error at once.
func TestStuckMount(t *testing.T) {
	s := stuckMounts{m: map[string]bool{"/mnt/nfs": true}}
	start := time.Now()
	if _, err := s.usage(context.Background(), "/mnt/nfs"); !errors.Is(err, errStuck) {
		t.Fatalf("err %v, want errStuck", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("waited for a stuck mount")
	}
	u, err := s.usage(context.Background(), "/")
	if err != nil || u.Total == 0 {
		t.Fatalf("usage of /: %+v, %v", u, err)
	}
	if len(s.m) != 1 {
		t.Fatalf("calls under way: %v", s.m)
	}
}
