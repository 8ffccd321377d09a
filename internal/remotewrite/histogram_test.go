package remotewrite

import (
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// histogramSamples are native histogram samples as the watchdog writes
// them: an empty one (a new series' zero) and two with sparse buckets,
// next to the float series of the same family.
func histogramSamples() []metricstore.Sample {
	zt := math.Ldexp(1, -128)
	ls := metricstore.FromStrings("__name__", "http_request_duration_seconds", "job", "web", "path", "/")
	h1 := &metricstore.Histogram{Schema: 3, ZeroThreshold: zt, ZeroCount: 1, Count: 8, Sum: 1.25,
		PositiveSpans:   []histogram.Span{{Offset: -20, Length: 2}, {Offset: 5, Length: 1}},
		PositiveBuckets: []int64{2, 1, -1}}
	h2 := h1.Copy()
	h2.Count, h2.Sum, h2.PositiveBuckets = 9, 1.5, []int64{2, 1, 0}
	return []metricstore.Sample{
		{Labels: ls, T: 2000, H: h2},
		{Labels: ls, T: 1000, H: h1},
		{Labels: ls, T: 1000, H: h1.Copy()}, // a repeat: written once
		{Labels: ls, T: 500, H: &metricstore.Histogram{Schema: 3, ZeroThreshold: zt, CounterResetHint: histogram.CounterReset}},
		sample(1000, 8, "__name__", "http_request_duration_seconds_count", "job", "web", "path", "/"),
	}
}

func TestEncodeHistograms(t *testing.T) {
	var e Encoder
	in := histogramSamples()
	payload := e.Encode(nil, in, map[string]metricstore.Metadata{"http_request_duration_seconds": {Type: "histogram", Help: "Durations."}})

	req := receive(t, payload)
	if len(req.Timeseries) != 2 {
		t.Fatalf("%d series, want 2: %s", len(req.Timeseries), req)
	}
	hs := req.Timeseries[0].Histograms
	if len(hs) != 3 || len(req.Timeseries[0].Samples) != 0 {
		t.Fatalf("histogram series: %s", req.Timeseries[0].String())
	}
	if hs[0].Timestamp != 500 || hs[0].ResetHint != prompb.Histogram_YES || hs[1].Timestamp != 1000 || hs[2].Timestamp != 2000 {
		t.Errorf("histograms out of order or without their reset hint: %v", hs)
	}
	if got := hs[1].ToIntHistogram(); !got.Equals(in[1].H) {
		t.Errorf("histogram at 1000: %v, want %v", got, in[1].H)
	}
	if len(req.Metadata) != 1 || req.Metadata[0].Type != prompb.MetricMetadata_HISTOGRAM {
		t.Errorf("metadata: %v", req.Metadata)
	}

	got, err := Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	want := []metricstore.Sample{in[3], in[1], in[0], in[4]}
	if !equalSamples(got, want) {
		t.Errorf("Decode:\n got %v\nwant %v", got, want)
	}

	// Merge keeps the histograms, once each.
	merged, err := Merge(nil, payload, e.Encode(nil, in[:2], nil))
	if err != nil {
		t.Fatal(err)
	}
	again, err := Decode(merged)
	if err != nil {
		t.Fatal(err)
	}
	if !equalSamples(again, want) {
		t.Errorf("Merge:\n got %v\nwant %v", again, want)
	}
}
