package logs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"

	"github.com/dandan-sre/dandan/internal/logs/format"
)

// DefaultBuckets are the upper bounds, in seconds, of the duration
// histogram: Prometheus's defaults.
func DefaultBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// Config says how an Aggregator reads lines and what it counts.
type Config struct {
	Job    string         // the job label; "access" when empty
	Format *format.Format // how lines are written; required
	// Rules map paths to templates, first match wins, before the
	// automatic collapse of ID-like segments (when AutoTemplate is set).
	Rules        []Rule
	AutoTemplate bool
	// MaxPaths caps the distinct path templates; later ones count as
	// path="other" and in dandan_log_paths_capped_total. 1000 when zero.
	MaxPaths int
	// Buckets are the duration histogram's upper bounds in seconds,
	// increasing; DefaultBuckets when nil.
	Buckets []float64
	// NativeHistograms makes each duration series also keep a Prometheus
	// native histogram (NativeHistogram), next to its classic buckets.
	// NativeBucketFactor sets its resolution, as client_golang's
	// NativeHistogramBucketFactor does (DefaultNativeBucketFactor when 0:
	// schema 3); past NativeMaxBuckets populated buckets
	// (DefaultNativeMaxBuckets when 0) its buckets double in width.
	NativeHistograms   bool
	NativeBucketFactor float64
	NativeMaxBuckets   int
	// Referers turns on http_requests_by_referer_total, with at most
	// MaxReferers hosts (100 when zero), the rest as "other".
	Referers    bool
	MaxReferers int
	// TopClients is the number of counters of the top-clients sketch;
	// 0 turns it off. More counters give exacter counts for the top few.
	TopClients int
	// Emit, when set, is called with the series that changed in each
	// second of log time, when the log moves past that second and on Flush.
	Emit func(*Batch) error
}

// DefaultConfig returns the defaults of `dandan logs parse`.
func DefaultConfig() Config {
	return Config{Job: "access", AutoTemplate: true, MaxPaths: 1000, MaxReferers: 100, TopClients: 1000}
}

// maxMethods caps the distinct methods; later ones count as "other".
const maxMethods = 24

// RequestSeries is one series of http_requests_total and
// http_response_bytes_total: the cumulative counts of a path, method and
// status.
type RequestSeries struct {
	Path, Method, Status string
	Requests, Bytes      uint64
	id                   int32
	dirty                bool
	prevRequests         uint64
	prevBytes            uint64
	hist                 *DurationSeries
	pathID               int32
	code                 int
	key                  uint64 // path, method and status, as in Aggregator.reqs
}

// RequestsDelta returns the requests counted since the previous Batch.
func (s *RequestSeries) RequestsDelta() uint64 { return s.Requests - s.prevRequests }

// BytesDelta returns the bytes counted since the previous Batch.
func (s *RequestSeries) BytesDelta() uint64 { return s.Bytes - s.prevBytes }

// DurationSeries is one series of the http_request_duration_seconds
// histogram: the durations of a path and method.
type DurationSeries struct {
	Path, Method string
	Count        uint64
	SumMicros    int64
	// Buckets counts durations per bucket, not cumulative; the last is +Inf.
	Buckets    []uint64
	id         int32
	dirty      bool
	prevCount  uint64
	prevSum    int64
	prevBucket []uint64
	pathID     int32
	native     *nativeHist // with Config.NativeHistograms
}

// CountDelta and SumMicrosDelta return the changes since the previous Batch.
func (s *DurationSeries) CountDelta() uint64 { return s.Count - s.prevCount }

// SumMicrosDelta returns the duration added since the previous Batch.
func (s *DurationSeries) SumMicrosDelta() int64 { return s.SumMicros - s.prevSum }

// RefererSeries is one series of http_requests_by_referer_total.
type RefererSeries struct {
	Path, Host   string
	Requests     uint64
	id           int32
	dirty        bool
	prevRequests uint64
}

// RequestsDelta returns the requests counted since the previous Batch.
func (s *RefererSeries) RequestsDelta() uint64 { return s.Requests - s.prevRequests }

// Batch is what changed in one second of log time, given to Config.Emit.
// Its slices and series belong to the Aggregator: read them during Emit
// only. Series are in the order they were first seen.
type Batch struct {
	Job  string
	Time int64 // unix seconds; 0 when no line had a valid time yet
	// The series that changed, with cumulative values and deltas.
	Requests  []*RequestSeries
	Durations []*DurationSeries
	Referers  []*RefererSeries
	// Invalid and Capped are the cumulative dandan_log_lines_invalid_total
	// and dandan_log_paths_capped_total; the deltas are what this second
	// added (0: unchanged).
	Invalid, InvalidDelta uint64
	Capped, CappedDelta   uint64
	// BucketBounds are the histogram's upper bounds in seconds, +Inf excluded.
	BucketBounds []float64
}

// Aggregator parses lines and counts them. It is not safe for concurrent
// use: run one per goroutine over separate chunks and Merge them.
type Aggregator struct {
	cfg     Config
	p       *format.Parser
	fields  format.Fields
	paths   *paths
	methods []string
	// methodKeys are the methodKey of each method, to find them fast.
	methodKeys []uint64
	statusS    [1000]string
	bounds     []int64 // bucket bounds in microseconds
	boundsS    []float64
	// The native histograms' first schema and bucket cap.
	nativeSchema int32
	nativeMax    int

	reqs  map[uint64]*RequestSeries
	hists map[uint64]*DurationSeries
	refs  map[uint64]*RefererSeries
	reqL  []*RequestSeries
	histL []*DurationSeries
	refL  []*RefererSeries
	hosts *hostTable
	top   *topK

	lines, invalid, cappedN uint64
	prevInvalid, prevCapN   uint64
	sec                     int64
	minSec                  int64

	// lastReq is, per path id, the request series its latest line
	// counted in: most lines of a path repeat its method and status, and
	// this spares them the map lookup.
	lastReq []*RequestSeries

	// The series changed in the current second, by id (sorted at emit, so
	// that a batch lists them in the order they were first seen).
	dirtyReqID  []int32
	dirtyHistID []int32
	dirtyRefID  []int32
	dirtyReq    []*RequestSeries
	dirtyHist   []*DurationSeries
	dirtyRef    []*RefererSeries
	idBits      []uint64 // sortIDs's bitmap, zero between calls
	batch       Batch
	emitErr     error
}

// New returns an Aggregator for cfg.
func New(cfg Config) (*Aggregator, error) {
	if cfg.Format == nil {
		return nil, errors.New("no log format")
	}
	if cfg.Job == "" {
		cfg.Job = "access"
	}
	if cfg.MaxPaths <= 0 {
		cfg.MaxPaths = 1000
	}
	if cfg.MaxReferers <= 0 {
		cfg.MaxReferers = 100
	}
	if cfg.Buckets == nil {
		cfg.Buckets = DefaultBuckets()
	}
	a := &Aggregator{
		cfg:   cfg,
		p:     cfg.Format.NewParser(),
		paths: newPaths(cfg.Rules, cfg.AutoTemplate, cfg.MaxPaths),
		reqs:  map[uint64]*RequestSeries{},
		hists: map[uint64]*DurationSeries{},
		refs:  map[uint64]*RefererSeries{},
		hosts: newHostTable(cfg.MaxReferers),
	}
	if err := checkBuckets(cfg.Buckets); err != nil {
		return nil, err
	}
	for _, b := range cfg.Buckets {
		a.bounds = append(a.bounds, int64(math.Round(b*1e6)))
	}
	a.boundsS = slices.Clone(cfg.Buckets)
	if cfg.NativeHistograms {
		if cfg.NativeBucketFactor == 0 {
			cfg.NativeBucketFactor = DefaultNativeBucketFactor
		}
		if cfg.NativeMaxBuckets == 0 {
			cfg.NativeMaxBuckets = DefaultNativeMaxBuckets
		}
		schema, err := NativeSchema(cfg.NativeBucketFactor)
		if err != nil {
			return nil, err
		}
		if cfg.NativeMaxBuckets < 3 {
			return nil, fmt.Errorf("native histogram max buckets %d: must be at least 3", cfg.NativeMaxBuckets)
		}
		a.cfg, a.nativeSchema, a.nativeMax = cfg, schema, cfg.NativeMaxBuckets
	}
	if cfg.TopClients > 0 {
		a.top = newTopK(cfg.TopClients)
	}
	return a, nil
}

// checkBuckets checks histogram bounds: positive, finite, increasing, and
// distinct at microsecond resolution.
func checkBuckets(bs []float64) error {
	if len(bs) == 0 {
		return errors.New("no buckets")
	}
	for i, b := range bs {
		if math.IsNaN(b) || b < 1e-6 || math.IsInf(b, 0) || i > 0 && math.Round(b*1e6) <= math.Round(bs[i-1]*1e6) {
			return fmt.Errorf("bucket %v: bounds must be at least 0.000001 s, finite and increasing", b)
		}
	}
	return nil
}

// Job returns the job label of a.
func (a *Aggregator) Job() string { return a.cfg.Job }

// Line parses one line, without its newline, and counts it. It returns
// false for a line that does not match the format (Err says why); that
// line counts in dandan_log_lines_invalid_total. A line whose time is
// before the latest second seen counts in that latest second, so that
// samples never go back in time (Apache logs the time a request started,
// so its lines are a little out of order). Line returns the error of
// Config.Emit, if any, through Err as well.
func (a *Aggregator) Line(line []byte) bool {
	a.lines++
	if !a.p.Parse(line, &a.fields) {
		a.invalid++
		return false
	}
	a.count(&a.fields)
	return true
}

// count counts the fields of a valid line (Line has counted it as read).
func (a *Aggregator) count(f *format.Fields) {
	a.advance(f.Time)
	var pathID int32
	var method int
	if len(f.Target) == 0 || len(f.Method) == 0 && f.Target[0] != '/' {
		pathID, method = a.paths.otherID(), a.methodID(nil)
	} else {
		var c bool
		pathID, c = a.paths.id(f.Target)
		if c {
			a.cappedN++
		}
		method = a.methodID(f.Method)
	}
	a.add(f, pathID, method, 0)
}

// How a line's path was templated before countTemplated.
const (
	pathOther    = iota // no path or a malformed request line: path and method "other"
	pathEmpty           // a request target without a path: path "other"
	pathTemplate        // a template, of a raw path with the given hash
)

// countTemplated is count for a line whose path was templated already
// (by paths.template, with no rules: see pipeline): kind says how, tmpl
// is the template, th its templateHash and h the pathHash of the raw
// path, counted already among the distinct paths when seen; ch is the
// clientHash of f.Client. It counts exactly as count does.
func (a *Aggregator) countTemplated(f *format.Fields, kind uint8, tmpl []byte, th, h, ch uint64, seen bool) {
	a.advance(f.Time)
	var pathID int32
	var method int
	switch kind {
	case pathOther:
		pathID, method = a.paths.otherID(), a.methodID(nil)
	case pathEmpty:
		pathID, method = a.paths.otherID(), a.methodID(f.Method)
	default:
		if !seen {
			a.paths.seen.addHash(h)
		}
		v := a.paths.internHashed(tmpl, th)
		if v&capped != 0 {
			a.cappedN++
		}
		pathID, method = v&^capped, a.methodID(f.Method)
	}
	a.add(f, pathID, method, ch)
}

// advance moves to the second t when it is later than the current one,
// emitting the current one.
func (a *Aggregator) advance(t int64) {
	if t > a.sec {
		if a.sec != 0 {
			a.emit()
		}
		a.sec = t
		if a.minSec == 0 {
			a.minSec = t
		}
	}
}

// add counts a valid line under its path and method; ch is the
// clientHash of f.Client, or 0 to have it computed.
func (a *Aggregator) add(f *format.Fields, pathID int32, method int, ch uint64) {
	key := uint64(pathID)<<20 | uint64(method)<<10 | uint64(f.Status)
	var s *RequestSeries
	if int(pathID) < len(a.lastReq) {
		if s = a.lastReq[pathID]; s != nil && s.key != key {
			s = nil
		}
	}
	if s == nil {
		if s = a.reqs[key]; s == nil {
			s = a.newRequestSeries(key, pathID, method, f.Status)
		}
		for int(pathID) >= len(a.lastReq) {
			a.lastReq = append(a.lastReq, nil)
		}
		a.lastReq[pathID] = s
	}
	s.Requests++
	s.Bytes += uint64(f.Bytes)
	if !s.dirty {
		s.dirty = true
		a.dirtyReqID = append(a.dirtyReqID, s.id)
	}
	if f.Duration >= 0 {
		h := s.hist
		i := 0
		for i < len(a.bounds) && f.Duration > a.bounds[i] {
			i++
		}
		h.Buckets[i]++
		h.Count++
		h.SumMicros += f.Duration
		if h.native != nil {
			h.native.observe(f.Duration, a.nativeMax)
		}
		if !h.dirty {
			h.dirty = true
			a.dirtyHistID = append(a.dirtyHistID, h.id)
		}
	}
	if a.cfg.Referers {
		a.countReferer(pathID, f.Referer)
	}
	if a.top != nil && len(f.Client) > 0 {
		if ch == 0 {
			ch = clientHash(f.Client)
		}
		a.top.addHashed(f.Client, ch)
	}
}

// Err says why the last line given to Line was invalid, naming the field:
// `bad status "2x0"`. It is nil after a valid line. The message is built
// only when Err is called.
func (a *Aggregator) Err() error { return a.p.Err() }

// SkipLine counts a line that the caller could not hand over whole (one
// longer than its buffer) as read and invalid.
func (a *Aggregator) SkipLine() {
	a.lines++
	a.invalid++
}

// EmitErr returns the first error Config.Emit returned.
func (a *Aggregator) EmitErr() error { return a.emitErr }

func (a *Aggregator) methodID(m []byte) int {
	// Methods of up to 8 bytes compare as words.
	if n := len(m); n > 0 && n <= 8 {
		k := methodKey(m)
		for i, v := range a.methodKeys {
			if v == k && len(a.methods[i]) == n {
				return i
			}
		}
	} else {
		for i, s := range a.methods {
			if s == string(m) {
				return i
			}
		}
	}
	if len(m) == 0 || len(a.methods) >= maxMethods-1 {
		for i, s := range a.methods {
			if s == Other {
				return i
			}
		}
		return a.addMethod(Other)
	}
	return a.addMethod(string(m))
}

func (a *Aggregator) addMethod(m string) int {
	a.methods = append(a.methods, m)
	a.methodKeys = append(a.methodKeys, methodKey([]byte(m)))
	return len(a.methods) - 1
}

// methodKey packs the first 8 bytes of a method into a word.
func methodKey(m []byte) uint64 {
	if cap(m) >= 8 {
		// One load: the bytes past the method (in the line) masked off.
		k := binary.LittleEndian.Uint64(m[:8])
		if len(m) < 8 {
			k &= 1<<(8*len(m)) - 1
		}
		return k
	}
	var k uint64
	for i, c := range m {
		k |= uint64(c) << (8 * i)
	}
	return k
}

func (a *Aggregator) status(code int) string {
	if a.statusS[code] == "" {
		a.statusS[code] = fmt.Sprintf("%03d", code)
	}
	return a.statusS[code]
}

func (a *Aggregator) newRequestSeries(key uint64, pathID int32, method, status int) *RequestSeries {
	s := &RequestSeries{Path: a.paths.names[pathID], Method: a.methods[method], Status: a.status(status),
		id: int32(len(a.reqL)), pathID: pathID, code: status, key: key}
	h := a.hists[uint64(pathID)<<20|uint64(method)<<10]
	if h == nil {
		h = a.newHist(pathID, method)
	}
	s.hist = h
	a.reqs[key] = s
	a.reqL = append(a.reqL, s)
	return s
}

func (a *Aggregator) countReferer(pathID int32, ref []byte) {
	host := a.hosts.id(refererHost(ref))
	key := uint64(pathID)<<32 | uint64(host)
	s := a.refs[key]
	if s == nil {
		s = &RefererSeries{Path: a.paths.names[pathID], Host: a.hosts.names[host], id: int32(len(a.refL))}
		a.refs[key] = s
		a.refL = append(a.refL, s)
	}
	s.Requests++
	if !s.dirty {
		s.dirty = true
		a.dirtyRefID = append(a.dirtyRefID, s.id)
	}
}

// Flush emits the series changed in the current second. Call it at the
// end of the input, or when a live tailer has seen no line for a while.
// It returns the first error of Config.Emit.
func (a *Aggregator) Flush() error {
	a.emit()
	return a.emitErr
}

// emit hands the changed series to Config.Emit and marks them clean.
func (a *Aggregator) emit() {
	if len(a.dirtyReqID) == 0 && len(a.dirtyRefID) == 0 && a.invalid == a.prevInvalid && a.cappedN == a.prevCapN {
		return
	}
	sortIDs(a.dirtyReqID, &a.idBits)
	sortIDs(a.dirtyHistID, &a.idBits)
	sortIDs(a.dirtyRefID, &a.idBits)
	a.dirtyReq, a.dirtyHist, a.dirtyRef = a.dirtyReq[:0], a.dirtyHist[:0], a.dirtyRef[:0]
	for _, id := range a.dirtyReqID {
		a.dirtyReq = append(a.dirtyReq, a.reqL[id])
	}
	for _, id := range a.dirtyHistID {
		a.dirtyHist = append(a.dirtyHist, a.histL[id])
	}
	for _, id := range a.dirtyRefID {
		a.dirtyRef = append(a.dirtyRef, a.refL[id])
	}
	b := &a.batch
	*b = Batch{Job: a.cfg.Job, Time: a.sec, Requests: a.dirtyReq, Durations: a.dirtyHist, Referers: a.dirtyRef,
		Invalid: a.invalid, InvalidDelta: a.invalid - a.prevInvalid, Capped: a.cappedN, CappedDelta: a.cappedN - a.prevCapN,
		BucketBounds: a.boundsS}
	if a.cfg.Emit != nil && a.emitErr == nil {
		a.emitErr = a.cfg.Emit(b)
	}
	for _, s := range a.dirtyReq {
		s.dirty, s.prevRequests, s.prevBytes = false, s.Requests, s.Bytes
	}
	for _, h := range a.dirtyHist {
		h.dirty, h.prevCount, h.prevSum = false, h.Count, h.SumMicros
		copy(h.prevBucket, h.Buckets)
	}
	for _, s := range a.dirtyRef {
		s.dirty, s.prevRequests = false, s.Requests
	}
	a.dirtyReqID, a.dirtyHistID, a.dirtyRefID = a.dirtyReqID[:0], a.dirtyHistID[:0], a.dirtyRefID[:0]
	a.prevInvalid, a.prevCapN = a.invalid, a.cappedN
}

// sortIDs sorts distinct series ids: through a bitmap of their range when
// they are dense in it (the usual case: a second changes many of the
// series), else by comparison. bm is scratch space, all zero.
func sortIDs(ids []int32, bm *[]uint64) {
	if len(ids) < 2 {
		return
	}
	lo, hi := ids[0], ids[0]
	for _, id := range ids {
		lo, hi = min(lo, id), max(hi, id)
	}
	words := int(hi-lo)/64 + 1
	if words > 4*len(ids) {
		slices.Sort(ids)
		return
	}
	if cap(*bm) < words {
		*bm = make([]uint64, words)
	}
	b := (*bm)[:words]
	for _, id := range ids {
		d := id - lo
		b[d>>6] |= 1 << (d & 63)
	}
	i := 0
	for w, word := range b {
		for word != 0 {
			ids[i] = lo + int32(w*64+bits.TrailingZeros64(word))
			i++
			word &= word - 1
		}
		b[w] = 0
	}
}

// Stats are an Aggregator's totals for a summary.
type Stats struct {
	Lines, Invalid uint64
	// Capped counts lines whose path counted as "other" because of MaxPaths.
	Capped uint64
	// DistinctPaths counts raw paths (without query); exact up to 4096,
	// estimated above (DistinctExact false).
	DistinctPaths int64
	DistinctExact bool
	// Templates counts path labels in use, "other" included.
	Templates int
	// First and Last are the earliest and latest log seconds seen.
	First, Last time.Time
}

// Stats returns a's totals.
func (a *Aggregator) Stats() Stats {
	n, exact := a.paths.seen.count()
	st := Stats{Lines: a.lines, Invalid: a.invalid, Capped: a.cappedN, DistinctPaths: n, DistinctExact: exact,
		Templates: a.paths.templates()}
	if a.sec != 0 {
		st.First, st.Last = time.Unix(a.minSec, 0).UTC(), time.Unix(a.sec, 0).UTC()
	}
	return st
}

// TopClients returns the n client addresses with the most requests, most
// first, from the sketch (nil when Config.TopClients is 0).
func (a *Aggregator) TopClients(n int) []Client {
	if a.top == nil {
		return nil
	}
	return a.top.top(n)
}

// Merge adds o's totals to a, to combine Aggregators that counted
// separate chunks in parallel; o must have the same config. The merged
// series count as changed in a's current second.
func (a *Aggregator) Merge(o *Aggregator) {
	a.lines += o.lines
	a.invalid += o.invalid
	a.cappedN += o.cappedN
	a.sec = max(a.sec, o.sec)
	if o.minSec != 0 && (a.minSec == 0 || o.minSec < a.minSec) {
		a.minSec = o.minSec
	}
	a.paths.seen.merge(&o.paths.seen)
	if a.top != nil && o.top != nil {
		a.top.merge(o.top)
	}
	for _, os := range o.reqL {
		pathID := a.paths.internString(os.Path)
		method := a.methodID([]byte(os.Method))
		code, _ := strconv.Atoi(os.Status)
		key := uint64(pathID)<<20 | uint64(method)<<10 | uint64(code)
		s := a.reqs[key]
		if s == nil {
			s = a.newRequestSeries(key, pathID, method, code)
		}
		s.Requests += os.Requests
		s.Bytes += os.Bytes
		if !s.dirty {
			s.dirty = true
			a.dirtyReqID = append(a.dirtyReqID, s.id)
		}
	}
	for _, oh := range o.histL {
		pathID := a.paths.internString(oh.Path)
		method := a.methodID([]byte(oh.Method))
		h := a.hists[uint64(pathID)<<20|uint64(method)<<10]
		if h == nil {
			continue // only when the path cap differs
		}
		h.Count += oh.Count
		h.SumMicros += oh.SumMicros
		for i := range h.Buckets {
			h.Buckets[i] += oh.Buckets[i]
		}
		if h.native != nil && oh.native != nil {
			h.native.merge(oh.native, a.nativeMax)
		}
		if !h.dirty {
			h.dirty = true
			a.dirtyHistID = append(a.dirtyHistID, h.id)
		}
	}
	for _, or := range o.refL {
		pathID := a.paths.internString(or.Path)
		host := a.hosts.add(or.Host)
		key := uint64(pathID)<<32 | uint64(host)
		s := a.refs[key]
		if s == nil {
			s = &RefererSeries{Path: a.paths.names[pathID], Host: a.hosts.names[host], id: int32(len(a.refL))}
			a.refs[key] = s
			a.refL = append(a.refL, s)
		}
		s.Requests += or.Requests
		if !s.dirty {
			s.dirty = true
			a.dirtyRefID = append(a.dirtyRefID, s.id)
		}
	}
}

// hostTable interns referer hosts under a cap.
type hostTable struct {
	max   int
	ids   map[string]int32
	names []string
}

func newHostTable(max int) *hostTable { return &hostTable{max: max, ids: map[string]int32{}} }

func (t *hostTable) id(h []byte) int32 {
	if len(h) == 0 {
		return t.add("-")
	}
	if id, ok := t.ids[string(h)]; ok {
		return id
	}
	if len(t.ids) >= t.max {
		return t.add(Other)
	}
	return t.add(string(h))
}

func (t *hostTable) add(h string) int32 {
	if id, ok := t.ids[h]; ok {
		return id
	}
	id := int32(len(t.names))
	t.ids[h] = id
	t.names = append(t.names, h)
	return id
}

// refererHost returns the host of a referer URL, empty when there is none.
func refererHost(r []byte) []byte {
	if len(r) == 1 && r[0] == '-' {
		return nil
	}
	for i := 0; i+2 < len(r) && i < 32; i++ {
		if r[i] == ':' && r[i+1] == '/' && r[i+2] == '/' {
			r = r[i+3:]
			break
		}
	}
	for i, c := range r {
		if c == '/' || c == '?' || c == '#' || c == ':' {
			return r[:i]
		}
	}
	return r
}
