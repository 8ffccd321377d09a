package report

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/events"
)

// firing reports whether e is an alert starting, not one resolving.
func firing(e events.Event) bool { return !strings.Contains(e.Kind, "resolve") }

// alerts reads the alerts of the period and the one before from the event
// log (part "alerts"); a job report keeps those labelled with its job.
func alerts(ctx context.Context, ev EventLister, job string, from, to, prevFrom time.Time) Alerts {
	if ev == nil {
		return Alerts{Why: "no event log to read"}
	}
	f := events.Filter{From: prevFrom, To: to, Part: "alerts", Limit: 10000}
	if job != "" {
		f.Labels = map[string]string{"job": job}
	}
	list, err := ev.List(ctx, f)
	if err != nil {
		return Alerts{Why: "the event log could not be read: " + err.Error()}
	}
	a := Alerts{Available: true, PrevByName: map[string]int{}}
	names := map[string]int{}
	for _, e := range list {
		if !firing(e) {
			continue
		}
		name := e.Labels["alertname"]
		if name == "" {
			name = e.Text
		}
		inCur := !e.Time.Before(from) && e.Time.Before(to)
		if inCur {
			a.Fired++
			names[name]++
		}
		if !e.Time.Before(prevFrom) && e.Time.Before(from) {
			a.PrevFired++
			a.PrevByName[name]++
		}
		// Listed: alerts that started in the period, or before it and
		// lasted into it.
		if !inCur && !(e.Time.Before(from) && e.Lasting && (e.End.IsZero() || !e.End.Before(from))) {
			continue
		}
		if len(a.List) < maxAlertRows {
			a.List = append(a.List, e)
		} else {
			a.More++
		}
	}
	for n, c := range names {
		a.ByName = append(a.ByName, NameCount{n, c})
	}
	slices.SortFunc(a.ByName, func(x, y NameCount) int { return cmp.Or(-cmp.Compare(x.Count, y.Count), cmp.Compare(x.Name, y.Name)) })
	return a
}
