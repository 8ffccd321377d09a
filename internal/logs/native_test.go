package logs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// clientGolang observes the durations (µs) into client_golang's native
// histogram with the same options and returns what it writes.
func clientGolang(t *testing.T, factor float64, maxBuckets int, durations []int64) *dto.Histogram {
	t.Helper()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "d", Help: "d",
		NativeHistogramBucketFactor: factor, NativeHistogramMaxBucketNumber: uint32(maxBuckets)})
	for _, d := range durations {
		h.Observe(float64(d) / 1e6)
	}
	var m dto.Metric
	if err := h.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram()
}

// dtoBuckets returns the populated positive buckets of a written histogram.
func dtoBuckets(h *dto.Histogram) []NativeBucket {
	var out []NativeBucket
	idx, count := int32(0), int64(0)
	d := 0
	for _, s := range h.GetPositiveSpan() {
		idx += s.GetOffset()
		for range s.GetLength() {
			count += h.GetPositiveDelta()[d]
			d++
			if count != 0 {
				out = append(out, NativeBucket{Index: idx, Count: uint64(count)})
			}
			idx++
		}
	}
	return out
}

// checkNative compares our native histogram with client_golang's.
func checkNative(t *testing.T, got *NativeHistogram, want *dto.Histogram, durations []int64) {
	t.Helper()
	if got.Schema != want.GetSchema() || got.ZeroThreshold != want.GetZeroThreshold() || got.ZeroCount != want.GetZeroCount() ||
		got.Count != want.GetSampleCount() {
		t.Errorf("schema %d, zero threshold %v, zero count %d, count %d; client_golang %d, %v, %d, %d",
			got.Schema, got.ZeroThreshold, got.ZeroCount, got.Count,
			want.GetSchema(), want.GetZeroThreshold(), want.GetZeroCount(), want.GetSampleCount())
	}
	if wb := dtoBuckets(want); !slices.Equal(got.Buckets, wb) {
		t.Errorf("buckets\n got %v\nwant %v", got.Buckets, wb)
	}
	var sum int64
	for _, d := range durations {
		sum += d
	}
	if got.Sum != float64(sum)/1e6 || math.Abs(got.Sum-want.GetSampleSum()) > 1e-9*math.Max(1, got.Sum) {
		t.Errorf("sum %v, client_golang %v", got.Sum, want.GetSampleSum())
	}
}

// logUniform returns n durations from 1 µs to about max µs, log-uniform,
// with a few exact bucket boundaries and zeros among them.
func logUniform(r *rand.Rand, n int, max float64) []int64 {
	out := []int64{0, 1, 2, 250_000, 500_000, 1_000_000, 2_000_000, 1_414_213, 1_414_214, 0}
	for len(out) < n {
		out = append(out, int64(math.Exp(r.Float64()*math.Log(max))))
	}
	return out
}

func TestNativeMatchesClientGolang(t *testing.T) {
	for _, tc := range []struct {
		name       string
		factor     float64
		maxBuckets int
		n          int
		max        float64 // longest duration, µs
	}{
		{"default", DefaultNativeBucketFactor, DefaultNativeMaxBuckets, 5000, 60e6},
		{"narrow range", DefaultNativeBucketFactor, DefaultNativeMaxBuckets, 2000, 2e6},
		{"reduced once or twice", DefaultNativeBucketFactor, DefaultNativeMaxBuckets, 20000, 3600e6},
		{"down to the lowest schema", DefaultNativeBucketFactor, 3, 3000, 1e9},
		{"schema 8", 1.001, 1000, 5000, 10e6},
		{"schema 1", 1.5, 20, 3000, 100e6},
		{"schema 0", 2, 10, 3000, 100e6},
		{"schema -2", 16, 160, 3000, 100e6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			durations := logUniform(rand.New(rand.NewPCG(1, uint64(tc.n))), tc.n, tc.max)
			schema, err := NativeSchema(tc.factor)
			if err != nil {
				t.Fatal(err)
			}
			n := &nativeHist{schema: schema}
			for _, d := range durations {
				n.observe(d, tc.maxBuckets)
			}
			checkNative(t, n.export(), clientGolang(t, tc.factor, tc.maxBuckets, durations), durations)
			t.Logf("schema %d, %d buckets", n.schema, n.populated)
		})
	}
}

// TestNativeAggregator counts log lines with native histograms on: the
// families carry each series' native histogram, client_golang's for the
// same durations, and the classic buckets as without the option.
func TestNativeAggregator(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	cfg := DefaultConfig()
	plain := newTestAggregator(t, cfg)
	cfg.NativeHistograms = true
	a := newTestAggregator(t, cfg)
	durations := map[string][]int64{}
	for i := range 3000 {
		path := []string{"/a", "/b", "/c"}[i%3]
		ms := int64(math.Exp(r.Float64() * math.Log(30000))) // nginx logs ms: $request_time 0.123
		if i%100 == 0 {
			ms = 0
		}
		durations[path] = append(durations[path], ms*1000)
		line := fmt.Sprintf(`"192.0.2.1" "-" [10/Oct/2021:13:%02d:%02d +0900] "GET %s HTTP/1.1" 200 100 %d.%03d "-" "x"`,
			i/600, i/10%60, path, ms/1000, ms%1000)
		if !a.Line([]byte(line)) || !plain.Line([]byte(line)) {
			t.Fatalf("line %q: %v", line, a.Err())
		}
	}
	fams := a.Families()
	var seen int
	for _, f := range fams {
		if f.Name != MetricDuration {
			continue
		}
		for _, s := range f.Series {
			path := labelMap(s.Labels)["path"]
			if s.Histogram.Native == nil {
				t.Fatalf("%s: no native histogram", path)
			}
			checkNative(t, s.Histogram.Native, clientGolang(t, DefaultNativeBucketFactor, DefaultNativeMaxBuckets, durations[path]), durations[path])
			seen++
		}
	}
	if seen != 3 {
		t.Errorf("%d duration series, want 3", seen)
	}
	for _, f := range plain.Families() {
		for _, s := range f.Series {
			if s.Histogram != nil && s.Histogram.Native != nil {
				t.Errorf("native histogram with the option off: %v", s.Labels)
			}
		}
	}
	if got, want := totals(a), totals(plain); got != want {
		t.Errorf("classic series differ with native histograms on:\n%s\nwant\n%s", got, want)
	}

	// Restore brings the native histograms back exactly, and counting goes
	// on from them.
	b := newTestAggregator(t, cfg)
	if err := b.Restore(fams); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(nativeOf(b.Families())), fmt.Sprint(nativeOf(fams)); got != want {
		t.Errorf("restored\n%s\nwant\n%s", got, want)
	}
	// A coarser config reduces restored histograms to its schema.
	cfg.NativeBucketFactor = 2
	c := newTestAggregator(t, cfg)
	if err := c.Restore(fams); err != nil {
		t.Fatal(err)
	}
	for _, n := range nativeOf(c.Families()) {
		if n.Schema != 0 {
			t.Errorf("restored with factor 2: schema %d, want 0", n.Schema)
		}
	}
	// A native histogram that does not add up is not restored.
	bad := slices.Clone(fams)
	for i := range bad {
		if bad[i].Name == MetricDuration {
			s := slices.Clone(bad[i].Series)
			n := *s[0].Histogram.Native
			n.Count++
			h := *s[0].Histogram
			h.Native = &n
			s[0].Histogram = &h
			bad[i].Series = s
		}
	}
	if err := newTestAggregator(t, DefaultConfig()).Restore(bad); err != nil {
		t.Errorf("restore without native histograms: %v", err)
	}
	cfg.NativeBucketFactor = 0
	if err := newTestAggregator(t, cfg).Restore(bad); err == nil {
		t.Error("restore of a native histogram whose count does not add up: no error")
	}
}

// nativeOf returns the native histograms of fams by series.
func nativeOf(fams []Family) map[string]NativeHistogram {
	out := map[string]NativeHistogram{}
	for _, f := range fams {
		for _, s := range f.Series {
			if s.Histogram != nil && s.Histogram.Native != nil {
				out[fmt.Sprint(s.Labels)] = *s.Histogram.Native
			}
		}
	}
	return out
}

// TestNativeMerge merges Aggregators of parts of the lines: the native
// histograms are those of one Aggregator that read them all (no schema
// reduction happens here).
func TestNativeMerge(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NativeHistograms = true
	whole := newTestAggregator(t, cfg)
	parts := []*Aggregator{newTestAggregator(t, cfg), newTestAggregator(t, cfg)}
	for i := range 1000 {
		us := int64(i*i) % 9_000_000
		line := fmt.Sprintf(`"192.0.2.1" "-" [10/Oct/2021:13:55:%02d +0900] "GET /x HTTP/1.1" 200 1 %d.%06d "-" "x"`, i/100, us/1e6, us%1e6)
		whole.Line([]byte(line))
		parts[i%2].Line([]byte(line))
	}
	parts[0].Merge(parts[1])
	if got, want := fmt.Sprint(nativeOf(parts[0].Families())), fmt.Sprint(nativeOf(whole.Families())); got != want {
		t.Errorf("merged\n%s\nwhole\n%s", got, want)
	}
}

func TestNativeConfig(t *testing.T) {
	for _, tc := range []struct {
		factor float64
		max    int
		want   string
	}{
		{1, 0, "native histogram bucket factor 1: must be more than 1"},
		{math.NaN(), 0, "native histogram bucket factor NaN: must be more than 1"},
		{0, 2, "native histogram max buckets 2: must be at least 3"},
	} {
		cfg := DefaultConfig()
		cfg.NativeHistograms, cfg.NativeBucketFactor, cfg.NativeMaxBuckets = true, tc.factor, tc.max
		cfg.Format = newTestAggregator(t, DefaultConfig()).cfg.Format
		if _, err := New(cfg); err == nil || err.Error() != tc.want {
			t.Errorf("factor %v max %d: %v, want %q", tc.factor, tc.max, err, tc.want)
		}
	}
	for factor, want := range map[float64]int32{1.1: 3, 1.0001: 8, 1.5: 1, 2: 0, 4: -1, 1e9: -4} {
		if got, err := NativeSchema(factor); err != nil || got != want {
			t.Errorf("NativeSchema(%v) = %d, %v; want %d", factor, got, err, want)
		}
	}
}

// TestNativeFlags: --native-bucket-factor and --native-max-buckets set the
// schema and the bucket cap; bad values are refused, naming the flag.
func TestNativeFlags(t *testing.T) {
	line := `"10.0.0.1" "-" [25/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 10 0.0123 "-" "t"` + "\n"
	out, _, err := run(t, line, "parse", "--format", "media-nginx", "--output", "json", "--native-histograms", "--native-bucket-factor", "2", "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"native":{"schema":0,`) {
		t.Errorf("factor 2: want schema 0 in\n%s", out)
	}
	for _, c := range []struct{ args, want string }{
		{"--native-bucket-factor 1", "--native-bucket-factor"},
		{"--native-max-buckets 2", "--native-max-buckets 2: must be at least 3"},
	} {
		args := append([]string{"parse", "--format", "media-nginx", "--output", "json", "--native-histograms"}, strings.Fields(c.args)...)
		_, _, err := run(t, line, append(args, "-")...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one with %q", c.args, err, c.want)
		}
	}
}
