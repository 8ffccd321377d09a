package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/metricstore"
)

// The report's own template: a standalone document, not a page of the
// UI's layout, so that the file needs nothing else.
var reportTemplate = template.Must(template.New("weekly.html").ParseFS(templatesFS, "templates/weekly.html"))

// WriteHTML writes w as a self-contained HTML document: inline CSS and
// SVG charts, no script, no external asset.
func (w *Weekly) WriteHTML(out io.Writer) error {
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, w.view()); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	_, err := out.Write(buf.Bytes())
	return err
}

// view is what the report template shows: every figure formatted.
type view struct {
	Scope        string // the job, or "All jobs"
	FromUTC      string // RFC 3339, read back by List
	ToUTC        string
	Overall      bool
	Period       string
	PeriodDetail string
	PrevPeriod   string
	Generated    string
	Cards        []card
	Facts        []card
	Jobs         []jobRow
	Daily        template.HTML
	Hourly       template.HTML
	Latency      template.HTML
	Errors       template.HTML
	Days         []dayRow
	SlowPaths    []pathRow
	SlowNote     string
	FailingPaths []pathRow
	Alerts       alertsView
	Hosts        []hostRow
	HostCharts   []figure
	Notes        []string
	PeakRes      string
	HostRes      string
	MinPathReq   int
}

type card struct {
	Label, Value, Unit, Sub string
	Change                  Change
}

type figure struct {
	Title, Caption string
	SVG            template.HTML
}

type jobRow struct {
	Job                                   string
	Requests, Peak, Availability, P95     string
	RequestsC, PeakC, AvailabilityC, P95C Change
}

type dayRow struct {
	Day, Requests, Errors5xx, Availability, Peak, PeakAt, P95 string
	RequestsC                                                 Change
}

type pathRow struct {
	Job, Path, Requests, Errors5xx, Share, P50, P95 string
	P95C, Errors5xxC                                Change
}

type alertsView struct {
	Available bool
	Why       string
	Fired     string
	FiredC    Change
	ByName    []nameRow
	List      []alertRow
	More      int
}

type nameRow struct {
	Name, Count string
	CountC      Change
}

type alertRow struct {
	Start, Duration, Severity, Name, Text string
}

type hostRow struct {
	Instance                           string
	CPU, CPUAt, CPUAvg                 string
	Mem, MemAt                         string
	NetIn, NetInAt, NetOut, NetOutAt   string
	Disk, DiskMount                    string
	CPUC, MemC, NetInC, NetOutC, DiskC Change
}

func (w *Weekly) view() view {
	last := w.To.Add(-time.Nanosecond)
	v := view{
		Scope:      w.Job,
		FromUTC:    w.From.UTC().Format(time.RFC3339),
		ToUTC:      w.To.UTC().Format(time.RFC3339),
		Overall:    w.Job == "",
		Period:     fmtPeriod(w.From, last),
		PrevPeriod: fmtPeriod(w.PrevFrom, w.From.Add(-time.Nanosecond)),
		PeriodDetail: fmt.Sprintf("%s to %s, %s", w.From.Format("Mon 2 Jan 2006 15:04"), w.To.Format("Mon 2 Jan 2006 15:04"),
			zoneName(w.Location, w.From)),
		Generated:  w.Generated.Format("2 Jan 2006 15:04 MST"),
		Notes:      w.Notes,
		PeakRes:    fmt.Sprintf("the highest average request rate over %s, evaluated every %s", fmtDur(PeakWindow), fmtDur(PeakStep)),
		HostRes:    fmtDur(HostStep),
		MinPathReq: MinPathRequests,
	}
	if v.Overall {
		v.Scope = "All jobs"
	}
	cur, prev := w.Cur, w.Prev
	hp := prev.Found
	v.Cards = []card{
		{Label: "Requests", Value: fmtShort(cur.Requests), Sub: fmtCount(cur.Requests) + " in the period",
			Change: change(cur.Requests, prev.Requests, hp, neutral, false, fmtCount(prev.Requests))},
		{Label: "Peak", Value: fmtRate(cur.PeakRPS), Unit: "req/s", Sub: fmtWhen(cur.PeakAt),
			Change: change(cur.PeakRPS, prev.PeakRPS, hp && !prev.PeakAt.IsZero(), neutral, false, fmtRate(prev.PeakRPS)+" req/s")},
		{Label: "Availability", Value: fmtShare(cur.Availability()), Sub: "responses that are not 5xx",
			Change: change(cur.Availability(), prev.Availability(), hp, higherBetter, true, fmtShare(prev.Availability()))},
		{Label: "p95 latency", Value: fmtSeconds(cur.Latency[1]), Sub: "95% of requests were faster",
			Change: change(cur.Latency[1], prev.Latency[1], hp, lowerBetter, false, fmtSeconds(prev.Latency[1]))},
		{Label: "5xx responses", Value: fmtShort(cur.Errors5xx), Sub: fmtCount(cur.Errors5xx) + " server errors",
			Change: change(cur.Errors5xx, prev.Errors5xx, hp, lowerBetter, false, fmtCount(prev.Errors5xx))},
		{Label: "p50 latency", Value: fmtSeconds(cur.Latency[0]), Sub: "the median request",
			Change: change(cur.Latency[0], prev.Latency[0], hp, lowerBetter, false, fmtSeconds(prev.Latency[0]))},
		{Label: "p99 latency", Value: fmtSeconds(cur.Latency[2]), Sub: "1 request in 100 was slower",
			Change: change(cur.Latency[2], prev.Latency[2], hp, lowerBetter, false, fmtSeconds(prev.Latency[2]))},
		{Label: "Alerts fired", Value: alertsValue(w.Alerts), Sub: alertsSub(w.Alerts),
			Change: change(float64(w.Alerts.Fired), float64(w.Alerts.PrevFired), w.Alerts.Available, lowerBetter, false, strconv.Itoa(w.Alerts.PrevFired))},
	}
	if !cur.Found {
		for i := range v.Cards[:7] {
			v.Cards[i].Value, v.Cards[i].Unit, v.Cards[i].Sub = noValue, "", NoData
		}
	}
	v.Facts = []card{
		{Label: "Bytes sent", Value: fmtBytes(cur.Bytes), Change: change(cur.Bytes, prev.Bytes, hp, neutral, false, fmtBytes(prev.Bytes))},
		{Label: "4xx responses", Value: fmtCount(cur.Errors4xx), Change: change(cur.Errors4xx, prev.Errors4xx, hp, lowerBetter, false, fmtCount(prev.Errors4xx))},
		{Label: "Mean latency", Value: fmtSeconds(cur.Mean), Change: change(cur.Mean, prev.Mean, hp, lowerBetter, false, fmtSeconds(prev.Mean))},
		{Label: "Average rate", Value: fmtRate(cur.Requests / w.To.Sub(w.From).Seconds()), Unit: "req/s",
			Change: change(cur.Requests, prev.Requests, hp, neutral, false, fmtRate(prev.Requests/w.From.Sub(w.PrevFrom).Seconds())+" req/s")},
	}
	if !cur.Found {
		for i := range v.Facts {
			v.Facts[i].Value, v.Facts[i].Unit = noValue, ""
		}
	}
	for _, j := range w.Jobs {
		jt := w.ByJob[j]
		if jt == nil {
			continue
		}
		c, p, hp := jt.Cur, jt.Prev, jt.Prev.Found
		v.Jobs = append(v.Jobs, jobRow{
			Job: j, Requests: fmtCount(c.Requests), Peak: fmtRate(c.PeakRPS), Availability: fmtShare(c.Availability()), P95: fmtSeconds(c.Latency[1]),
			RequestsC:     change(c.Requests, p.Requests, hp, neutral, false, fmtCount(p.Requests)),
			PeakC:         change(c.PeakRPS, p.PeakRPS, hp && !p.PeakAt.IsZero(), neutral, false, fmtRate(p.PeakRPS)),
			AvailabilityC: change(c.Availability(), p.Availability(), hp, higherBetter, true, fmtShare(p.Availability())),
			P95C:          change(c.Latency[1], p.Latency[1], hp, lowerBetter, false, fmtSeconds(p.Latency[1])),
		})
	}
	v.traffic(w)
	v.paths(w)
	v.alerts(w)
	v.hosts(w)
	return v
}

func (v *view) traffic(w *Weekly) {
	daily := &Chart{
		Label: "Requests per day, this period and the previous one", YLabel: "requests per day",
		XLabel: "day (" + zoneName(w.Location, w.From) + ")", BarLabels: true,
	}
	this := BarSeries{Name: "this period", style: styleThis}
	prev := BarSeries{Name: "previous period", style: stylePrev}
	for i, d := range w.Days {
		daily.Categories = append(daily.Categories, d.From.Format("Mon 2"))
		this.Values = append(this.Values, nanIfNot(w.Cur.Found, d.Requests))
		pv := math.NaN()
		if i < len(w.PrevDays) && w.Prev.Found {
			pv = w.PrevDays[i].Requests
		}
		prev.Values = append(prev.Values, pv)
		row := dayRow{
			Day: d.From.Format("Mon 2 Jan"), Requests: fmtCount(d.Requests), Errors5xx: fmtCount(d.Errors5xx),
			Availability: fmtShare(availability(d.Requests, d.Errors5xx)), Peak: fmtRate(d.PeakRPS), PeakAt: d.PeakAt.Format("15:04:05"),
			P95: fmtSeconds(d.P95), RequestsC: change(d.Requests, pv, !math.IsNaN(pv), neutral, false, fmtCount(pv)),
		}
		if d.PeakAt.IsZero() {
			row.Peak, row.PeakAt = noValue, ""
		}
		if !w.Cur.Found {
			row = dayRow{Day: row.Day, Requests: noValue, Errors5xx: noValue, Availability: noValue, Peak: noValue, P95: noValue, RequestsC: change(0, 0, false, 0, false, "")}
		}
		v.Days = append(v.Days, row)
	}
	daily.Bars = []BarSeries{this, prev}
	v.Daily = daily.SVG()

	hourly := &Chart{
		Label:  "Requests per second by hour: average, highest 1-minute rate, and the previous period's average",
		YLabel: "requests per second (req/s)", XLabel: "time (" + zoneName(w.Location, w.From) + ")",
		From: w.From, To: w.To, Loc: w.Location, Tick: fmtShort,
		Lines: []LineSeries{
			{Name: "hourly average", Points: w.HourlyRPS, style: styleThis},
			{Name: "highest 1-min rate in the hour", Points: w.HourlyPeakRPS, style: stylePeak, spiky: true},
			{Name: "previous period, hourly average", Points: w.PrevHourlyRPS, style: stylePrev},
		},
	}
	if !w.Cur.PeakAt.IsZero() {
		hourly.Marker = &Marker{T: w.Cur.PeakAt, V: w.Cur.PeakRPS, Label: "peak " + fmtRate(w.Cur.PeakRPS) + " req/s · " + fmtWhen(w.Cur.PeakAt)}
	}
	shiftHalfHour(hourly.Lines)
	v.Hourly = hourly.SVG()

	lat := &Chart{
		Label: "Latency percentiles by hour", YLabel: "latency (seconds)", XLabel: "time (" + zoneName(w.Location, w.From) + ")",
		From: w.From, To: w.To, Loc: w.Location, Tick: fmtSecondsTick,
		Lines: []LineSeries{
			{Name: "p50", Points: finite(w.HourlyLatency[0]), style: styleP50},
			{Name: "p95", Points: finite(w.HourlyLatency[1]), style: styleP95},
			{Name: "p99", Points: finite(w.HourlyLatency[2]), style: styleP99},
		},
	}
	shiftHalfHour(lat.Lines)
	v.Latency = lat.SVG()

	errs := &Chart{
		Label: "5xx responses per hour", YLabel: "5xx responses per hour", XLabel: "time (" + zoneName(w.Location, w.From) + ")",
		From: w.From, To: w.To, Loc: w.Location,
		Lines: []LineSeries{{Name: "5xx responses", Points: w.Hourly5xx, style: styleErrors}},
	}
	shiftHalfHour(errs.Lines)
	v.Errors = errs.SVG()
}

func (v *view) paths(w *Weekly) {
	for _, r := range w.SlowPaths {
		v.SlowPaths = append(v.SlowPaths, pathRow{
			Job: r.Job, Path: r.Path, Requests: fmtCount(r.Cur.Requests), P50: fmtSeconds(r.Cur.P50), P95: fmtSeconds(r.Cur.P95),
			P95C: change(r.Cur.P95, r.Prev.P95, r.Prev.Found, lowerBetter, false, fmtSeconds(r.Prev.P95)),
		})
	}
	if w.SlowAllPaths {
		v.SlowNote = fmt.Sprintf("No path had %d requests: every path is ranked, and a p95 of few requests says little.", MinPathRequests)
	}
	for _, r := range w.FailingPaths {
		v.FailingPaths = append(v.FailingPaths, pathRow{
			Job: r.Job, Path: r.Path, Requests: fmtCount(r.Cur.Requests), Errors5xx: fmtCount(r.Cur.Errors5xx),
			Share:      fmtShare(r.Cur.Errors5xx / r.Cur.Requests),
			Errors5xxC: change(r.Cur.Errors5xx, r.Prev.Errors5xx, r.Prev.Found, lowerBetter, false, fmtCount(r.Prev.Errors5xx)),
		})
	}
}

func (v *view) alerts(w *Weekly) {
	a := w.Alerts
	v.Alerts = alertsView{Available: a.Available, Why: a.Why, Fired: strconv.Itoa(a.Fired), More: a.More,
		FiredC: change(float64(a.Fired), float64(a.PrevFired), a.Available, lowerBetter, false, strconv.Itoa(a.PrevFired))}
	for _, n := range a.ByName {
		p, ok := a.PrevByName[n.Name]
		v.Alerts.ByName = append(v.Alerts.ByName, nameRow{Name: n.Name, Count: strconv.Itoa(n.Count),
			CountC: change(float64(n.Count), float64(p), ok || a.PrevFired > 0, lowerBetter, false, strconv.Itoa(p))})
	}
	for _, e := range a.List {
		v.Alerts.List = append(v.Alerts.List, alertRow{
			Start: fmtWhen(e.Time.In(w.Location)), Duration: alertDuration(e, w.To), Severity: string(e.Severity),
			Name: cmpOr(e.Labels["alertname"], e.Kind), Text: e.Text,
		})
	}
}

func (v *view) hosts(w *Weekly) {
	for _, h := range w.Hosts {
		c, p, hp := h.Cur, h.Prev, h.Prev.Found
		row := hostRow{
			Instance: h.Instance,
			CPU:      fmtPercent(c.CPU), CPUAt: fmtWhen(c.CPUAt), CPUAvg: fmtPercent(c.CPUAvg),
			Mem: fmtPercent(c.Mem), MemAt: fmtWhen(c.MemAt),
			NetIn: fmtBits(c.NetIn), NetInAt: fmtWhen(c.NetInAt), NetOut: fmtBits(c.NetOut), NetOutAt: fmtWhen(c.NetOutAt),
			Disk: fmtPercent(c.Disk), DiskMount: c.DiskMount,
			CPUC:    change(c.CPU/100, p.CPU/100, hp && !p.CPUAt.IsZero(), lowerBetter, true, fmtPercent(p.CPU)),
			MemC:    change(c.Mem/100, p.Mem/100, hp && !p.MemAt.IsZero(), lowerBetter, true, fmtPercent(p.Mem)),
			NetInC:  change(c.NetIn, p.NetIn, hp && !p.NetInAt.IsZero(), neutral, false, fmtBits(p.NetIn)),
			NetOutC: change(c.NetOut, p.NetOut, hp && !p.NetOutAt.IsZero(), neutral, false, fmtBits(p.NetOut)),
			DiskC:   change(c.Disk/100, p.Disk/100, hp && p.DiskMount != "", lowerBetter, true, fmtPercent(p.Disk)),
		}
		if c.CPUAt.IsZero() {
			row.CPU, row.CPUAt, row.CPUAvg = noValue, "", noValue
		}
		if c.MemAt.IsZero() {
			row.Mem, row.MemAt = noValue, ""
		}
		if c.NetInAt.IsZero() {
			row.NetIn, row.NetInAt = noValue, ""
		}
		if c.NetOutAt.IsZero() {
			row.NetOut, row.NetOutAt = noValue, ""
		}
		if c.DiskMount == "" {
			row.Disk = noValue
		}
		v.Hosts = append(v.Hosts, row)
	}
	const maxHostLines = 4
	cpu := &Chart{Label: "CPU busy by host", YLabel: "CPU busy (%)", YMax: 100, Tick: tickPercent}
	mem := &Chart{Label: "Memory used by host", YLabel: "memory used (%)", YMax: 100, Tick: tickPercent}
	net := &Chart{Label: "Network traffic by host", YLabel: "network (bit/s)", Tick: tickBits}
	for _, c := range []*Chart{cpu, mem, net} {
		c.From, c.To, c.Loc = w.From, w.To, w.Location
		c.XLabel = "time (" + zoneName(w.Location, w.From) + ")"
	}
	for i, h := range w.Hosts {
		if i == maxHostLines {
			break
		}
		cpu.Lines = append(cpu.Lines, LineSeries{Name: h.Instance, Points: h.CPU, style: styleHosts[i]})
		mem.Lines = append(mem.Lines, LineSeries{Name: h.Instance, Points: h.Mem, style: styleHosts[i]})
		if i < 2 {
			in, out := styleIn, styleOut
			if i == 1 {
				in, out = styleHosts[2], styleHosts[3]
			}
			net.Lines = append(net.Lines,
				LineSeries{Name: h.Instance + " in", Points: scale(h.NetIn, 8), style: in},
				LineSeries{Name: h.Instance + " out", Points: scale(h.NetOut, 8), style: out})
		}
	}
	if len(w.Hosts) == 0 {
		cpu.Lines = []LineSeries{{Name: "CPU busy", style: styleHosts[0]}}
		mem.Lines = []LineSeries{{Name: "memory used", style: styleHosts[0]}}
		net.Lines = []LineSeries{{Name: "in", style: styleIn}, {Name: "out", style: styleOut}}
	}
	step := fmtDur(HostStep)
	v.HostCharts = []figure{
		{"CPU busy", step + " averages: the share of CPU time not idle, averaged over the host's CPUs.", cpu.SVG()},
		{"Memory used", "The highest share of memory not available in each " + step + ".", mem.SVG()},
		{"Network", step + " averages of bits received (in) and sent (out), loopback left out" + firstHosts(len(w.Hosts), 2) + ".", net.SVG()},
	}
	if len(w.Hosts) > maxHostLines {
		v.HostCharts[0].Caption += firstHosts(len(w.Hosts), maxHostLines)
		v.HostCharts[1].Caption += firstHosts(len(w.Hosts), maxHostLines)
	}
}

func firstHosts(n, shown int) string {
	if n <= shown {
		return ""
	}
	return fmt.Sprintf("; the first %d of %d hosts", shown, n)
}

func availability(req, e5 float64) float64 {
	if req <= 0 {
		return math.NaN()
	}
	return 1 - e5/req
}

func nanIfNot(ok bool, v float64) float64 {
	if !ok {
		return math.NaN()
	}
	return v
}

// shiftHalfHour moves hourly points from the end of their hour to its
// middle, where they belong on a time axis.
func shiftHalfHour(ls []LineSeries) {
	for i := range ls {
		pts := make([]metricstore.Point, len(ls[i].Points))
		for j, p := range ls[i].Points {
			pts[j] = metricstore.Point{T: p.T - (30 * time.Minute).Milliseconds(), V: p.V}
		}
		ls[i].Points = pts
	}
}

func finite(pts []metricstore.Point) []metricstore.Point {
	out := make([]metricstore.Point, 0, len(pts))
	for _, p := range pts {
		if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
			out = append(out, p)
		}
	}
	return out
}

func scale(pts []metricstore.Point, f float64) []metricstore.Point {
	out := make([]metricstore.Point, len(pts))
	for i, p := range pts {
		out[i] = metricstore.Point{T: p.T, V: p.V * f}
	}
	return out
}

func tickPercent(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + "%" }

func tickBits(v float64) string {
	s := fmtBits(v / 8)
	if v == 0 {
		return "0"
	}
	return s
}

func fmtSecondsTick(v float64) string {
	if v == 0 {
		return "0"
	}
	return fmtSeconds(v)
}

func alertsValue(a Alerts) string {
	if !a.Available {
		return noValue
	}
	return strconv.Itoa(a.Fired)
}

func alertsSub(a Alerts) string {
	switch {
	case !a.Available:
		return "event log not available"
	case len(a.ByName) == 0:
		return "none fired"
	case len(a.ByName) == 1:
		return a.ByName[0].Name
	}
	return fmt.Sprintf("%s and %d more", a.ByName[0].Name, len(a.ByName)-1)
}

func alertDuration(e events.Event, to time.Time) string {
	switch {
	case !e.Lasting:
		return noValue
	case e.End.IsZero():
		return "still firing at the end"
	}
	return fmtDur(e.End.Sub(e.Time))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// fmtDur writes a duration shortly: 15 s, 1 min, 5 min, 2 h 5 min, 3 d 4 h.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Round(time.Minute)/time.Minute)) + " min"
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + " h"
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	d = d.Round(time.Hour)
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return strconv.Itoa(days) + " d"
	}
	return fmt.Sprintf("%d d %d h", days, h)
}

// fmtPeriod writes a period by its first and last day: 2–8 Mar 2026.
func fmtPeriod(first, last time.Time) string {
	switch {
	case first.Year() != last.Year():
		return first.Format("Mon 2 Jan 2006") + " – " + last.Format("Mon 2 Jan 2006")
	case first.YearDay() == last.YearDay():
		return first.Format("Mon 2 Jan 2006")
	}
	return first.Format("Mon 2 Jan") + " – " + last.Format("Mon 2 Jan 2006")
}

// zoneName names loc for people: its IANA name, or its abbreviation.
func zoneName(loc *time.Location, t time.Time) string {
	if n := loc.String(); n != "Local" && n != "" {
		return n
	}
	name, _ := t.In(loc).Zone()
	return name
}
