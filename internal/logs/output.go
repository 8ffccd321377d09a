package logs

import (
	"bufio"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Output kinds of `dandan logs parse`.
const (
	OutputOpenTSDB = "opentsdb"
	OutputProm     = "prom"
	OutputJSON     = "json"
)

// Outputs returns the output kinds, the default first.
func Outputs() []string { return []string{OutputOpenTSDB, OutputProm, OutputJSON} }

// A batch reaches an output in three steps: on the Aggregator's
// goroutine, snapshot.take copies what the output needs out of the Batch
// and formatter.prepare adds the text of each series (made once per
// series and kept); then formatter.format turns the snapshot into lines,
// on any goroutine with a formatter of its own.

// snapshot is a Batch copied out of the Aggregator: the values as they
// were at the end of a second, owned by whoever holds the snapshot.
type snapshot struct {
	job                   string
	time                  int64
	reqs                  []snapReq
	hists                 []snapHist
	counts                []uint64       // the hists' bucket counts, not cumulative, len(bounds)+1 each
	native                []NativeBucket // the hists' populated native buckets
	refs                  []snapRef
	invalid, invalidDelta uint64
	capped, cappedDelta   uint64
	bounds                []float64 // the Aggregator's, never changed
	lines                 int       // about how many output lines the snapshot makes
	sections              uint8     // which parts of the batch's output the snapshot writes
	// Set by prepare: the texts of the invalid and capped series, and the
	// time to write when the batch has none.
	jobText [2]string
	now     int64
}

type snapReq struct {
	path, method, status    string
	text                    string // set by prepare
	id, pathID, code, group int32  // group: set by prepare
	requests, bytes         uint64
	prevRequests, prevBytes uint64
}

type snapHist struct {
	path, method     string
	text             string // set by prepare
	id, pathID       int32
	count, prevCount uint64
	sum, prevSum     int64
	// The native histogram, when native is set: its buckets are
	// snapshot.native[nFrom:nTo].
	native        bool
	nSchema       int32
	nFrom, nTo    int32
	nZero, nCount uint64
	nSum          int64
}

type snapRef struct {
	path, host             string
	text                   string // set by prepare
	id                     int32
	requests, prevRequests uint64
}

// The sections of a batch's output, in the order they are written. A
// large batch may be taken in parts (takePart), each writing a section or
// a run of its series, so that no piece of output grows large.
const (
	secReqs  = 1 << iota // http_requests_total
	secHists             // the duration histograms
	secBytes             // http_response_bytes_total
	secRefs              // http_requests_by_referer_total
	secJob               // the invalid and capped counters
	secAll   = secReqs | secHists | secBytes | secRefs | secJob
)

// takePart copies into s the part of b that writes section sec, for the
// series lo to hi of that section (none for secJob).
func (s *snapshot) takePart(b *Batch, sec uint8, lo, hi int) {
	part := *b
	part.Requests, part.Durations, part.Referers = nil, nil, nil
	switch sec {
	case secReqs, secBytes:
		part.Requests = b.Requests[lo:hi]
	case secHists:
		part.Durations = b.Durations[lo:hi]
	case secRefs:
		part.Referers = b.Referers[lo:hi]
	}
	s.take(&part)
	s.sections = sec
}

// take copies b into s, reusing s's memory.
func (s *snapshot) take(b *Batch) {
	s.sections = secAll
	s.job, s.time, s.bounds = b.Job, b.Time, b.BucketBounds
	s.invalid, s.invalidDelta, s.capped, s.cappedDelta = b.Invalid, b.InvalidDelta, b.Capped, b.CappedDelta
	s.reqs = s.reqs[:0]
	for _, r := range b.Requests {
		s.reqs = append(s.reqs, snapReq{path: r.Path, method: r.Method, status: r.Status, id: r.id, pathID: r.pathID,
			code: int32(r.code), requests: r.Requests, bytes: r.Bytes, prevRequests: r.prevRequests, prevBytes: r.prevBytes})
	}
	s.hists, s.counts, s.native = s.hists[:0], s.counts[:0], s.native[:0]
	for _, h := range b.Durations {
		sh := snapHist{path: h.Path, method: h.Method, id: h.id, pathID: h.pathID,
			count: h.Count, prevCount: h.prevCount, sum: h.SumMicros, prevSum: h.prevSum}
		if n := h.native; n != nil {
			sh.native, sh.nSchema, sh.nZero, sh.nCount, sh.nSum = true, n.schema, n.zero, n.count, n.sumMicros
			sh.nFrom = int32(len(s.native))
			for i, c := range n.counts {
				if c != 0 {
					s.native = append(s.native, NativeBucket{Index: n.lo + int32(i), Count: c})
				}
			}
			sh.nTo = int32(len(s.native))
		}
		s.hists = append(s.hists, sh)
		s.counts = append(s.counts, h.Buckets...)
	}
	s.refs = s.refs[:0]
	for _, r := range b.Referers {
		s.refs = append(s.refs, snapRef{path: r.Path, host: r.Host, id: r.id, requests: r.Requests, prevRequests: r.prevRequests})
	}
	s.lines = 2 + 2*len(s.reqs) + (len(b.BucketBounds)+3)*len(s.hists) + len(s.refs)
}

// bytesChanged says whether a request series' bytes line is written: when
// its bytes changed, or it is new.
func (r *snapReq) bytesChanged() bool { return r.bytes-r.prevBytes > 0 || r.prevRequests == 0 }

// formatter turns snapshots of one Aggregator into one output kind. One
// formatter prepares every snapshot, in order; any may format them. The
// OpenTSDB formatter adds up series of a batch: it takes whole batches.
type formatter interface {
	header(dst []byte, referers bool) []byte
	prepare(s *snapshot)
	format(dst []byte, s *snapshot) []byte
}

func newFormatter(kind string, now func() time.Time) (formatter, error) {
	switch kind {
	case OutputOpenTSDB:
		return &tsdbFormatter{now: now, groupIDs: map[uint64]int32{}, tags: map[string]string{}}, nil
	case OutputProm:
		return &promFormatter{}, nil
	case OutputJSON:
		return &jsonFormatter{}, nil
	}
	return nil, fmt.Errorf("unknown output %q (use opentsdb, prom or json)", kind)
}

// writer prints batches in one output kind as they come, on the
// Aggregator's goroutine: its batch method is a Config.Emit.
type writer struct {
	w    *bufio.Writer
	f    formatter
	snap snapshot
	buf  []byte
}

func newWriter(kind string, w *bufio.Writer, now func() time.Time) (*writer, error) {
	f, err := newFormatter(kind, now)
	if err != nil {
		return nil, err
	}
	return &writer{w: w, f: f}, nil
}

func (w *writer) header(referers bool) error {
	w.buf = w.f.header(w.buf[:0], referers)
	_, err := w.w.Write(w.buf)
	return err
}

func (w *writer) batch(b *Batch) error {
	w.snap.take(b)
	w.f.prepare(&w.snap)
	w.buf = w.f.format(w.buf[:0], &w.snap)
	_, err := w.w.Write(w.buf)
	return err
}

// maxCached bounds the bytes of series text a formatter keeps; past it,
// the text of further series is made for each snapshot.
const maxCached = 16 << 20

// cacheText returns the text made by build for the series id in cache,
// made and kept on first use while the cache is under maxCached bytes.
func cacheText(cache *[]string, size *int, id int32, build func() string) string {
	c := *cache
	if int(id) < len(c) && c[id] != "" {
		return c[id]
	}
	s := build()
	if *size+len(s) > maxCached {
		return s
	}
	for int(id) >= len(c) {
		c = append(c, "")
	}
	c[id] = s
	*cache = c
	*size += len(s)
	return s
}

// promFormatter writes the Prometheus text exposition format: # HELP and
// # TYPE of every family once at the top, then for each second the
// changed series with cumulative values and millisecond timestamps.
type promFormatter struct {
	// Kept by prepare, by series id.
	size    int
	reqs    []string  // `{…} `: the labels of the requests and bytes lines
	hists   []string  // the heads of the histogram's lines, one after the other
	refs    []string  // `http_requests_by_referer_total{…} `
	jobText [2]string // the heads of MetricInvalid and MetricCapped
	labels  []byte
	// les are `,le="0.005"} ` … `,le="+Inf"} `, and histFixed the length
	// of a histogram's heads without their labels.
	les       []string
	histFixed int
	ts        []byte // " 1633873130000\n"
	zts       []byte // "0" and ts
	vts       []byte // a value and ts
}

func (p *promFormatter) header(dst []byte, referers bool) []byte {
	for _, f := range familyInfo(referers) {
		dst = fmt.Appendf(dst, "# HELP %s %s\n# TYPE %s %s\n", f.Name, f.Help, f.Name, f.Type)
	}
	return dst
}

// appendPromValue appends a label value escaped for the text format.
func appendPromValue(b []byte, v string) []byte {
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

func appendPromLabels(b []byte, pairs ...string) []byte {
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, pairs[i]...)
		b = append(b, '=', '"')
		b = appendPromValue(b, pairs[i+1])
		b = append(b, '"')
	}
	return b
}

// head returns `name{labels} `; name may be empty.
func (p *promFormatter) head(name string, pairs ...string) string {
	b := append(p.labels[:0], name...)
	b = append(b, '{')
	b = appendPromLabels(b, pairs...)
	b = append(b, '}', ' ')
	p.labels = b
	return string(b)
}

// histHeads returns the heads of a histogram's bucket lines, then of its
// _sum and _count lines, one after the other.
func (p *promFormatter) histHeads(job string, h *snapHist) string {
	b := append(p.labels[:0], MetricDuration...)
	b = append(b, "_bucket{"...)
	b = appendPromLabels(b, "job", job, "method", h.method, "path", h.path)
	lbl := string(b[len(MetricDuration)+len("_bucket{"):])
	b = append(b, p.les[0]...)
	for _, le := range p.les[1:] {
		b = append(b, MetricDuration+"_bucket{"...)
		b = append(b, lbl...)
		b = append(b, le...)
	}
	for _, suffix := range []string{"_sum{", "_count{"} {
		b = append(b, MetricDuration...)
		b = append(b, suffix...)
		b = append(b, lbl...)
		b = append(b, '}', ' ')
	}
	p.labels = b
	return string(b)
}

// setBounds makes p.les and p.histFixed on first use.
func (p *promFormatter) setBounds(bounds []float64) {
	if p.les != nil {
		return
	}
	for _, ub := range bounds {
		p.les = append(p.les, `,le="`+formatBound(ub)+`"} `)
	}
	p.les = append(p.les, `,le="+Inf"} `)
	p.histFixed = len(MetricDuration+"_sum{} ") + len(MetricDuration+"_count{} ")
	for _, le := range p.les {
		p.histFixed += len(MetricDuration+"_bucket{") + len(le)
	}
}

func (p *promFormatter) prepare(s *snapshot) {
	p.setBounds(s.bounds)
	for i := range s.reqs {
		r := &s.reqs[i]
		// The labels only: the requests and the bytes lines share them.
		r.text = cacheText(&p.reqs, &p.size, r.id, func() string {
			return p.head("", "job", s.job, "method", r.method, "path", r.path, "status", r.status)
		})
	}
	for i := range s.hists {
		h := &s.hists[i]
		h.text = cacheText(&p.hists, &p.size, h.id, func() string { return p.histHeads(s.job, h) })
	}
	for i := range s.refs {
		r := &s.refs[i]
		r.text = cacheText(&p.refs, &p.size, r.id, func() string {
			return p.head(MetricReferer, "job", s.job, "path", r.path, "referer_host", r.host)
		})
	}
	if p.jobText[0] == "" {
		p.jobText = [2]string{p.head(MetricInvalid, "job", s.job), p.head(MetricCapped, "job", s.job)}
	}
	s.jobText = p.jobText
}

// valueTs returns the text of v followed by p.ts, valid until the next call.
func (p *promFormatter) valueTs(v uint64) []byte {
	p.vts = appendUint(p.vts[:0], v)
	p.vts = append(p.vts, p.ts...)
	return p.vts
}

func (p *promFormatter) format(dst []byte, s *snapshot) []byte {
	p.setBounds(s.bounds)
	p.ts = p.ts[:0]
	if s.time != 0 {
		p.ts = append(p.ts, ' ')
		p.ts = strconv.AppendInt(p.ts, s.time*1000, 10)
	}
	p.ts = append(p.ts, '\n')
	p.zts = append(append(p.zts[:0], '0'), p.ts...)
	for i := range s.reqs {
		if s.sections&secReqs == 0 {
			break
		}
		r := &s.reqs[i]
		dst = append(dst, MetricRequests...)
		dst = append(dst, r.text...)
		dst = appendUint(dst, r.requests)
		dst = append(dst, p.ts...)
	}
	nb := len(s.bounds) + 1
	for i := range s.hists {
		h := &s.hists[i]
		heads := h.text
		// The length of the labels, from that of the fixed parts.
		lbl := (len(heads) - p.histFixed) / (nb + 2)
		// Cumulative counts repeat (every bucket above the longest
		// duration holds the total): their text is made once.
		var cum uint64
		vts := p.zts
		start := 0
		for j, n := range s.counts[i*nb : (i+1)*nb] {
			if n != 0 {
				cum += n
				vts = p.valueTs(cum)
			}
			end := start + len(MetricDuration+"_bucket{") + lbl + len(p.les[j])
			dst = append(dst, heads[start:end]...)
			dst = append(dst, vts...)
			start = end
		}
		end := start + len(MetricDuration+"_sum{} ") + lbl
		dst = append(dst, heads[start:end]...)
		dst = appendSeconds(dst, h.sum)
		dst = append(dst, p.ts...)
		dst = append(dst, heads[end:]...)
		if h.count != cum {
			vts = p.valueTs(h.count)
		}
		dst = append(dst, vts...)
	}
	for i := range s.reqs {
		if r := &s.reqs[i]; s.sections&secBytes != 0 && r.bytesChanged() {
			dst = append(dst, MetricBytes...)
			dst = append(dst, r.text...)
			dst = appendUint(dst, r.bytes)
			dst = append(dst, p.ts...)
		}
	}
	for i := range s.refs {
		r := &s.refs[i]
		dst = append(dst, r.text...)
		dst = append(dst, p.valueTs(r.requests)...)
	}
	if s.sections&secJob == 0 {
		return dst
	}
	if s.invalidDelta > 0 {
		dst = append(dst, s.jobText[0]...)
		dst = append(dst, p.valueTs(s.invalid)...)
	}
	if s.cappedDelta > 0 {
		dst = append(dst, s.jobText[1]...)
		dst = append(dst, p.valueTs(s.capped)...)
	}
	return dst
}

// appendSeconds appends microseconds as seconds: 5000 → "0.005". It
// writes what strconv.AppendFloat(float64(us)/1e6, 'f', -1, 64) does:
// below 10^15 µs the shortest decimal that reads back as that float is the
// exact quotient, whose digits need no float formatting.
func appendSeconds(b []byte, us int64) []byte {
	if us < 0 || us >= 1e15 {
		return strconv.AppendFloat(b, float64(us)/1e6, 'f', -1, 64)
	}
	b = appendUint(b, uint64(us/1e6))
	frac := us % 1e6
	if frac == 0 {
		return b
	}
	var d [7]byte
	d[0] = '.'
	for i := 6; i >= 1; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 7
	for d[n-1] == '0' {
		n--
	}
	return append(b, d[:n]...)
}

// tsdbFormatter writes the seed's OpenTSDB lines (without "put"): per
// second, the deltas of that second.
//
//	nginx.log.status <ts> <requests> req_path=<path> http_status=<status>
//	nginx.log.bytes <ts> <bytes> req_path=<path> http_status=<status>
//	nginx.log.elapsed.time <ts> <mean seconds> req_path=<path>
//	nginx.log.referer <ts> <requests> req_path=<path> referer_host=<host>
//	nginx.log.invalid <ts> <lines> job=<job>
//	nginx.log.capped <ts> <lines> job=<job>
//
// Requests and bytes add up per (path, status) group, durations per path.
type tsdbFormatter struct {
	now func() time.Time
	// Kept by prepare.
	tags     map[string]string // label value → tag value
	groupIDs map[uint64]int32  // (path id, status) → group
	groupOf  []int32           // by request series id: group+1
	groupTag []string          // by group: " req_path=… http_status=…\n"
	size     int
	pathTag  []string // by path id: " req_path=…\n"
	refTag   []string // by referer series id: " req_path=… referer_host=…\n"
	jobTag   string   // " job=…\n"
	// Per snapshot: the stamp of the snapshot a group or path was last
	// added up in, and its place in acc.
	stamp     uint64
	groupSeen []uint64
	groupAcc  []int32
	pathSeen  []uint64
	pathAcc   []int32
	acc       []tsdbAcc
	head      []byte
	buf       []byte
}

type tsdbAcc struct {
	tag      string
	n, bytes uint64
	sum      int64
}

func (t *tsdbFormatter) header(dst []byte, _ bool) []byte { return dst }

// tag returns v as an OpenTSDB tag value: characters other than letters,
// digits and - _ . / become _, so /article/{id} is /article/_id_.
func (t *tsdbFormatter) tag(v string) string {
	if s, ok := t.tags[v]; ok {
		return s
	}
	b := make([]byte, 0, len(v))
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '/':
			b = append(b, byte(r))
		case r >= utf8.RuneSelf && r != utf8.RuneError && isLetter(r):
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

func isLetter(r rune) bool {
	return r >= 0xAC00 && r <= 0xD7A3 || r >= 0x3040 && r <= 0x30FF || r >= 0x4E00 && r <= 0x9FFF || r >= 0xC0 && r <= 0x24F
}

// tagText returns " k1=tag(v1) k2=tag(v2)…\n".
func (t *tsdbFormatter) tagText(pairs ...string) string {
	b := t.buf[:0]
	for i := 0; i < len(pairs); i += 2 {
		b = append(b, ' ')
		b = append(b, pairs[i]...)
		b = append(b, '=')
		b = append(b, t.tag(pairs[i+1])...)
	}
	b = append(b, '\n')
	t.buf = b
	return string(b)
}

// tsdbLine appends `<head><v><tags>`; head is "metric ts ".
func tsdbLine(dst, head, v []byte, tags string) []byte {
	dst = append(dst, head...)
	dst = append(dst, v...)
	return append(dst, tags...)
}

// setHead sets t.head to "metric ts ".
func (t *tsdbFormatter) setHead(metric string, ts int64) []byte {
	t.head = append(t.head[:0], metric...)
	t.head = append(t.head, ' ')
	t.head = strconv.AppendInt(t.head, ts, 10)
	t.head = append(t.head, ' ')
	return t.head
}

// group returns the (path, status) group of request series r, making it
// on first sight.
func (t *tsdbFormatter) group(r *snapReq) int32 {
	if int(r.id) < len(t.groupOf) && t.groupOf[r.id] != 0 {
		return t.groupOf[r.id] - 1
	}
	key := uint64(r.pathID)<<10 | uint64(r.code)
	g, ok := t.groupIDs[key]
	if !ok {
		g = int32(len(t.groupTag))
		t.groupIDs[key] = g
		t.groupTag = append(t.groupTag, t.tagText("req_path", r.path, "http_status", r.status))
	}
	for int(r.id) >= len(t.groupOf) {
		t.groupOf = append(t.groupOf, 0)
	}
	t.groupOf[r.id] = g + 1
	return g
}

func (t *tsdbFormatter) prepare(s *snapshot) {
	if s.time == 0 {
		s.now = t.now().Unix()
	}
	for i := range s.reqs {
		r := &s.reqs[i]
		r.group = t.group(r)
		r.text = t.groupTag[r.group]
	}
	for i := range s.hists {
		h := &s.hists[i]
		h.text = cacheText(&t.pathTag, &t.size, h.pathID, func() string { return t.tagText("req_path", h.path) })
	}
	for i := range s.refs {
		r := &s.refs[i]
		r.text = cacheText(&t.refTag, &t.size, r.id, func() string { return t.tagText("req_path", r.path, "referer_host", r.host) })
	}
	if t.jobTag == "" && (s.invalidDelta > 0 || s.cappedDelta > 0) {
		t.jobTag = t.tagText("job", s.job)
	}
	s.jobText[0] = t.jobTag
}

// grow makes sure seen and acc hold index i.
func grow(seen *[]uint64, acc *[]int32, i int32) {
	for int(i) >= len(*seen) {
		*seen = append(*seen, 0)
		*acc = append(*acc, 0)
	}
}

func (t *tsdbFormatter) format(dst []byte, s *snapshot) []byte {
	ts := s.time
	if ts == 0 {
		ts = s.now
	}
	var num [32]byte
	t.stamp++
	t.acc = t.acc[:0]
	for i := range s.reqs {
		r := &s.reqs[i]
		g := r.group
		grow(&t.groupSeen, &t.groupAcc, g)
		if t.groupSeen[g] != t.stamp {
			t.groupSeen[g] = t.stamp
			t.groupAcc[g] = int32(len(t.acc))
			t.acc = append(t.acc, tsdbAcc{tag: r.text})
		}
		a := &t.acc[t.groupAcc[g]]
		a.n += r.requests - r.prevRequests
		a.bytes += r.bytes - r.prevBytes
	}
	head := t.setHead("nginx.log.status", ts)
	for _, g := range t.acc {
		dst = tsdbLine(dst, head, appendUint(num[:0], g.n), g.tag)
	}
	head = t.setHead("nginx.log.bytes", ts)
	for _, g := range t.acc {
		dst = tsdbLine(dst, head, appendUint(num[:0], g.bytes), g.tag)
	}
	t.stamp++
	t.acc = t.acc[:0]
	for i := range s.hists {
		h := &s.hists[i]
		grow(&t.pathSeen, &t.pathAcc, h.pathID)
		if t.pathSeen[h.pathID] != t.stamp {
			t.pathSeen[h.pathID] = t.stamp
			t.pathAcc[h.pathID] = int32(len(t.acc))
			t.acc = append(t.acc, tsdbAcc{tag: h.text})
		}
		a := &t.acc[t.pathAcc[h.pathID]]
		a.n += h.count - h.prevCount
		a.sum += h.sum - h.prevSum
	}
	head = t.setHead("nginx.log.elapsed.time", ts)
	for _, g := range t.acc {
		if g.n > 0 {
			mean := int64(math.Round(float64(g.sum) / float64(g.n)))
			dst = tsdbLine(dst, head, appendSeconds(num[:0], mean), g.tag)
		}
	}
	if len(s.refs) > 0 {
		head = t.setHead("nginx.log.referer", ts)
		for i := range s.refs {
			r := &s.refs[i]
			dst = tsdbLine(dst, head, appendUint(num[:0], r.requests-r.prevRequests), r.text)
		}
	}
	if s.invalidDelta > 0 {
		dst = tsdbLine(dst, t.setHead("nginx.log.invalid", ts), appendUint(num[:0], s.invalidDelta), s.jobText[0])
	}
	if s.cappedDelta > 0 {
		dst = tsdbLine(dst, t.setHead("nginx.log.capped", ts), appendUint(num[:0], s.cappedDelta), s.jobText[0])
	}
	return dst
}

// jsonFormatter writes one JSON object per changed series and second,
// with cumulative values:
//
//	{"ts":1633873130,"metric":"http_requests_total","labels":{"job":"access",…},"value":42}
//	{"ts":1633873130,"metric":"http_request_duration_seconds","labels":{…},"count":3,"sum":0.015,"buckets":{"0.005":1,…,"+Inf":3}}
//
// With native histograms, a duration object also has
//
//	"native":{"schema":3,"zero_threshold":2.938735877055719e-39,"zero_count":0,"count":3,"sum":0.015,"buckets":[[-61,1],[-60,2]]}
//
// whose buckets are [index, count] pairs (not cumulative): bucket i holds
// the durations in (2^((i-1)/2^schema), 2^(i/2^schema)] seconds.
type jsonFormatter struct {
	// Kept by prepare, by series id.
	size  int
	reqs  []string  // by series id: `","labels":{…},"value":`, after the requests or bytes name
	hists []string  // `http_request_duration_seconds","labels":{…},"count":`
	refs  []string  // `http_requests_by_referer_total","labels":{…},"value":`
	jobs  [2]string // the middles of MetricInvalid and MetricCapped
	keys  []string  // `,"sum":` then `,"buckets":{"0.005":` … `,"+Inf":`
	ts    []byte    // `{"ts":1633873130,"metric":"`
	buf   []byte
}

func (j *jsonFormatter) header(dst []byte, _ bool) []byte { return dst }

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
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

// mid returns `metric","labels":{…}` + after; metric may be empty.
func (j *jsonFormatter) mid(metric, after string, pairs ...string) string {
	b := append(j.buf[:0], metric...)
	b = append(b, `","labels":{`...)
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, pairs[i])
		b = append(b, ':')
		b = appendJSONString(b, pairs[i+1])
	}
	b = append(b, '}')
	b = append(b, after...)
	j.buf = b
	return string(b)
}

// value appends an object whose middle is metric and mid and whose value
// is v.
func (j *jsonFormatter) value(dst []byte, metric, mid string, v uint64) []byte {
	dst = append(dst, j.ts...)
	dst = append(dst, metric...)
	dst = append(dst, mid...)
	dst = appendUint(dst, v)
	return append(dst, '}', '\n')
}

func (j *jsonFormatter) prepare(s *snapshot) {
	for i := range s.reqs {
		r := &s.reqs[i]
		r.text = cacheText(&j.reqs, &j.size, r.id, func() string {
			return j.mid("", `,"value":`, "job", s.job, "method", r.method, "path", r.path, "status", r.status)
		})
	}
	for i := range s.hists {
		h := &s.hists[i]
		h.text = cacheText(&j.hists, &j.size, h.id, func() string {
			return j.mid(MetricDuration, `,"count":`, "job", s.job, "method", h.method, "path", h.path)
		})
	}
	for i := range s.refs {
		r := &s.refs[i]
		r.text = cacheText(&j.refs, &j.size, r.id, func() string {
			return j.mid(MetricReferer, `,"value":`, "job", s.job, "path", r.path, "referer_host", r.host)
		})
	}
	if j.jobs[0] == "" {
		j.jobs = [2]string{j.mid(MetricInvalid, `,"value":`, "job", s.job), j.mid(MetricCapped, `,"value":`, "job", s.job)}
	}
	s.jobText = j.jobs
}

func (j *jsonFormatter) format(dst []byte, s *snapshot) []byte {
	if j.keys == nil {
		j.keys = append(j.keys, `,"sum":`)
		for i, ub := range s.bounds {
			k := `,"`
			if i == 0 {
				k = `,"buckets":{"`
			}
			j.keys = append(j.keys, k+strconv.FormatFloat(ub, 'g', -1, 64)+`":`)
		}
		if len(s.bounds) == 0 {
			j.keys = append(j.keys, `,"buckets":{"+Inf":`)
		} else {
			j.keys = append(j.keys, `,"+Inf":`)
		}
	}
	j.ts = append(j.ts[:0], `{"ts":`...)
	if s.time == 0 {
		j.ts = append(j.ts, "null"...)
	} else {
		j.ts = strconv.AppendInt(j.ts, s.time, 10)
	}
	j.ts = append(j.ts, `,"metric":"`...)
	for i := range s.reqs {
		if s.sections&secReqs == 0 {
			break
		}
		r := &s.reqs[i]
		dst = j.value(dst, MetricRequests, r.text, r.requests)
	}
	nb := len(s.bounds) + 1
	for i := range s.hists {
		h := &s.hists[i]
		dst = append(dst, j.ts...)
		dst = append(dst, h.text...)
		dst = appendUint(dst, h.count)
		dst = append(dst, j.keys[0]...)
		dst = appendSeconds(dst, h.sum)
		var cum uint64
		for k, n := range s.counts[i*nb : (i+1)*nb] {
			cum += n
			dst = append(dst, j.keys[k+1]...)
			dst = appendUint(dst, cum)
		}
		dst = append(dst, '}')
		if h.native {
			dst = appendNative(dst, h, s.native[h.nFrom:h.nTo])
		}
		dst = append(dst, '}', '\n')
	}
	for i := range s.reqs {
		if r := &s.reqs[i]; s.sections&secBytes != 0 && r.bytesChanged() {
			dst = j.value(dst, MetricBytes, r.text, r.bytes)
		}
	}
	for i := range s.refs {
		r := &s.refs[i]
		dst = j.value(dst, "", r.text, r.requests)
	}
	if s.sections&secJob == 0 {
		return dst
	}
	if s.invalidDelta > 0 {
		dst = j.value(dst, "", s.jobText[0], s.invalid)
	}
	if s.cappedDelta > 0 {
		dst = j.value(dst, "", s.jobText[1], s.capped)
	}
	return dst
}

// appendNative appends the "native" member of a duration object.
func appendNative(dst []byte, h *snapHist, buckets []NativeBucket) []byte {
	dst = append(dst, `,"native":{"schema":`...)
	dst = strconv.AppendInt(dst, int64(h.nSchema), 10)
	dst = append(dst, `,"zero_threshold":`...)
	dst = strconv.AppendFloat(dst, NativeZeroThreshold, 'g', -1, 64)
	dst = append(dst, `,"zero_count":`...)
	dst = appendUint(dst, h.nZero)
	dst = append(dst, `,"count":`...)
	dst = appendUint(dst, h.nCount)
	dst = append(dst, `,"sum":`...)
	dst = appendSeconds(dst, h.nSum)
	dst = append(dst, `,"buckets":[`...)
	for i, b := range buckets {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, int64(b.Index), 10)
		dst = append(dst, ',')
		dst = appendUint(dst, b.Count)
		dst = append(dst, ']')
	}
	return append(dst, ']', '}')
}

// appendUint appends the decimal digits of v, as strconv.AppendUint does
// but straight into b, two digits at a time.
func appendUint(b []byte, v uint64) []byte {
	if v < 10 {
		return append(b, byte('0'+v))
	}
	n := bits.Len64(v)*1233>>12 + 1 // digits, or one more
	if v < pow10[n-1] {
		n--
	}
	l := len(b)
	b = slices.Grow(b, n)[:l+n]
	i := l + n
	for v >= 100 {
		q := v / 100
		r := v - q*100
		i -= 2
		b[i], b[i+1] = digitPairs[2*r], digitPairs[2*r+1]
		v = q
	}
	if v >= 10 {
		b[i-2], b[i-1] = digitPairs[2*v], digitPairs[2*v+1]
	} else {
		b[i-1] = byte('0' + v)
	}
	return b
}

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"
