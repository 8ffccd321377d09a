package hostmetrics

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// unameInfo is the last uname answer and the labels made of it.
type unameInfo struct {
	raw    unix.Utsname
	labels metricstore.Labels
}

func (c *Collector) collectUname(context.Context) error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return err
	}
	if c.uname.labels.IsEmpty() || u != c.uname.raw {
		c.uname = unameInfo{raw: u, labels: c.labels("node_uname_info",
			"domainname", unix.ByteSliceToString(u.Domainname[:]),
			"machine", unix.ByteSliceToString(u.Machine[:]),
			"nodename", unix.ByteSliceToString(u.Nodename[:]),
			"release", unix.ByteSliceToString(u.Release[:]),
			"sysname", unix.ByteSliceToString(u.Sysname[:]),
			"version", unix.ByteSliceToString(u.Version[:]),
		)}
	}
	c.add(c.uname.labels, 1)
	return nil
}

// osLabels are the labels of node_os_info, and the os-release fields
// they come from in upper case.
func osLabels() []string {
	return []string{
		"build_id", "id", "id_like", "image_id", "image_version", "name", "pretty_name",
		"variant", "variant_id", "version", "version_codename", "version_id",
	}
}

// osInfo is the os-release file last read and the labels made of it.
type osInfo struct {
	path    string
	modTime time.Time
	size    int64
	labels  metricstore.Labels // empty when no file was found
}

// collectOS reports os-release(5) as node_os_info, reading the file again
// only when it changes. A host without the file has no node_os_info.
func (c *Collector) collectOS(context.Context) error {
	for _, rel := range []string{"etc/os-release", "usr/lib/os-release"} {
		p := filepath.Join(c.rootFS, rel)
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if o := c.osInfo; o != nil && o.path == p && o.modTime.Equal(st.ModTime()) && o.size == st.Size() {
			c.add(o.labels, 1)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c.osInfo = &osInfo{path: p, modTime: st.ModTime(), size: st.Size(), labels: c.osLabels(parseOSRelease(b))}
		c.add(c.osInfo.labels, 1)
		return nil
	}
	return nil
}

func (c *Collector) osLabels(fields map[string]string) metricstore.Labels {
	var kv []string
	for _, l := range osLabels() {
		if v := fields[strings.ToUpper(l)]; v != "" {
			kv = append(kv, l, v)
		}
	}
	return c.labels("node_os_info", kv...)
}

// parseOSRelease parses the KEY=value lines of os-release(5); values may
// be quoted, as in a shell.
func parseOSRelease(b []byte) map[string]string {
	m := map[string]string{}
	for line := range bytes.Lines(b) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte{'='})
		if !ok {
			continue
		}
		m[string(k)] = unquote(string(v))
	}
	return m
}

// unquote removes the shell quotes of an os-release value: '…' as it is,
// "…" with its backslash escapes.
func unquote(v string) string {
	if len(v) < 2 || v[0] != v[len(v)-1] || (v[0] != '"' && v[0] != '\'') {
		return v
	}
	q, v := v[0], v[1:len(v)-1]
	if q == '\'' {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
