package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// NoData is what an empty chart says.
const NoData = "no data for this range"

// style is how a series is drawn; series differ by dash or fill as well
// as by colour, so that no chart relies on colour alone.
type style struct {
	color string
	dash  string  // stroke-dasharray of lines; "" solid
	width float64 // line width
	fill  bool    // bars: filled, else outlined
}

// Styles of series, by role.
var (
	styleThis    = style{color: "#0f766e", width: 2, fill: true}        // this week
	stylePrev    = style{color: "#6b7280", dash: "5 4", width: 1.5}     // previous week
	stylePeak    = style{color: "#b45309", dash: "1.5 2.5", width: 1.5} // hourly peaks
	styleP50     = style{color: "#0f766e", width: 2}
	styleP95     = style{color: "#1d4ed8", dash: "7 3", width: 2}
	styleP99     = style{color: "#be123c", dash: "2 2.5", width: 2}
	styleErrors  = style{color: "#b91c1c", width: 1.5, fill: true}
	styleHosts   = []style{{color: "#0f766e", width: 1.5}, {color: "#1d4ed8", dash: "6 3", width: 1.5}, {color: "#9333ea", dash: "2 2.5", width: 1.5}, {color: "#b45309", dash: "8 3 2 3", width: 1.5}}
	styleIn      = style{color: "#1d4ed8", width: 1.5}
	styleOut     = style{color: "#b45309", dash: "6 3", width: 1.5}
	chartTextCol = "#374151"
	chartGridCol = "#e5e7eb"
	chartAxisCol = "#9ca3af"
)

// Chart is one SVG chart: bars over categories, or lines over time.
// Every chart has a y axis label with its unit, an x axis label and a
// legend, and says NoData when it has nothing to draw.
type Chart struct {
	Label  string // what it shows, for screen readers
	YLabel string // the y axis, with its unit: "requests per day"
	XLabel string
	Tick   func(float64) string // y tick labels; nil: fmtShort
	YMax   float64              // a fixed top, such as 100 for %; 0: from the data

	Categories []string // bar charts: one group of bars each
	Bars       []BarSeries
	BarLabels  bool // write the first series' values above its bars

	From, To time.Time // line charts: the time axis
	Loc      *time.Location
	Lines    []LineSeries
	Marker   *Marker
}

// BarSeries is one series of a bar chart: a value per category (NaN: none).
type BarSeries struct {
	Name   string
	Values []float64
	style  style
}

// LineSeries is one line over time.
type LineSeries struct {
	Name   string
	Points []metricstore.Point
	style  style
	// spiky series (and the marker) set the scale only up to twice the
	// others' highest value; above the top they are drawn at the top, so
	// that one spike does not flatten the daily shape.
	spiky bool
}

// Marker points at one value of a line chart, such as the peak.
type Marker struct {
	T     time.Time
	V     float64
	Label string
}

// Chart geometry, in SVG units.
const (
	chartW     = 720.0
	chartH     = 230.0
	padLeft    = 66.0
	padRight   = 14.0
	padTop     = 30.0
	padBottom  = 44.0
	fontSize   = 11.0
	legendSize = 11.5
)

func (c *Chart) empty() bool {
	for _, b := range c.Bars {
		for _, v := range b.Values {
			if !math.IsNaN(v) {
				return false
			}
		}
	}
	for _, l := range c.Lines {
		if len(l.Points) > 0 {
			return false
		}
	}
	return true
}

// SVG draws the chart.
func (c *Chart) SVG() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg" font-family="inherit" font-size="%g">`,
		chartW, chartH, html.EscapeString(c.Label), fontSize)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(c.Label))
	x0, x1, y0, y1 := padLeft, chartW-padRight, padTop, chartH-padBottom
	empty := c.empty()
	var top, step float64
	tick := c.Tick
	if tick == nil {
		tick = fmtShort
	}
	if !empty {
		// Room on the left for the widest tick label and the axis label.
		top, step = niceScale(c.maxValue(), c.YMax)
		widest := 0.0
		for v := 0.0; v <= top+step/1e6; v += step {
			widest = max(widest, textWidth(tick(v), fontSize))
		}
		x0 = max(48, widest+36)
	}
	// Axis labels.
	fmt.Fprintf(&b, `<text x="14" y="%.1f" transform="rotate(-90 14 %.1f)" text-anchor="middle" fill="%s">%s</text>`,
		(y0+y1)/2, (y0+y1)/2, chartTextCol, html.EscapeString(c.YLabel))
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s">%s</text>`, (x0+x1)/2, chartH-6, chartTextCol, html.EscapeString(c.XLabel))
	c.legend(&b, x0)
	if empty {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#f9fafb" stroke="%s" stroke-dasharray="4 3"/>`, x0, y0, x1-x0, y1-y0, chartAxisCol)
		fmt.Fprintf(&b, `<text class="nodata" x="%.1f" y="%.1f" text-anchor="middle" font-size="14" fill="#4b5563">%s</text>`, (x0+x1)/2, (y0+y1)/2+5, NoData)
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	yOf := func(v float64) float64 { return y1 - min(v, top)/top*(y1-y0) }
	for v := 0.0; v <= top+step/1e6; v += step {
		y := yOf(v)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`, x0, x1, y, y, chartGridCol)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="%s">%s</text>`, x0-6, y+4, chartTextCol, html.EscapeString(tick(v)))
	}
	if len(c.Bars) > 0 {
		c.drawBars(&b, x0, x1, y1, yOf)
	} else {
		c.drawLines(&b, x0, x1, y0, y1, yOf)
	}
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`, x0, x1, y1, y1, chartAxisCol)
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`, x0, x0, y0, y1, chartAxisCol)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func (c *Chart) legend(b *strings.Builder, x float64) {
	item := func(name string, s style, bar bool) {
		if bar {
			if s.fill {
				fmt.Fprintf(b, `<rect x="%.1f" y="9" width="14" height="11" fill="%s"/>`, x, s.color)
			} else {
				fmt.Fprintf(b, `<rect x="%.1f" y="9.5" width="13" height="10" fill="#fff" stroke="%s" stroke-width="1.5"/>`, x+.5, s.color)
			}
		} else {
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="15" y2="15" stroke="%s" stroke-width="%g"%s/>`, x, x+22, s.color, s.width+0.5, dashAttr(s.dash))
		}
		w := 14.0
		if !bar {
			w = 22
		}
		fmt.Fprintf(b, `<text x="%.1f" y="19" font-size="%g" fill="%s">%s</text>`, x+w+5, legendSize, chartTextCol, html.EscapeString(name))
		x += w + 5 + textWidth(name, legendSize) + 14
	}
	for _, s := range c.Bars {
		item(s.Name, s.style, true)
	}
	for _, s := range c.Lines {
		item(s.Name, s.style, false)
	}
	if c.Marker != nil {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="15" r="4" fill="#fff" stroke="#b45309" stroke-width="2"/>`, x+5)
		fmt.Fprintf(b, `<text x="%.1f" y="19" font-size="%g" fill="%s">peak</text>`, x+14, legendSize, chartTextCol)
	}
}

// textWidth estimates the width of s in a sans-serif font of size px.
func textWidth(s string, px float64) float64 {
	return float64(len([]rune(s))) * px * 0.5
}

func dashAttr(d string) string {
	if d == "" {
		return ""
	}
	return ` stroke-dasharray="` + d + `"`
}

func (c *Chart) maxValue() float64 {
	m, spikes := 0.0, 0.0
	for _, s := range c.Bars {
		for _, v := range s.Values {
			if !math.IsNaN(v) && v > m {
				m = v
			}
		}
	}
	for _, s := range c.Lines {
		for _, p := range s.Points {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			if s.spiky {
				spikes = max(spikes, p.V)
			} else {
				m = max(m, p.V)
			}
		}
	}
	if c.Marker != nil {
		spikes = max(spikes, c.Marker.V)
	}
	if m == 0 {
		return spikes
	}
	return max(m, min(spikes, 2*m))
}

// niceScale returns the top of the y axis and its tick step: 4 to 6
// steps of 1, 2, 2.5 or 5 times a power of ten.
func niceScale(max, fixed float64) (top, step float64) {
	if fixed > 0 {
		return fixed, fixed / 4
	}
	if max <= 0 {
		return 1, 0.25
	}
	raw := max / 4
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * pow
		if step >= raw {
			break
		}
	}
	top = math.Ceil(max/step) * step
	if top < max*1.04 { // room above the highest value
		top += step
	}
	return top, step
}

func (c *Chart) drawBars(b *strings.Builder, x0, x1, y1 float64, yOf func(float64) float64) {
	n := len(c.Categories)
	if n == 0 {
		return
	}
	slot := (x1 - x0) / float64(n)
	group := slot * 0.72
	bw := group / float64(len(c.Bars))
	for i, cat := range c.Categories {
		gx := x0 + slot*float64(i) + (slot-group)/2
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s">%s</text>`, x0+slot*(float64(i)+.5), y1+16, chartTextCol, html.EscapeString(cat))
		for j, s := range c.Bars {
			if i >= len(s.Values) || math.IsNaN(s.Values[i]) {
				continue
			}
			v := s.Values[i]
			x, y := gx+bw*float64(j)+1, yOf(v)
			h := y1 - y
			if s.style.fill {
				fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`, x, y, bw-2, h, s.style.color, html.EscapeString(s.Name), fmtCount(v))
			} else {
				fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fff" stroke="%s" stroke-width="1.5"><title>%s: %s</title></rect>`, x+.75, y+.75, bw-3.5, max(h-.75, 0), s.style.color, html.EscapeString(s.Name), fmtCount(v))
			}
			if c.BarLabels && j == 0 {
				fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" font-weight="600" fill="%s">%s</text>`, x+(bw-2)/2, y-4, chartTextCol, fmtShort(v))
			}
		}
	}
}

func (c *Chart) drawLines(b *strings.Builder, x0, x1, y0, y1 float64, yOf func(float64) float64) {
	loc := c.Loc
	if loc == nil {
		loc = time.Local
	}
	span := float64(c.To.Sub(c.From).Milliseconds())
	xOf := func(ms int64) float64 { return x0 + float64(ms-c.From.UnixMilli())/span*(x1-x0) }
	// Day lines at midnights, day names between them.
	ds := days(c.From, c.To, loc)
	every := (len(ds) + 13) / 14
	for i, d := range ds {
		if i > 0 {
			x := xOf(d[0].UnixMilli())
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`, x, x, y0, y1, chartGridCol)
		}
		if i%every != 0 || d[1].Sub(d[0]) < 6*time.Hour {
			continue
		}
		mid := xOf(d[0].UnixMilli() + d[1].Sub(d[0]).Milliseconds()/2)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s">%s</text>`, mid, y1+16, chartTextCol, d[0].Format("Mon 2"))
	}
	for _, s := range c.Lines {
		if len(s.Points) == 0 {
			continue
		}
		gap := minSpacing(s.Points) * 3 / 2
		var p strings.Builder
		prev := int64(math.MinInt64)
		for _, pt := range s.Points {
			if math.IsNaN(pt.V) || math.IsInf(pt.V, 0) {
				prev = math.MinInt64
				continue
			}
			cmd := "L"
			if prev == math.MinInt64 || pt.T-prev > gap {
				cmd = "M"
			}
			fmt.Fprintf(&p, "%s%.1f %.1f", cmd, xOf(pt.T), yOf(pt.V))
			prev = pt.T
		}
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="%g" stroke-linejoin="round"%s/>`, p.String(), s.style.color, s.style.width, dashAttr(s.style.dash))
	}
	if m := c.Marker; m != nil {
		x, y := xOf(m.T.UnixMilli()), yOf(m.V)
		label := m.Label
		if y <= y0+0.5 && m.V > 0 {
			label = "▲ " + label + " (above the scale)"
		}
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4.5" fill="#fff" stroke="#b45309" stroke-width="2"/>`, x, y)
		anchor, tx := "start", x+8
		if x > (x0+x1)/2 {
			anchor, tx = "end", x-8
		}
		ty := max(y+4, y0+12)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="11" font-weight="700" fill="#92400e" stroke="#fff" stroke-width="3" paint-order="stroke">%s</text>`, tx, ty, anchor, html.EscapeString(label))
	}
}

// minSpacing is the smallest time between two points, at least 1 ms.
func minSpacing(pts []metricstore.Point) int64 {
	m := int64(math.MaxInt64)
	for i := 1; i < len(pts); i++ {
		if d := pts[i].T - pts[i-1].T; d > 0 && d < m {
			m = d
		}
	}
	if m == math.MaxInt64 {
		return 1
	}
	return m
}
