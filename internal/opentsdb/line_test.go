package opentsdb

import (
	"math"
	"regexp"
	"testing"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels []string
		t      int64
		v      float64
		want   string
		skip   string
	}{
		{"integer, whole second", []string{"__name__", "http_requests_total", "job", "nginx", "code", "200"}, 1700000000000, 42,
			"put http_requests_total 1700000000 42 code=200 job=nginx\n", ""},
		{"milliseconds", []string{"__name__", "up", "job", "x"}, 1700000000123, 1, "put up 1700000000123 1 job=x\n", ""},
		{"float", []string{"__name__", "m", "job", "x"}, 1000, 0.1, "put m 1 0.1 job=x\n", ""},
		{"negative float", []string{"__name__", "m", "job", "x"}, 1000, -2.5e-7, "put m 1 -2.5e-07 job=x\n", ""},
		{"negative integer", []string{"__name__", "m", "job", "x"}, 1000, -3, "put m 1 -3 job=x\n", ""},
		{"negative zero", []string{"__name__", "m", "job", "x"}, 1000, math.Copysign(0, -1), "put m 1 0 job=x\n", ""},
		{"large integer", []string{"__name__", "m", "job", "x"}, 1000, 1 << 52, "put m 1 4503599627370496 job=x\n", ""},
		{"too large for an integer", []string{"__name__", "m", "job", "x"}, 1000, 1e21, "put m 1 1e+21 job=x\n", ""},
		{"max float", []string{"__name__", "m", "job", "x"}, 1000, math.MaxFloat64, "put m 1 1.7976931348623157e+308 job=x\n", ""},
		{"time zero", []string{"__name__", "m", "job", "x"}, 0, 1, "put m 0 1 job=x\n", ""},
		{"recording rule colons", []string{"__name__", "job:http_requests:rate5m", "job", "x"}, 1000, 1, "put job_http_requests_rate5m 1 1 job=x\n", ""},
		{"allowed punctuation kept", []string{"__name__", "a-b_c.d/e", "job", "x", "path", "/api/v1.2/x-y_z"}, 1000, 1,
			"put a-b_c.d/e 1 1 job=x path=/api/v1.2/x-y_z\n", ""},
		{"escaped tag values", []string{"__name__", "m", "job", "web app", "query", "a=b&c d", "quote", `"x'y\z`, "tab", "a\tb\nc"}, 1000, 1,
			"put m 1 1 job=web_app query=a_b_c_d quote=_x_y_z tab=a_b_c\n", ""},
		{"unicode letters and digits kept", []string{"__name__", "température", "job", "maison", "pièce", "salon-٣", "emoji", "ok✓"}, 1000, 1,
			"put température 1 1 emoji=ok_ job=maison pièce=salon-٣\n", ""},
		{"invalid UTF-8", []string{"__name__", "m\xff", "job", "a\xc3"}, 1000, 1, "put m_ 1 1 job=a_\n", ""},
		{"NaN", []string{"__name__", "m", "job", "x"}, 1000, math.NaN(), "", skipNonFinite},
		{"+Inf", []string{"__name__", "m", "job", "x"}, 1000, math.Inf(1), "", skipNonFinite},
		{"-Inf", []string{"__name__", "m", "job", "x"}, 1000, math.Inf(-1), "", skipNonFinite},
		{"no name", []string{"job", "x"}, 1000, 1, "", skipNoName},
		{"no tags", []string{"__name__", "m"}, 1000, 1, "", skipNoTags},
		{"before 1970", []string{"__name__", "m", "job", "x"}, -1000, 1, "", skipBadTime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := metricstore.Sample{Labels: metricstore.FromStrings(tc.labels...), T: tc.t, V: tc.v}
			got, skip := appendLine([]byte("prefix"), s)
			if string(got) != "prefix"+tc.want || skip != tc.skip {
				t.Errorf("got %q, %q; want %q, %q", got, skip, "prefix"+tc.want, tc.skip)
			}
			if line := Line(nil, s); string(line) != tc.want {
				t.Errorf("Line: %q", line)
			}
		})
	}
}

// lineRE is what OpenTSDB accepts: a name, a time in seconds or
// milliseconds, a number and at least one tag, of its characters.
var lineRE = regexp.MustCompile(`^put [\pL\pN\-_./]+ \d+ -?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?( [\pL\pN\-_./]+=[\pL\pN\-_./]+)+\n$`)

// FuzzLine checks that Line writes either nothing or one line OpenTSDB
// accepts.
func FuzzLine(f *testing.F) {
	f.Add("http_requests_total", "code", "200", int64(1700000000000), 1.5)
	f.Add("a:b", "tag with space", "välue=x", int64(12), math.NaN())
	f.Fuzz(func(t *testing.T, name, tag, value string, ts int64, v float64) {
		s := metricstore.Sample{Labels: metricstore.FromStrings("__name__", name, "job", "j", "t"+tag, value), T: ts, V: v}
		line := Line(nil, s)
		if len(line) == 0 {
			return
		}
		if !lineRE.Match(line) {
			t.Fatalf("bad line %q", line)
		}
	})
}

// BenchmarkLine formats a typical access-log counter sample.
func BenchmarkLine(b *testing.B) {
	s := metricstore.Sample{
		Labels: metricstore.FromStrings("__name__", "http_requests_total", "job", "nginx", "instance", "web-1:80", "code", "200", "path", "/api/v1/items"),
		T:      1700000000000,
		V:      12345,
	}
	buf := Line(nil, s)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = Line(buf[:0], s)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
