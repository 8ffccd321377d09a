package webstatus

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// NginxStatus is nginx's stub_status page:
//
//	Active connections: 2
//	server accepts handled requests
//	 10 10 12
//	Reading: 0 Writing: 1 Waiting: 1
type NginxStatus struct {
	Active   uint64 // open client connections, waiting ones included
	Accepts  uint64 // client connections accepted since start
	Handled  uint64 // accepted connections handled: Accepts unless a limit was hit
	Requests uint64 // client requests since start, the status request included
	Reading  uint64 // connections whose request nginx is reading
	Writing  uint64 // connections nginx is writing a response to
	Waiting  uint64 // idle keep-alive connections
	// Version is the response's Server header ("nginx/1.22.1"), which
	// Scrape sets; ParseNginx leaves it empty.
	Version string
}

// ParseNginx parses a stub_status page. Its errors give the line:
// `line 3: requests: "x" is not a count`. Columns beyond accepts,
// handled and requests (as forks such as Tengine print) are ignored.
func ParseNginx(body []byte) (NginxStatus, error) {
	var st NginxStatus
	l := lines{b: body}

	n, line, _ := l.next()
	v, ok := strings.CutPrefix(line, "Active connections:")
	if !ok {
		return st, fmt.Errorf("line %d: want %q, got %s", n, "Active connections: N", quote(line))
	}
	var err error
	if st.Active, err = parseCount(v); err != nil {
		return st, fmt.Errorf("line %d: active connections: %w", n, err)
	}

	n, line, _ = l.next()
	names := strings.Fields(line)
	if len(names) < 2 || names[0] != "server" {
		return st, fmt.Errorf("line %d: want %q, got %s", n, "server accepts handled requests", quote(line))
	}
	names = names[1:]
	n, line, _ = l.next()
	values := strings.Fields(line)
	if len(values) != len(names) {
		return st, fmt.Errorf("line %d: want %d counts (%s), got %s", n, len(names), strings.Join(names, " "), quote(line))
	}
	var seen [3]bool
	for i, name := range names {
		c, err := parseCount(values[i])
		if err != nil {
			return st, fmt.Errorf("line %d: %s: %w", n, name, err)
		}
		switch name {
		case "accepts":
			st.Accepts, seen[0] = c, true
		case "handled":
			st.Handled, seen[1] = c, true
		case "requests":
			st.Requests, seen[2] = c, true
		}
	}
	if seen != [3]bool{true, true, true} {
		return st, fmt.Errorf("line %d: want columns accepts, handled and requests, got %s", n-1, strings.Join(names, " "))
	}

	n, line, _ = l.next()
	f := strings.Fields(line)
	seen = [3]bool{}
	for i := 0; i+1 < len(f); i += 2 {
		c, err := parseCount(f[i+1])
		if err != nil {
			return st, fmt.Errorf("line %d: %s %w", n, f[i], err)
		}
		switch f[i] {
		case "Reading:":
			st.Reading, seen[0] = c, true
		case "Writing:":
			st.Writing, seen[1] = c, true
		case "Waiting:":
			st.Waiting, seen[2] = c, true
		}
	}
	if len(f)%2 != 0 || seen != [3]bool{true, true, true} {
		return st, fmt.Errorf("line %d: want %q, got %s", n, "Reading: N Writing: N Waiting: N", quote(line))
	}

	if n, line, ok := l.next(); ok {
		return st, fmt.Errorf("line %d: unexpected %s after the status", n, quote(line))
	}
	return st, nil
}

// Samples returns the samples of st for job at now.
func (st NginxStatus) Samples(job string, now time.Time) []metricstore.Sample {
	ts := now.UnixMilli()
	out := []metricstore.Sample{
		sample(ts, float64(st.Requests), MetricRequests, job),
		sample(ts, float64(st.Accepts), MetricAccepted, job),
		sample(ts, float64(st.Handled), MetricHandled, job),
		sample(ts, float64(st.Active), MetricConnections, job, "state", "active"),
		sample(ts, float64(st.Reading), MetricConnections, job, "state", "reading"),
		sample(ts, float64(st.Writing), MetricConnections, job, "state", "writing"),
		sample(ts, float64(st.Waiting), MetricConnections, job, "state", "waiting"),
	}
	if st.Version != "" {
		out = append(out, sample(ts, 1, MetricInfo, job, "version", st.Version))
	}
	return out
}

// lines yields the non-blank lines of a page, trimmed, with their numbers.
type lines struct {
	b []byte
	n int // the number of the line last returned
}

// next returns the next non-blank line and its number, or, at the end,
// ok false and the number the next line would have.
func (l *lines) next() (n int, line string, ok bool) {
	for len(l.b) > 0 {
		var b []byte
		b, l.b, _ = bytes.Cut(l.b, []byte("\n"))
		l.n++
		if b = bytes.TrimSpace(b); len(b) > 0 {
			return l.n, string(b), true
		}
	}
	return l.n + 1, "", false
}

// parseCount parses a non-negative integer.
func parseCount(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	c, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a count", quote(s))
	}
	return c, nil
}

// quote quotes s for an error message, cut to 60 bytes: a page that is
// not a status page can have long lines. An empty s is the end of the
// page, since pages are read by non-blank lines.
func quote(s string) string {
	if s == "" {
		return "end of page"
	}
	const max = 60
	if len(s) > max {
		return strconv.Quote(strings.ToValidUTF8(s[:max], "")) + "…"
	}
	return strconv.Quote(s)
}
