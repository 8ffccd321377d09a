package report

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// noValue stands for a figure that has no value.
const noValue = "—"

// groupDigits writes the integer part of s with thousands separators.
func groupDigits(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// fmtCount writes a count in full: 12,345,678.
func fmtCount(v float64) string {
	if math.IsNaN(v) {
		return noValue
	}
	return groupDigits(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
}

// fmtShort writes a number with an SI suffix: 950, 12.3k, 4.56M.
func fmtShort(v float64) string {
	if math.IsNaN(v) {
		return noValue
	}
	a := math.Abs(v)
	for _, u := range []struct {
		div float64
		suf string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if a >= u.div {
			return trimZeros(strconv.FormatFloat(v/u.div, 'f', decimals(a/u.div), 64)) + u.suf
		}
	}
	return trimZeros(strconv.FormatFloat(v, 'f', decimals(a), 64))
}

// decimals gives 3 significant digits for numbers under 1000.
func decimals(a float64) int {
	switch {
	case a == 0 || a >= 100:
		return 0
	case a >= 10:
		return 1
	case a >= 1:
		return 2
	}
	return 3
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// fmtRate writes requests per second: 0.42, 12.5, 1,234.
func fmtRate(v float64) string {
	if math.IsNaN(v) {
		return noValue
	}
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return groupDigits(strconv.FormatFloat(v, 'f', 0, 64))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// fmtSeconds writes a duration in its best unit: 850 µs, 4.5 ms, 183 ms, 1.25 s.
func fmtSeconds(s float64) string {
	switch {
	case math.IsNaN(s) || math.IsInf(s, 0):
		return noValue
	case s < 0.001:
		return strconv.FormatFloat(s*1e6, 'f', 0, 64) + " µs"
	case s < 0.01:
		return strconv.FormatFloat(s*1e3, 'f', 1, 64) + " ms"
	case s < 1:
		return strconv.FormatFloat(s*1e3, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(s, 'f', 2, 64) + " s"
}

// fmtShare writes a share of 0…1 as a percentage, with more digits near
// 100%: 87.25%, 99.953%, 100%.
func fmtShare(v float64) string {
	if math.IsNaN(v) {
		return noValue
	}
	return fmtPercent(v * 100)
}

// fmtPercent writes a percentage.
func fmtPercent(p float64) string {
	switch {
	case math.IsNaN(p):
		return noValue
	case p == 100 || p == 0:
		return strconv.FormatFloat(p, 'f', 0, 64) + "%"
	case p >= 99 && p < 100:
		return strconv.FormatFloat(p, 'f', 3, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// fmtBytes writes bytes in decimal units: 1.23 GB.
func fmtBytes(v float64) string {
	if math.IsNaN(v) {
		return noValue
	}
	for _, u := range []struct {
		div float64
		suf string
	}{{1e15, "PB"}, {1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}} {
		if math.Abs(v) >= u.div {
			return strconv.FormatFloat(v/u.div, 'f', 2, 64) + " " + u.suf
		}
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " B"
}

// fmtBits writes a byte rate as bits per second: 120 Mbit/s.
func fmtBits(bytesPerSec float64) string {
	if math.IsNaN(bytesPerSec) {
		return noValue
	}
	v := bytesPerSec * 8
	for _, u := range []struct {
		div float64
		suf string
	}{{1e9, "Gbit/s"}, {1e6, "Mbit/s"}, {1e3, "kbit/s"}} {
		if v >= u.div {
			return trimZeros(strconv.FormatFloat(v/u.div, 'f', decimals(v/u.div), 64)) + " " + u.suf
		}
	}
	return trimZeros(strconv.FormatFloat(v, 'f', decimals(v), 64)) + " bit/s"
}

// fmtWhen writes a time of the report: Tue 3 Mar 14:03:15 (seconds only
// when they are not zero).
func fmtWhen(t time.Time) string {
	if t.IsZero() {
		return noValue
	}
	if t.Second() != 0 {
		return t.Format("Mon 2 Jan 15:04:05")
	}
	return t.Format("Mon 2 Jan 15:04")
}

// Change is a figure's week-over-week change, ready to show.
type Change struct {
	OK    bool    // both weeks have the figure
	Delta float64 // relative change in %, or percentage points with Points
	Text  string  // "▲ 12%", "▼ 0.40 pp", "= 0%", "n/a"
	Class string  // good, bad, same, na: for colour, never alone
	Title string  // the previous value, for the tooltip
}

// Directions of a figure: which way is better.
const (
	higherBetter = 1
	neutral      = 0
	lowerBetter  = -1
)

// change compares cur with prev. points compares shares in percentage
// points (cur and prev in 0…1) rather than relative %. prevText is the
// previous value as shown.
func change(cur, prev float64, hasPrev bool, better int, points bool, prevText string) Change {
	c := Change{Text: "n/a", Class: "na", Title: "no data in the previous period"}
	if !hasPrev || math.IsNaN(prev) || math.IsNaN(cur) {
		return c
	}
	c.Title = "previous period: " + prevText
	c.OK = true
	var txt string
	if points {
		c.Delta = (cur - prev) * 100
		txt = strconv.FormatFloat(math.Abs(c.Delta), 'f', 2, 64) + " pp"
	} else {
		if prev == 0 {
			if cur == 0 {
				c.Text, c.Class = "= 0%", "same"
				return c
			}
			c.OK = false
			c.Text, c.Class = "▲ from 0", classOf(1, better)
			return c
		}
		c.Delta = (cur - prev) / math.Abs(prev) * 100
		d := math.Abs(c.Delta)
		prec := 0
		if d < 10 {
			prec = 1
		}
		txt = strconv.FormatFloat(d, 'f', prec, 64) + "%"
	}
	switch {
	case cur == prev:
		c.Text, c.Class = "= 0%", "same"
		if points {
			c.Text = "= 0 pp"
		}
	case cur > prev:
		c.Text, c.Class = "▲ "+txt, classOf(1, better)
	default:
		c.Text, c.Class = "▼ "+txt, classOf(-1, better)
	}
	return c
}

func classOf(dir, better int) string {
	switch {
	case better == neutral:
		return "neutral"
	case dir == better:
		return "good"
	}
	return "bad"
}
