package report

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

func TestFormat(t *testing.T) {
	nan := math.NaN()
	tests := []struct{ got, want string }{
		{fmtCount(15246220), "15,246,220"},
		{fmtCount(999), "999"},
		{fmtCount(nan), "—"},
		{fmtShort(15246220), "15.2M"},
		{fmtShort(2230000), "2.23M"},
		{fmtShort(131320), "131k"},
		{fmtShort(950), "950"},
		{fmtShort(0), "0"},
		{fmtRate(1035), "1,035"},
		{fmtRate(123.45), "123.5"},
		{fmtRate(0.42), "0.42"},
		{fmtSeconds(0.52), "520 ms"},
		{fmtSeconds(0.0045), "4.5 ms"},
		{fmtSeconds(0.0004), "400 µs"},
		{fmtSeconds(1.5), "1.50 s"},
		{fmtSeconds(nan), "—"},
		{fmtShare(0.99139), "99.139%"},
		{fmtShare(1), "100%"},
		{fmtShare(0.5), "50.0%"},
		{fmtBits(5e7), "400 Mbit/s"},
		{fmtBits(1250), "10 kbit/s"},
		{fmtBytes(52.22e9), "52.22 GB"},
		{fmtBytes(999), "999 B"},
		{fmtDur(15 * time.Second), "15 s"},
		{fmtDur(5 * time.Minute), "5 min"},
		{fmtDur(125 * time.Minute), "2 h 5 min"},
		{fmtDur(76 * time.Hour), "3 d 4 h"},
		{fmtWhen(time.Date(2026, 3, 11, 14, 3, 0, 0, kst)), "Wed 11 Mar 14:03"},
		{fmtWhen(time.Date(2026, 3, 11, 14, 3, 15, 0, kst)), "Wed 11 Mar 14:03:15"},
		{fmtPeriod(weekFrom, weekTo.Add(-time.Nanosecond)), "Mon 9 Mar – Sun 15 Mar 2026"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestChange(t *testing.T) {
	tests := []struct {
		name        string
		cur, prev   float64
		hasPrev     bool
		better      int
		points      bool
		text, class string
		delta       float64
	}{
		{"up neutral", 120, 100, true, neutral, false, "▲ 20%", "neutral", 20},
		{"down good", 95, 100, true, lowerBetter, false, "▼ 5.0%", "good", -5},
		{"up bad", 110, 100, true, lowerBetter, false, "▲ 10%", "bad", 10},
		{"share down", 0.99, 0.995, true, higherBetter, true, "▼ 0.50 pp", "bad", -0.5},
		{"share same", 1, 1, true, higherBetter, true, "= 0 pp", "same", 0},
		{"same", 7, 7, true, lowerBetter, false, "= 0%", "same", 0},
		{"from zero", 5, 0, true, lowerBetter, false, "▲ from 0", "bad", 0},
		{"zero to zero", 0, 0, true, lowerBetter, false, "= 0%", "same", 0},
		{"no previous", 5, 0, false, lowerBetter, false, "n/a", "na", 0},
		{"previous NaN", 5, math.NaN(), true, lowerBetter, false, "n/a", "na", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := change(tc.cur, tc.prev, tc.hasPrev, tc.better, tc.points, "x")
			if c.Text != tc.text || c.Class != tc.class || math.Abs(c.Delta-tc.delta) > 1e-9 {
				t.Errorf("%+v, want %q %q %v", c, tc.text, tc.class, tc.delta)
			}
		})
	}
}

func TestChart(t *testing.T) {
	from := weekFrom
	pts := func(vals ...float64) []metricstore.Point {
		var out []metricstore.Point
		for i, v := range vals {
			out = append(out, metricstore.Point{T: from.Add(time.Duration(i+1) * time.Hour).UnixMilli(), V: v})
		}
		return out
	}
	t.Run("empty", func(t *testing.T) {
		c := &Chart{Label: "x", YLabel: "requests per day", XLabel: "day (KST)", Categories: []string{"Mon"},
			Bars: []BarSeries{{Name: "this period", Values: []float64{math.NaN()}, style: styleThis}}}
		svg := string(c.SVG())
		for _, want := range []string{NoData, "requests per day", "day (KST)", "this period"} {
			if !strings.Contains(svg, want) {
				t.Errorf("empty chart lacks %q", want)
			}
		}
	})
	t.Run("lines", func(t *testing.T) {
		p := pts(1, 2, 3)
		p = append(p, metricstore.Point{T: from.Add(10 * time.Hour).UnixMilli(), V: 4}) // after a gap
		c := &Chart{Label: "x", YLabel: "req/s", XLabel: "time", From: from, To: from.AddDate(0, 0, 7), Loc: kst,
			Lines:  []LineSeries{{Name: "avg", Points: p, style: styleThis}, {Name: "peak", Points: pts(100), style: stylePeak, spiky: true}},
			Marker: &Marker{T: from.Add(time.Hour), V: 100, Label: "peak 100"}}
		svg := string(c.SVG())
		if n := strings.Count(svg, "M"); n < 3 {
			t.Errorf("the gap does not split the line:\n%s", svg)
		}
		if strings.Contains(svg, "NaN") || strings.Contains(svg, NoData) {
			t.Errorf("bad chart:\n%s", svg)
		}
		// The spike is above twice the line's top: capped, and said so.
		if !strings.Contains(svg, "▲ peak 100 (above the scale)") {
			t.Errorf("capped marker not labelled:\n%s", svg)
		}
		for _, d := range []string{">Mon 9<", ">Sun 15<", ">req/s<", ">avg<"} {
			if !strings.Contains(svg, d) {
				t.Errorf("chart lacks %s", d)
			}
		}
	})
	t.Run("scale", func(t *testing.T) {
		for _, tc := range []struct{ max, top, step float64 }{{2.23e6, 3e6, 1e6}, {87, 100, 25}, {0, 1, 0.25}, {4, 5, 1}} {
			top, step := niceScale(tc.max, 0)
			if top != tc.top || step != tc.step {
				t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tc.max, top, step, tc.top, tc.step)
			}
		}
	})
}
