package hostmetrics

import "github.com/dandan-sre/dandan/internal/metricstore"

// Doc describes one metric family a Collector produces, for the README's
// metric table. Every series also carries the labels job and instance.
type Doc struct {
	Name   string   // node_cpu_seconds_total
	Type   string   // counter or gauge
	Labels []string // labels besides job and instance, in the order shown
	Unit   string   // seconds, bytes, or "" for a count
	Help   string   // node_exporter's help text
}

// Docs returns every metric family a Collector produces, in the order of
// its collectors; a test checks it against what Collect returns.
func Docs() []Doc {
	const (
		counter = "counter"
		gauge   = "gauge"
		seconds = "seconds"
		bytes   = "bytes"
	)
	fs := []string{"device", "fstype", "mountpoint"}
	dev := []string{"device"}
	return []Doc{
		{"node_cpu_seconds_total", counter, []string{"cpu", "mode"}, seconds, "Seconds the CPUs spent in each mode."},

		{"node_load1", gauge, nil, "", "1m load average."},
		{"node_load5", gauge, nil, "", "5m load average."},
		{"node_load15", gauge, nil, "", "15m load average."},

		{"node_memory_MemTotal_bytes", gauge, nil, bytes, "Memory information field MemTotal_bytes."},
		{"node_memory_MemFree_bytes", gauge, nil, bytes, "Memory information field MemFree_bytes."},
		{"node_memory_MemAvailable_bytes", gauge, nil, bytes, "Memory information field MemAvailable_bytes."},
		{"node_memory_Buffers_bytes", gauge, nil, bytes, "Memory information field Buffers_bytes."},
		{"node_memory_Cached_bytes", gauge, nil, bytes, "Memory information field Cached_bytes."},
		{"node_memory_SwapTotal_bytes", gauge, nil, bytes, "Memory information field SwapTotal_bytes."},
		{"node_memory_SwapFree_bytes", gauge, nil, bytes, "Memory information field SwapFree_bytes."},

		{"node_filesystem_size_bytes", gauge, fs, bytes, "Filesystem size in bytes."},
		{"node_filesystem_free_bytes", gauge, fs, bytes, "Filesystem free space in bytes."},
		{"node_filesystem_avail_bytes", gauge, fs, bytes, "Filesystem space available to non-root users in bytes."},
		{"node_filesystem_files", gauge, fs, "", "Filesystem total file nodes."},
		{"node_filesystem_files_free", gauge, fs, "", "Filesystem total free file nodes."},
		{"node_filesystem_readonly", gauge, fs, "", "Filesystem read-only status."},
		{"node_filesystem_device_error", gauge, fs, "", "Whether an error occurred while getting statistics for the given device."},

		{"node_disk_reads_completed_total", counter, dev, "", "The total number of reads completed successfully."},
		{"node_disk_writes_completed_total", counter, dev, "", "The total number of writes completed successfully."},
		{"node_disk_read_bytes_total", counter, dev, bytes, "The total number of bytes read successfully."},
		{"node_disk_written_bytes_total", counter, dev, bytes, "The total number of bytes written successfully."},
		{"node_disk_read_time_seconds_total", counter, dev, seconds, "The total number of seconds spent by all reads."},
		{"node_disk_write_time_seconds_total", counter, dev, seconds, "This is the total number of seconds spent by all writes."},
		{"node_disk_io_now", gauge, dev, "", "The number of I/Os currently in progress."},
		{"node_disk_io_time_seconds_total", counter, dev, seconds, "Total seconds spent doing I/Os."},
		{"node_disk_io_time_weighted_seconds_total", counter, dev, seconds, "The weighted # of seconds spent doing I/Os."},

		{"node_network_receive_bytes_total", counter, dev, bytes, "Network device statistic receive_bytes."},
		{"node_network_transmit_bytes_total", counter, dev, bytes, "Network device statistic transmit_bytes."},
		{"node_network_receive_packets_total", counter, dev, "", "Network device statistic receive_packets."},
		{"node_network_transmit_packets_total", counter, dev, "", "Network device statistic transmit_packets."},
		{"node_network_receive_errs_total", counter, dev, "", "Network device statistic receive_errs."},
		{"node_network_transmit_errs_total", counter, dev, "", "Network device statistic transmit_errs."},
		{"node_network_receive_drop_total", counter, dev, "", "Network device statistic receive_drop."},
		{"node_network_transmit_drop_total", counter, dev, "", "Network device statistic transmit_drop."},

		{"node_filefd_allocated", gauge, nil, "", "File descriptor statistics: allocated."},
		{"node_filefd_maximum", gauge, nil, "", "File descriptor statistics: maximum."},

		{"node_boot_time_seconds", gauge, nil, seconds, "Node boot time, in unixtime."},
		{"node_context_switches_total", counter, nil, "", "Total number of context switches."},
		{"node_forks_total", counter, nil, "", "Total number of forks."},
		{"node_procs_running", gauge, nil, "", "Number of processes in runnable state."},
		{"node_procs_blocked", gauge, nil, "", "Number of processes blocked waiting for I/O to complete."},

		{"node_time_seconds", gauge, nil, seconds, "System time in seconds since epoch (1970)."},

		{"node_uname_info", gauge, []string{"domainname", "machine", "nodename", "release", "sysname", "version"}, "",
			"Labeled system information as provided by the uname system call."},
		{"node_os_info", gauge, osLabels(), "",
			"A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id."},

		{"node_scrape_collector_success", gauge, []string{"collector"}, "", "Whether a collector succeeded."},
		{"node_scrape_collector_duration_seconds", gauge, []string{"collector"}, seconds, "Duration of a collector scrape."},
	}
}

// Metadata returns the type, help and unit of every metric family, keyed
// by name, for metricstore.Store.SetMetadata.
func Metadata() map[string]metricstore.Metadata {
	ds := Docs()
	m := make(map[string]metricstore.Metadata, len(ds))
	for _, d := range ds {
		m[d.Name] = metricstore.Metadata{Type: d.Type, Help: d.Help, Unit: d.Unit}
	}
	return m
}
