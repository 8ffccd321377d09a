package remotewrite

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// Field numbers and wire types of the prompb messages Encoder writes by
// hand (prompb/remote.proto, prompb/types.proto).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2

	tagTimeseries = 1<<3 | wireBytes   // WriteRequest.timeseries
	tagMetadata   = 3<<3 | wireBytes   // WriteRequest.metadata
	tagLabels     = 1<<3 | wireBytes   // TimeSeries.labels
	tagSamples    = 2<<3 | wireBytes   // TimeSeries.samples
	tagHistograms = 4<<3 | wireBytes   // TimeSeries.histograms
	tagName       = 1<<3 | wireBytes   // Label.name
	tagValue      = 2<<3 | wireBytes   // Label.value
	tagSampleV    = 1<<3 | wireFixed64 // Sample.value
	tagSampleT    = 2<<3 | wireVarint  // Sample.timestamp
	tagMetaType   = 1<<3 | wireVarint  // MetricMetadata.type
	tagMetaFamily = 2<<3 | wireBytes   // MetricMetadata.metric_family_name
	tagMetaHelp   = 4<<3 | wireBytes   // MetricMetadata.help
	tagMetaUnit   = 5<<3 | wireBytes   // MetricMetadata.unit
)

// maxDecodedLen bounds the uncompressed size of a request Decode accepts,
// so that a small hostile payload cannot claim gigabytes.
const maxDecodedLen = 256 << 20

// Encoder encodes samples as remote_write requests. Its buffers are reused
// from one Encode to the next, so that encoding batches of a steady size
// allocates next to nothing. The zero value is ready; an Encoder is used by
// one goroutine at a time.
type Encoder struct {
	order []int32             // indexes of the samples, sorted by series and time
	pb    []byte              // the uncompressed WriteRequest
	seen  map[string]struct{} // metric families whose metadata is written
	fams  []string            // the same, sorted
}

// Encode appends to dst the snappy-compressed protobuf prompb.WriteRequest
// of samples and returns the extended slice. Samples are grouped into one
// TimeSeries per label set, in label order, each with its samples in time
// order; a sample equal to the one before it (same series, time and value)
// is written once. Native histogram samples (Sample.H) go in the series'
// histograms, as integer histograms. md, which may be nil, adds a MetricMetadata for every
// metric family of the batch it has: the family of a series is its
// __name__, or __name__ without _bucket, _count or _sum when md has that.
func (e *Encoder) Encode(dst []byte, samples []metricstore.Sample, md map[string]metricstore.Metadata) []byte {
	e.order = e.order[:0]
	for i := range samples {
		e.order = append(e.order, int32(i))
	}
	bySeriesTime := func(a, b int32) int {
		if c := labels.Compare(samples[a].Labels, samples[b].Labels); c != 0 {
			return c
		}
		return cmp.Compare(samples[a].T, samples[b].T)
	}
	if !slices.IsSortedFunc(e.order, bySeriesTime) {
		slices.SortStableFunc(e.order, bySeriesTime)
	}

	pb := e.pb[:0]
	for start := 0; start < len(e.order); {
		ls := samples[e.order[start]].Labels
		end := start + 1
		for end < len(e.order) && labels.Equal(samples[e.order[end]].Labels, ls) {
			end++
		}
		pb = e.appendSeries(pb, samples, e.order[start:end])
		start = end
	}
	if len(md) > 0 {
		pb = e.appendMetadata(pb, samples, md)
	}
	e.pb = pb

	n := snappy.MaxEncodedLen(len(pb))
	dst = slices.Grow(dst, n)
	out := snappy.Encode(dst[len(dst):len(dst)+n], pb)
	return dst[:len(dst)+len(out)]
}

// appendSeries appends one TimeSeries of the samples at idx, which share
// their labels and are sorted by time.
func (e *Encoder) appendSeries(pb []byte, samples []metricstore.Sample, idx []int32) []byte {
	ls := samples[idx[0]].Labels
	size := 0
	ls.Range(func(l labels.Label) {
		size += 1 + sizeBytes(labelSize(l))
	})
	var prev *metricstore.Sample
	for _, i := range idx {
		s := &samples[i]
		if !duplicate(prev, s) {
			size += 1 + sizeBytes(sampleSize(s))
		}
		prev = s
	}

	pb = append(pb, tagTimeseries)
	pb = binary.AppendUvarint(pb, uint64(size))
	ls.Range(func(l labels.Label) {
		pb = append(pb, tagLabels)
		pb = binary.AppendUvarint(pb, uint64(labelSize(l)))
		pb = appendString(pb, tagName, l.Name)
		pb = appendString(pb, tagValue, l.Value)
	})
	prev = nil
	for _, i := range idx {
		s := &samples[i]
		if duplicate(prev, s) {
			continue
		}
		prev = s
		if s.H != nil {
			continue
		}
		pb = append(pb, tagSamples)
		pb = binary.AppendUvarint(pb, uint64(sampleSize(s)))
		if v := math.Float64bits(s.V); v != 0 {
			pb = append(pb, tagSampleV)
			pb = binary.LittleEndian.AppendUint64(pb, v)
		}
		if s.T != 0 {
			pb = append(pb, tagSampleT)
			pb = binary.AppendUvarint(pb, uint64(s.T))
		}
	}
	prev = nil
	for _, i := range idx {
		s := &samples[i]
		if duplicate(prev, s) {
			continue
		}
		prev = s
		if s.H == nil {
			continue
		}
		h := prompb.FromIntHistogram(s.T, s.H)
		n := h.Size()
		pb = append(pb, tagHistograms)
		pb = binary.AppendUvarint(pb, uint64(n))
		pb = slices.Grow(pb, n)
		if _, err := h.MarshalToSizedBuffer(pb[len(pb) : len(pb)+n]); err != nil {
			panic(err) // the buffer has the size Size asked for
		}
		pb = pb[:len(pb)+n]
	}
	return pb
}

// duplicate reports whether s repeats prev, a sample of the same series.
func duplicate(prev, s *metricstore.Sample) bool {
	if prev == nil || prev.T != s.T || (prev.H == nil) != (s.H == nil) {
		return false
	}
	if s.H != nil {
		return prev.H.Equals(s.H)
	}
	return math.Float64bits(prev.V) == math.Float64bits(s.V)
}

// familySuffixes are the suffixes of the series of a histogram or summary
// family that its metadata is named without.
var familySuffixes = [...]string{"_bucket", "_count", "_sum"}

// appendMetadata appends a MetricMetadata for each family of the samples
// that md describes, sorted by name.
func (e *Encoder) appendMetadata(pb []byte, samples []metricstore.Sample, md map[string]metricstore.Metadata) []byte {
	if e.seen == nil {
		e.seen = make(map[string]struct{})
	}
	clear(e.seen)
	e.fams = e.fams[:0]
	last := ""
	for _, i := range e.order {
		name := samples[i].Labels.Get(labels.MetricName)
		if name == last {
			continue
		}
		last = name
		fam, ok := name, false
		if _, ok = md[name]; !ok {
			for _, suffix := range familySuffixes {
				if f, cut := strings.CutSuffix(name, suffix); cut {
					if _, ok = md[f]; ok {
						fam = f
						break
					}
				}
			}
		}
		if _, dup := e.seen[fam]; ok && !dup {
			e.seen[fam] = struct{}{}
			e.fams = append(e.fams, fam)
		}
	}
	slices.Sort(e.fams)
	for _, fam := range e.fams {
		m := md[fam]
		typ := metricType(m.Type)
		size := sizeString(fam) + sizeString(m.Help) + sizeString(m.Unit)
		if typ != 0 {
			size += 1 + sizeVarint(uint64(typ))
		}
		pb = append(pb, tagMetadata)
		pb = binary.AppendUvarint(pb, uint64(size))
		if typ != 0 {
			pb = append(pb, tagMetaType)
			pb = binary.AppendUvarint(pb, uint64(typ))
		}
		pb = appendString(pb, tagMetaFamily, fam)
		pb = appendString(pb, tagMetaHelp, m.Help)
		pb = appendString(pb, tagMetaUnit, m.Unit)
	}
	return pb
}

// metricType returns the prompb enum of a metricstore.Metadata type.
func metricType(t string) prompb.MetricMetadata_MetricType {
	switch t {
	case "counter":
		return prompb.MetricMetadata_COUNTER
	case "gauge":
		return prompb.MetricMetadata_GAUGE
	case "histogram":
		return prompb.MetricMetadata_HISTOGRAM
	case "gaugehistogram":
		return prompb.MetricMetadata_GAUGEHISTOGRAM
	case "summary":
		return prompb.MetricMetadata_SUMMARY
	case "info":
		return prompb.MetricMetadata_INFO
	case "stateset":
		return prompb.MetricMetadata_STATESET
	}
	return prompb.MetricMetadata_UNKNOWN
}

// typeName is the inverse of metricType.
func typeName(t prompb.MetricMetadata_MetricType) string {
	if t == prompb.MetricMetadata_UNKNOWN {
		return "unknown"
	}
	return strings.ToLower(t.String())
}

// labelSize is the encoded size of a Label message.
func labelSize(l labels.Label) int { return sizeString(l.Name) + sizeString(l.Value) }

// sampleSize is the encoded size of a Sample message, or of the
// Histogram message of a histogram sample.
func sampleSize(s *metricstore.Sample) int {
	if s.H != nil {
		h := prompb.FromIntHistogram(s.T, s.H)
		return h.Size()
	}
	n := 0
	if math.Float64bits(s.V) != 0 {
		n += 1 + 8
	}
	if s.T != 0 {
		n += 1 + sizeVarint(uint64(s.T))
	}
	return n
}

// appendString appends a string field; proto3 leaves an empty one out.
func appendString(pb []byte, tag byte, s string) []byte {
	if s == "" {
		return pb
	}
	pb = append(pb, tag)
	pb = binary.AppendUvarint(pb, uint64(len(s)))
	return append(pb, s...)
}

// sizeString is the encoded size of a string field written by appendString.
func sizeString(s string) int {
	if s == "" {
		return 0
	}
	return 1 + sizeBytes(len(s))
}

// sizeVarint is the length of v as a protobuf varint.
func sizeVarint(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// sizeBytes is the length of a length-delimited field's length and bytes.
func sizeBytes(n int) int { return sizeVarint(uint64(n)) + n }

// Decode returns the samples of an encoded request, series by series in
// the order of the request, each series' float samples before its native
// histogram samples. It fails on a payload that is not a
// snappy-compressed WriteRequest and on float histograms, which dandan
// does not send.
func Decode(payload []byte) ([]metricstore.Sample, error) {
	req, err := unmarshal(payload)
	if err != nil {
		return nil, err
	}
	return samplesOf(req)
}

// Merge appends to dst one request holding the samples and metadata of all
// payloads, as Encode would write them (series grouped, samples in time
// order, exact repeats once), and returns the extended slice.
func Merge(dst []byte, payloads ...[]byte) ([]byte, error) {
	var all []metricstore.Sample
	var md map[string]metricstore.Metadata
	for i, p := range payloads {
		req, err := unmarshal(p)
		if err != nil {
			return dst, fmt.Errorf("payload %d: %w", i, err)
		}
		samples, err := samplesOf(req)
		if err != nil {
			return dst, fmt.Errorf("payload %d: %w", i, err)
		}
		all = append(all, samples...)
		for _, m := range req.Metadata {
			if md == nil {
				md = make(map[string]metricstore.Metadata)
			}
			md[m.MetricFamilyName] = metricstore.Metadata{Type: typeName(m.Type), Help: m.Help, Unit: m.Unit}
		}
	}
	var e Encoder
	return e.Encode(dst, all, md), nil
}

// unmarshal decompresses and parses a request.
func unmarshal(payload []byte) (*prompb.WriteRequest, error) {
	n, err := snappy.DecodedLen(payload)
	if err != nil {
		return nil, fmt.Errorf("decode snappy: %w", err)
	}
	if n > maxDecodedLen {
		return nil, fmt.Errorf("decode snappy: %d bytes uncompressed, more than the %d allowed", n, maxDecodedLen)
	}
	pb, err := snappy.Decode(nil, payload)
	if err != nil {
		return nil, fmt.Errorf("decode snappy: %w", err)
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(pb); err != nil {
		return nil, fmt.Errorf("decode WriteRequest: %w", err)
	}
	return &req, nil
}

// errFloatHistograms is Decode's error on float histograms.
var errFloatHistograms = errors.New("float histograms are not supported")

// samplesOf returns the samples of a parsed request.
func samplesOf(req *prompb.WriteRequest) ([]metricstore.Sample, error) {
	n := 0
	for i := range req.Timeseries {
		n += len(req.Timeseries[i].Samples) + len(req.Timeseries[i].Histograms)
	}
	out := make([]metricstore.Sample, 0, n)
	var b labels.ScratchBuilder
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		b.Reset()
		for _, l := range ts.Labels {
			b.Add(l.Name, l.Value)
		}
		b.Sort()
		ls := b.Labels()
		for _, s := range ts.Samples {
			out = append(out, metricstore.Sample{Labels: ls, T: s.Timestamp, V: s.Value})
		}
		for j := range ts.Histograms {
			h := &ts.Histograms[j]
			if h.IsFloatHistogram() {
				return nil, fmt.Errorf("series %d: %w", i, errFloatHistograms)
			}
			ih := h.ToIntHistogram()
			if err := ih.Validate(); err != nil {
				return nil, fmt.Errorf("series %d: histogram at %d: %w", i, h.Timestamp, err)
			}
			out = append(out, metricstore.Sample{Labels: ls, T: h.Timestamp, H: ih})
		}
	}
	return out, nil
}
