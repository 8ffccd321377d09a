package logs

// The output writers of `logs parse` as they were before the pipeline,
// kept as the reference that the formatters and the pipeline must match
// byte for byte (see pipeline_test.go). Each wrote a Batch on the
// Aggregator's goroutine.

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// writer prints batches in one output kind.
type refWriter interface {
	header(referers bool) error
	batch(b *Batch) error
}

func newRefWriter(kind string, w *bufio.Writer, now func() time.Time) (refWriter, error) {
	switch kind {
	case OutputOpenTSDB:
		return &refTSDBWriter{w: w, now: now, groups: map[uint64]int{}, tags: map[string]string{}}, nil
	case OutputProm:
		return &refPromWriter{w: w, labels: map[any]string{}}, nil
	case OutputJSON:
		return &refJSONWriter{w: w, labels: map[any]string{}}, nil
	}
	return nil, fmt.Errorf("unknown output %q (use opentsdb, prom or json)", kind)
}

// refPromWriter writes the Prometheus text exposition format: # HELP and
// # TYPE of every family once at the top, then for each second the
// changed series with cumulative values and millisecond timestamps.
type refPromWriter struct {
	labels map[any]string
	w      *bufio.Writer
	buf    []byte
	les    []string // `,le="0.005"` … `,le="+Inf"`
}

func (p *refPromWriter) header(referers bool) error {
	for _, f := range familyInfo(referers) {
		fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", f.Name, f.Help, f.Name, f.Type)
	}
	return nil
}

// refAppendPromValue appends a label value escaped for the text format.
func refAppendPromValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}

func refPromLabels(pairs ...string) string {
	var b []byte
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, pairs[i]...)
		b = append(b, '=', '"')
		b = refAppendPromValue(b, pairs[i+1])
		b = append(b, '"')
	}
	return string(b)
}

// sample appends `name{labels[,extra]} value ts`.
func (p *refPromWriter) sample(name, suffix, labels, extra string, v []byte, ts int64) {
	b := append(p.buf[:0], name...)
	b = append(b, suffix...)
	b = append(b, '{')
	b = append(b, labels...)
	b = append(b, extra...)
	b = append(b, '}', ' ')
	b = append(b, v...)
	if ts != 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, ts*1000, 10)
	}
	b = append(b, '\n')
	p.w.Write(b)
	p.buf = b
}

func (p *refPromWriter) batch(b *Batch) error {
	var num [32]byte
	for _, s := range b.Requests {
		if p.labels[s] == "" {
			p.labels[s] = refPromLabels("job", b.Job, "method", s.Method, "path", s.Path, "status", s.Status)
		}
		p.sample(MetricRequests, "", p.labels[s], "", strconv.AppendUint(num[:0], s.Requests, 10), b.Time)
	}
	for _, h := range b.Durations {
		if p.labels[h] == "" {
			p.labels[h] = refPromLabels("job", b.Job, "method", h.Method, "path", h.Path)
		}
		if p.les == nil {
			for _, ub := range b.BucketBounds {
				p.les = append(p.les, `,le="`+formatBound(ub)+`"`)
			}
			p.les = append(p.les, `,le="+Inf"`)
		}
		var cum uint64
		for i, n := range h.Buckets {
			cum += n
			p.sample(MetricDuration, "_bucket", p.labels[h], p.les[i], strconv.AppendUint(num[:0], cum, 10), b.Time)
		}
		p.sample(MetricDuration, "_sum", p.labels[h], "", refAppendSeconds(num[:0], h.SumMicros), b.Time)
		p.sample(MetricDuration, "_count", p.labels[h], "", strconv.AppendUint(num[:0], h.Count, 10), b.Time)
	}
	for _, s := range b.Requests {
		if s.BytesDelta() > 0 || s.prevRequests == 0 {
			p.sample(MetricBytes, "", p.labels[s], "", strconv.AppendUint(num[:0], s.Bytes, 10), b.Time)
		}
	}
	for _, s := range b.Referers {
		if p.labels[s] == "" {
			p.labels[s] = refPromLabels("job", b.Job, "path", s.Path, "referer_host", s.Host)
		}
		p.sample(MetricReferer, "", p.labels[s], "", strconv.AppendUint(num[:0], s.Requests, 10), b.Time)
	}
	job := ""
	if b.InvalidDelta > 0 || b.CappedDelta > 0 {
		job = refPromLabels("job", b.Job)
	}
	if b.InvalidDelta > 0 {
		p.sample(MetricInvalid, "", job, "", strconv.AppendUint(num[:0], b.Invalid, 10), b.Time)
	}
	if b.CappedDelta > 0 {
		p.sample(MetricCapped, "", job, "", strconv.AppendUint(num[:0], b.Capped, 10), b.Time)
	}
	return nil
}

// refAppendSeconds appends microseconds as seconds: 5000 → "0.005".
func refAppendSeconds(b []byte, us int64) []byte {
	return strconv.AppendFloat(b, float64(us)/1e6, 'f', -1, 64)
}

// refTSDBWriter writes the seed's OpenTSDB lines (without "put"): per second,
// the deltas of that second.
//
//	nginx.log.status <ts> <requests> req_path=<path> http_status=<status>
//	nginx.log.bytes <ts> <bytes> req_path=<path> http_status=<status>
//	nginx.log.elapsed.time <ts> <mean seconds> req_path=<path>
//	nginx.log.referer <ts> <requests> req_path=<path> referer_host=<host>
//	nginx.log.invalid <ts> <lines> job=<job>
//	nginx.log.capped <ts> <lines> job=<job>
type refTSDBWriter struct {
	w      *bufio.Writer
	now    func() time.Time
	buf    []byte
	groups map[uint64]int    // (path, status) or path → index in acc
	acc    []refTSDBAcc      // reused each second
	tags   map[string]string // label value → tag value
}

type refTSDBAcc struct {
	path, status string
	n, bytes     uint64
	sum          int64
}

func (t *refTSDBWriter) header(bool) error { return nil }

// tag returns v as an OpenTSDB tag value: characters other than letters,
// digits and - _ . / become _, so /article/{id} is /article/_id_.
func (t *refTSDBWriter) tag(v string) string {
	if s, ok := t.tags[v]; ok {
		return s
	}
	b := make([]byte, 0, len(v))
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '/':
			b = append(b, byte(r))
		case r >= utf8.RuneSelf && r != utf8.RuneError && refIsLetter(r):
			b = utf8.AppendRune(b, r)
		default:
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		b = append(b, '_')
	}
	s := string(b)
	if len(t.tags) < 1<<16 {
		t.tags[v] = s
	}
	return s
}

func refIsLetter(r rune) bool {
	return r >= 0xAC00 && r <= 0xD7A3 || r >= 0x3040 && r <= 0x30FF || r >= 0x4E00 && r <= 0x9FFF || r >= 0xC0 && r <= 0x24F
}

func (t *refTSDBWriter) line(metric string, ts int64, v []byte, tags ...string) {
	b := append(t.buf[:0], metric...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, ' ')
	b = append(b, v...)
	for i := 0; i < len(tags); i += 2 {
		b = append(b, ' ')
		b = append(b, tags[i]...)
		b = append(b, '=')
		b = append(b, t.tag(tags[i+1])...)
	}
	b = append(b, '\n')
	t.w.Write(b)
	t.buf = b
}

func (t *refTSDBWriter) batch(b *Batch) error {
	ts := b.Time
	if ts == 0 {
		ts = t.now().Unix()
	}
	var num [32]byte
	clear(t.groups)
	t.acc = t.acc[:0]
	for _, s := range b.Requests {
		key := uint64(s.pathID)<<10 | uint64(s.code)
		i, ok := t.groups[key]
		if !ok {
			i = len(t.acc)
			t.groups[key] = i
			t.acc = append(t.acc, refTSDBAcc{path: s.Path, status: s.Status})
		}
		t.acc[i].n += s.RequestsDelta()
		t.acc[i].bytes += s.BytesDelta()
	}
	for _, g := range t.acc {
		t.line("nginx.log.status", ts, strconv.AppendUint(num[:0], g.n, 10), "req_path", g.path, "http_status", g.status)
	}
	for _, g := range t.acc {
		t.line("nginx.log.bytes", ts, strconv.AppendUint(num[:0], g.bytes, 10), "req_path", g.path, "http_status", g.status)
	}
	clear(t.groups)
	t.acc = t.acc[:0]
	for _, h := range b.Durations {
		key := uint64(h.pathID)
		i, ok := t.groups[key]
		if !ok {
			i = len(t.acc)
			t.groups[key] = i
			t.acc = append(t.acc, refTSDBAcc{path: h.Path})
		}
		t.acc[i].n += h.CountDelta()
		t.acc[i].sum += h.SumMicrosDelta()
	}
	for _, g := range t.acc {
		if g.n > 0 {
			mean := int64(math.Round(float64(g.sum) / float64(g.n)))
			t.line("nginx.log.elapsed.time", ts, refAppendSeconds(num[:0], mean), "req_path", g.path)
		}
	}
	for _, s := range b.Referers {
		t.line("nginx.log.referer", ts, strconv.AppendUint(num[:0], s.RequestsDelta(), 10), "req_path", s.Path, "referer_host", s.Host)
	}
	if b.InvalidDelta > 0 {
		t.line("nginx.log.invalid", ts, strconv.AppendUint(num[:0], b.InvalidDelta, 10), "job", b.Job)
	}
	if b.CappedDelta > 0 {
		t.line("nginx.log.capped", ts, strconv.AppendUint(num[:0], b.CappedDelta, 10), "job", b.Job)
	}
	return nil
}

// refJSONWriter writes one JSON object per changed series and second, with
// cumulative values:
//
//	{"ts":1633873130,"metric":"http_requests_total","labels":{"job":"access",…},"value":42}
//	{"ts":1633873130,"metric":"http_request_duration_seconds","labels":{…},"count":3,"sum":0.015,"buckets":{"0.005":1,…,"+Inf":3}}
type refJSONWriter struct {
	labels map[any]string
	w      *bufio.Writer
	buf    []byte
}

func (j *refJSONWriter) header(bool) error { return nil }

// refAppendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func refAppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

func refJSONLabels(pairs ...string) string {
	b := []byte{'{'}
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = refAppendJSONString(b, pairs[i])
		b = append(b, ':')
		b = refAppendJSONString(b, pairs[i+1])
	}
	return string(append(b, '}'))
}

func (j *refJSONWriter) start(ts int64, metric, labels string) []byte {
	b := append(j.buf[:0], `{"ts":`...)
	if ts == 0 {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, ts, 10)
	}
	b = append(b, `,"metric":"`...)
	b = append(b, metric...)
	b = append(b, `","labels":`...)
	return append(b, labels...)
}

func (j *refJSONWriter) value(ts int64, metric, labels string, v uint64) {
	b := j.start(ts, metric, labels)
	b = append(b, `,"value":`...)
	b = strconv.AppendUint(b, v, 10)
	b = append(b, '}', '\n')
	j.w.Write(b)
	j.buf = b
}

func (j *refJSONWriter) batch(b *Batch) error {
	for _, s := range b.Requests {
		if j.labels[s] == "" {
			j.labels[s] = refJSONLabels("job", b.Job, "method", s.Method, "path", s.Path, "status", s.Status)
		}
		j.value(b.Time, MetricRequests, j.labels[s], s.Requests)
	}
	for _, h := range b.Durations {
		if j.labels[h] == "" {
			j.labels[h] = refJSONLabels("job", b.Job, "method", h.Method, "path", h.Path)
		}
		out := j.start(b.Time, MetricDuration, j.labels[h])
		out = append(out, `,"count":`...)
		out = strconv.AppendUint(out, h.Count, 10)
		out = append(out, `,"sum":`...)
		out = refAppendSeconds(out, h.SumMicros)
		out = append(out, `,"buckets":{`...)
		var cum uint64
		for i, n := range h.Buckets {
			cum += n
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, '"')
			if i < len(b.BucketBounds) {
				out = strconv.AppendFloat(out, b.BucketBounds[i], 'g', -1, 64)
			} else {
				out = append(out, "+Inf"...)
			}
			out = append(out, '"', ':')
			out = strconv.AppendUint(out, cum, 10)
		}
		out = append(out, '}', '}', '\n')
		j.w.Write(out)
		j.buf = out
	}
	for _, s := range b.Requests {
		if s.BytesDelta() > 0 || s.prevRequests == 0 {
			j.value(b.Time, MetricBytes, j.labels[s], s.Bytes)
		}
	}
	for _, s := range b.Referers {
		if j.labels[s] == "" {
			j.labels[s] = refJSONLabels("job", b.Job, "path", s.Path, "referer_host", s.Host)
		}
		j.value(b.Time, MetricReferer, j.labels[s], s.Requests)
	}
	if b.InvalidDelta > 0 {
		j.value(b.Time, MetricInvalid, refJSONLabels("job", b.Job), b.Invalid)
	}
	if b.CappedDelta > 0 {
		j.value(b.Time, MetricCapped, refJSONLabels("job", b.Job), b.Capped)
	}
	return nil
}
