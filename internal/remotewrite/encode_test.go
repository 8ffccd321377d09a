package remotewrite

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// sample is a shorthand for tests.
func sample(t int64, v float64, nameValues ...string) metricstore.Sample {
	return metricstore.Sample{Labels: metricstore.FromStrings(nameValues...), T: t, V: v}
}

// receive decodes a payload the way a receiver does: snappy, then prompb.
func receive(t testing.TB, payload []byte) *prompb.WriteRequest {
	t.Helper()
	pb, err := snappy.Decode(nil, payload)
	if err != nil {
		t.Fatalf("snappy: %v", err)
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(pb); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return &req
}

func TestEncode(t *testing.T) {
	nan := math.Float64frombits(0x7ff8000000000001)
	in := []metricstore.Sample{
		sample(3000, 3, "__name__", "req_total", "job", "web", "code", "200"),
		sample(1000, 0.5, "__name__", "lat_bucket", "job", "web", "le", "+Inf"),
		sample(1000, 1, "__name__", "req_total", "job", "web", "code", "200"),
		sample(2000, 2, "__name__", "req_total", "job", "web", "code", "200"),
		sample(2000, 2, "__name__", "req_total", "job", "web", "code", "200"), // an exact repeat
		sample(2000, 7, "__name__", "req_total", "job", "web", "code", "500"),
		sample(0, 0, "__name__", "zero", "job", "web"),
		sample(-5, 0, "__name__", "zero", "job", "web"),
		sample(1000, nan, "__name__", "up", "job", "web"),
		sample(1000, math.Inf(-1), "__name__", "up", "job", "web"), // same time, other value: kept
		sample(900, 1, "__name__", "ünïcödé", "job", "wéb"),
	}
	md := map[string]metricstore.Metadata{
		"req_total": {Type: "counter", Help: "Requests."},
		"lat":       {Type: "histogram", Help: "Latency.", Unit: "seconds"},
		"other":     {Type: "gauge", Help: "Not in the batch."},
		"up":        {Type: "gauge"},
	}
	want := &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{
			{Labels: pl("__name__", "lat_bucket", "job", "web", "le", "+Inf"), Samples: []prompb.Sample{{Timestamp: 1000, Value: 0.5}}},
			{Labels: pl("__name__", "req_total", "code", "200", "job", "web"), Samples: []prompb.Sample{{Timestamp: 1000, Value: 1}, {Timestamp: 2000, Value: 2}, {Timestamp: 3000, Value: 3}}},
			{Labels: pl("__name__", "req_total", "code", "500", "job", "web"), Samples: []prompb.Sample{{Timestamp: 2000, Value: 7}}},
			{Labels: pl("__name__", "up", "job", "web"), Samples: []prompb.Sample{{Timestamp: 1000, Value: nan}, {Timestamp: 1000, Value: math.Inf(-1)}}},
			{Labels: pl("__name__", "zero", "job", "web"), Samples: []prompb.Sample{{Timestamp: -5}, {Timestamp: 0}}},
			{Labels: pl("__name__", "ünïcödé", "job", "wéb"), Samples: []prompb.Sample{{Timestamp: 900, Value: 1}}},
		},
		Metadata: []prompb.MetricMetadata{
			{Type: prompb.MetricMetadata_HISTOGRAM, MetricFamilyName: "lat", Help: "Latency.", Unit: "seconds"},
			{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "req_total", Help: "Requests."},
			{Type: prompb.MetricMetadata_GAUGE, MetricFamilyName: "up"},
		},
	}
	wantPB, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	var e Encoder
	prefix := []byte("kept")
	got := e.Encode(slices.Clone(prefix), in, md)
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("dst's bytes were not kept: %q", got[:4])
	}
	gotPB, err := snappy.Decode(nil, got[len(prefix):])
	if err != nil {
		t.Fatal(err)
	}
	// The hand-written encoding is byte for byte what prompb's generated
	// code writes.
	if !bytes.Equal(gotPB, wantPB) {
		t.Errorf("encoding differs from prompb's\n got %x\nwant %x", gotPB, wantPB)
	}

	// The Encoder's buffers are reused: a second, smaller batch is not
	// polluted by the first.
	one := []metricstore.Sample{sample(5, 6, "__name__", "x", "job", "j")}
	req := receive(t, e.Encode(nil, one, nil))
	if len(req.Timeseries) != 1 || len(req.Metadata) != 0 || req.Timeseries[0].Samples[0].String() != (&prompb.Sample{Value: 6, Timestamp: 5}).String() {
		t.Errorf("second Encode: %s", req)
	}

	// -0 keeps its sign (prompb's generated code would write it as 0).
	negZero := []metricstore.Sample{sample(1, math.Copysign(0, -1), "__name__", "z")}
	if got, err := Decode(e.Encode(nil, negZero, nil)); err != nil || !equalSamples(got, negZero) {
		t.Errorf("-0: got %v, %v", got, err)
	}

	// Nothing in, an empty request out.
	if req := receive(t, e.Encode(nil, nil, md)); len(req.Timeseries) != 0 || len(req.Metadata) != 0 {
		t.Errorf("empty Encode: %s", req)
	}
}

// pl returns prompb labels of name/value pairs, sorted by name.
func pl(nameValues ...string) []prompb.Label {
	var out []prompb.Label
	metricstore.FromStrings(nameValues...).Range(func(l metricstore.Label) {
		out = append(out, prompb.Label{Name: l.Name, Value: l.Value})
	})
	return out
}

func TestDecodeMerge(t *testing.T) {
	var e Encoder
	a := e.Encode(nil, []metricstore.Sample{
		sample(2000, 2, "__name__", "m", "job", "a"),
		sample(1000, 1, "__name__", "m", "job", "a"),
	}, map[string]metricstore.Metadata{"m": {Type: "gauge", Help: "M."}})
	b := e.Encode(nil, []metricstore.Sample{
		sample(1500, 1.5, "__name__", "m", "job", "a"),
		sample(2000, 2, "__name__", "m", "job", "a"), // also in a
		sample(1000, 9, "__name__", "m", "job", "b"),
	}, nil)

	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []metricstore.Sample{
		sample(1500, 1.5, "__name__", "m", "job", "a"),
		sample(2000, 2, "__name__", "m", "job", "a"),
		sample(1000, 9, "__name__", "m", "job", "b"),
	}
	if !equalSamples(got, want) {
		t.Errorf("Decode:\n got %v\nwant %v", got, want)
	}

	merged, err := Merge([]byte("x"), a, b)
	if err != nil {
		t.Fatal(err)
	}
	req := receive(t, merged[1:])
	wantReq := &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{
			{Labels: pl("__name__", "m", "job", "a"), Samples: []prompb.Sample{{Timestamp: 1000, Value: 1}, {Timestamp: 1500, Value: 1.5}, {Timestamp: 2000, Value: 2}}},
			{Labels: pl("__name__", "m", "job", "b"), Samples: []prompb.Sample{{Timestamp: 1000, Value: 9}}},
		},
		Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_GAUGE, MetricFamilyName: "m", Help: "M."}},
	}
	if req.String() != wantReq.String() {
		t.Errorf("Merge:\n got %s\nwant %s", req, wantReq)
	}

	if _, err := Merge(nil, a, []byte("not snappy")); err == nil {
		t.Error("Merge of a bad payload: no error")
	}
}

func TestDecodeErrors(t *testing.T) {
	hist := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:     pl("__name__", "h"),
		Histograms: []prompb.Histogram{{Timestamp: 1, Count: &prompb.Histogram_CountFloat{CountFloat: 1}}},
	}}}
	histPB, _ := hist.Marshal()
	bad := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels: pl("__name__", "h"),
		Histograms: []prompb.Histogram{{Timestamp: 1, Count: &prompb.Histogram_CountInt{CountInt: 1},
			PositiveSpans: []prompb.BucketSpan{{Offset: 0, Length: 2}}, PositiveDeltas: []int64{1}}},
	}}}
	badPB, _ := bad.Marshal()
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // snappy header claiming 4 GiB
	for _, tc := range []struct {
		name, payload, want string
	}{
		{"not snappy", "\xff\xff\xff", "decode snappy: snappy: corrupt input"},
		{"too large", string(huge), "decode snappy: 4294967295 bytes uncompressed, more than the 268435456 allowed"},
		{"not protobuf", string(snappy.Encode(nil, []byte("\x0a\x05ab"))), "decode WriteRequest: unexpected EOF"},
		{"float histograms", string(snappy.Encode(nil, histPB)), "series 0: float histograms are not supported"},
		{"bad histogram", string(snappy.Encode(nil, badPB)), "series 0: histogram at 1: positive side: spans need 2 buckets, have 1 buckets: histogram spans specify different number of buckets than provided"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.payload))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzDecode checks that Decode never panics, and that what it decodes
// encodes and decodes again to the same samples, grouped and sorted.
func FuzzDecode(f *testing.F) {
	var e Encoder
	f.Add(e.Encode(nil, []metricstore.Sample{
		sample(1, 2, "__name__", "a", "job", "x"),
		sample(3, 4, "__name__", "b", "job", "y"),
	}, map[string]metricstore.Metadata{"a": {Type: "counter"}}))
	f.Add(e.Encode(nil, histogramSamples(), nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		samples, err := Decode(payload)
		if err != nil {
			return
		}
		again, err := Decode(e.Encode(nil, samples, nil))
		if err != nil {
			t.Fatalf("decode of an encoded request: %v", err)
		}
		if len(again) > len(samples) {
			t.Fatalf("%d samples became %d", len(samples), len(again))
		}
	})
}

// equalSamples compares samples, values by their bits.
func equalSamples(a, b []metricstore.Sample) bool {
	return slices.EqualFunc(a, b, func(x, y metricstore.Sample) bool {
		if (x.H == nil) != (y.H == nil) || x.H != nil && (!x.H.Equals(y.H) || x.H.CounterResetHint != y.H.CounterResetHint) {
			return false
		}
		return x.T == y.T && math.Float64bits(x.V) == math.Float64bits(y.V) && x.Labels.String() == y.Labels.String()
	})
}

// batch returns series×perSeries samples of a scrape-like batch: series
// with a handful of labels, samples interleaved in time.
func batch(series, perSeries int) []metricstore.Sample {
	out := make([]metricstore.Sample, 0, series*perSeries)
	for i := range perSeries {
		for s := range series {
			out = append(out, sample(1_700_000_000_000+int64(i)*15_000, float64(s*i)+0.25,
				"__name__", fmt.Sprintf("http_requests_total_%d", s%50), "job", "nginx",
				"instance", "web-1:80", "code", fmt.Sprint(200+s%5), "path", fmt.Sprintf("/api/v%d", s/250)))
		}
	}
	return out
}

// BenchmarkEncode encodes scrape-like batches with one reused Encoder.
func BenchmarkEncode(b *testing.B) {
	for _, tc := range []struct{ series, perSeries int }{{2000, 1}, {500, 10}} {
		b.Run(fmt.Sprintf("series=%d/samples=%d", tc.series, tc.perSeries), func(b *testing.B) {
			samples := batch(tc.series, tc.perSeries)
			md := map[string]metricstore.Metadata{"http_requests_total_1": {Type: "counter", Help: "Requests."}}
			var e Encoder
			buf := e.Encode(nil, samples, md)
			b.SetBytes(int64(len(e.pb)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				buf = e.Encode(buf[:0], samples, md)
			}
			b.ReportMetric(float64(b.N*len(samples))/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(len(buf))/float64(len(samples)), "bytes/sample")
		})
	}
}
