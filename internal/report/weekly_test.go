package report

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"
)

// near reports whether got equals want to 12 significant digits: what
// float sums in a different order may differ by.
func near(got, want float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= 1e-12*math.Max(math.Abs(got), math.Abs(want))
}

// TestBuild checks the report's figures against the traffic the fixture
// fed in: totals, days and peaks exactly (to the float), percentiles
// within the bucket of the true percentile (and equal to Prometheus's
// interpolation), week-over-week changes, paths, alerts and host peaks.
func TestBuild(t *testing.T) {
	f := loadFixture(t)
	t.Logf("fixture: two weeks at 15 s built in %s", f.took.Round(time.Millisecond))
	ctx := context.Background()
	store := f.svc.Store()

	for _, job := range []string{"web", ""} {
		name := job
		if name == "" {
			name = "all"
		}
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			w, err := Build(ctx, store, f.events, Options{Job: job, From: weekFrom, To: weekTo, Location: kst})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("report %s built in %s", name, time.Since(start).Round(time.Millisecond))
			for p, tr := range []Traffic{w.Prev, w.Cur} {
				e := f.want[p]
				period := []string{"previous week", "week"}[p]
				if !tr.Found {
					t.Fatalf("%s: no traffic found", period)
				}
				checkEq(t, period+" requests", tr.Requests, e.req[job])
				checkEq(t, period+" 5xx", tr.Errors5xx, e.e5xx[job])
				checkEq(t, period+" 4xx", tr.Errors4xx, e.e4xx[job])
				checkEq(t, period+" bytes", tr.Bytes, e.bytes[job])
				checkEq(t, period+" availability", tr.Availability(), 1-e.e5xx[job]/e.req[job])
				if !near(tr.PeakRPS, e.peak[job]) || !tr.PeakAt.Equal(e.peakAt[job]) {
					t.Errorf("%s peak: %v req/s at %s, want %v at %s", period, tr.PeakRPS, tr.PeakAt, e.peak[job], e.peakAt[job])
				}
				if !near(tr.Mean, e.durSum[job]/e.durCount[job]) {
					t.Errorf("%s mean latency: %v, want %v", period, tr.Mean, e.durSum[job]/e.durCount[job])
				}
				for i, q := range Quantiles {
					est, lo, hi := quantile(q, e.buckets[job])
					got := tr.Latency[i]
					if got < lo || got > hi {
						t.Errorf("%s p%g: %v, outside the bucket (%v, %v] of the true value", period, q*100, got, lo, hi)
					}
					if math.Abs(got-est) > 1e-9 {
						t.Errorf("%s p%g: %v, want %v", period, q*100, got, est)
					}
				}
				days := []Day{}
				if p == 0 {
					days = w.PrevDays
				} else {
					days = w.Days
				}
				if len(days) != 7 {
					t.Fatalf("%s: %d days", period, len(days))
				}
				for d, day := range days {
					checkEq(t, period+" "+day.From.Format("Mon")+" requests", day.Requests, e.dayReq[job][d])
					checkEq(t, period+" "+day.From.Format("Mon")+" 5xx", day.Errors5xx, e.day5xx[job][d])
					if !near(day.PeakRPS, e.dayPeak[job][d]) {
						t.Errorf("%s %s peak: %v, want %v", period, day.From.Format("Mon"), day.PeakRPS, e.dayPeak[job][d])
					}
				}
			}
			// The spikes make the peaks unambiguous.
			if !w.Cur.PeakAt.Equal(spikeCur) || !w.Prev.PeakAt.Equal(spikePrev) {
				t.Errorf("peaks at %s and %s, want the spikes at %s and %s", w.Cur.PeakAt, w.Prev.PeakAt, spikeCur, spikePrev)
			}
			if w.Cur.PeakAt.Location() != kst {
				t.Errorf("peak time in %s, want the report's zone", w.Cur.PeakAt.Location())
			}

			// Hourly series: the average rate of each hour.
			if len(w.HourlyRPS) != 168 || len(w.PrevHourlyRPS) != 168 {
				t.Fatalf("hourly: %d and %d points, want 168", len(w.HourlyRPS), len(w.PrevHourlyRPS))
			}
			for i, pt := range w.HourlyRPS {
				if want := f.want[1].hourlyReq[job][i] / 3600; !near(pt.V, want) || pt.T != weekFrom.Add(time.Duration(i+1)*time.Hour).UnixMilli() {
					t.Fatalf("hour %d: %v at %d, want %v", i, pt.V, pt.T, want)
				}
			}
			if pt := w.PrevHourlyRPS[0]; pt.T != weekFrom.Add(time.Hour).UnixMilli() || !near(pt.V, f.want[0].hourlyReq[job][0]/3600) {
				t.Errorf("previous week's first hour: %+v, shifted to this week's", pt)
			}

			// Week-over-week, as shown.
			v := w.view()
			reqs := v.Cards[0]
			wantPct := (w.Cur.Requests - w.Prev.Requests) / w.Prev.Requests * 100
			if !reqs.Change.OK || !near(reqs.Change.Delta, wantPct) || reqs.Change.Text[:len("▲")] != "▲" {
				t.Errorf("requests change: %+v, want ▲ %v%%", reqs.Change, wantPct)
			}
			avail := v.Cards[2].Change
			if wantPP := (w.Cur.Availability() - w.Prev.Availability()) * 100; !near(avail.Delta, wantPP) || avail.Class != "bad" {
				t.Errorf("availability change: %+v, want %v pp, bad", avail, wantPP)
			}

			// Paths.
			if len(w.FailingPaths) == 0 || w.FailingPaths[0].Path != "/api/items" {
				t.Fatalf("most failing paths: %+v, want /api/items first", w.FailingPaths)
			}
			top := w.FailingPaths[0]
			checkEq(t, "top failing path 5xx", top.Cur.Errors5xx, f.want[1].path5xx["web\x00/api/items"])
			checkEq(t, "top failing path 5xx last week", top.Prev.Errors5xx, f.want[0].path5xx["web\x00/api/items"])
			checkEq(t, "top failing path requests", top.Cur.Requests, f.want[1].pathReq["web\x00/api/items"])
			if len(w.FailingPaths) != 2 || w.FailingPaths[1].Path != "/api/search" {
				t.Errorf("failing paths: %+v, want /api/items, /api/search", w.FailingPaths)
			}
			if len(w.SlowPaths) == 0 || w.SlowPaths[0].Path != "/api/search" {
				t.Fatalf("slowest paths: %+v, want /api/search first", w.SlowPaths)
			}
			est, lo, hi := quantile(0.95, f.want[1].pathBuckets["web\x00/api/search"])
			if got := w.SlowPaths[0].Cur.P95; got < lo || got > hi || math.Abs(got-est) > 1e-9 {
				t.Errorf("p95 of /api/search: %v, want %v in (%v, %v]", got, est, lo, hi)
			}
			wantSlow := 4
			if job == "" {
				wantSlow = 5
			}
			if len(w.SlowPaths) != wantSlow {
				t.Errorf("%d slow paths, want %d", len(w.SlowPaths), wantSlow)
			}

			// Alerts from the event log.
			wantFired, wantPrev, wantListed := 2, 1, 2
			if job == "" {
				wantFired, wantPrev, wantListed = 3, 2, 4 // and DiskFilling, lasting into the week
			}
			a := w.Alerts
			if !a.Available || a.Fired != wantFired || a.PrevFired != wantPrev || len(a.List) != wantListed {
				t.Errorf("alerts: available %v, fired %d (want %d), previous %d (want %d), listed %d (want %d)",
					a.Available, a.Fired, wantFired, a.PrevFired, wantPrev, len(a.List), wantListed)
			}
			if len(a.ByName) == 0 || a.ByName[0] != (NameCount{"HighErrorRate", 2}) {
				t.Errorf("alerts by name: %+v", a.ByName)
			}

			// Hosts.
			if len(w.Hosts) != 1 {
				t.Fatalf("hosts: %+v", w.Hosts)
			}
			h := w.Hosts[0]
			checkPeak(t, "CPU", h.Cur.CPU, h.Cur.CPUAt, 87.5, cpuPeakCur)
			checkPeak(t, "CPU last week", h.Prev.CPU, h.Prev.CPUAt, 75, cpuPeakPrev)
			checkEq(t, "CPU average", h.Cur.CPUAvg, 100*(1-f.want[1].cpuIdle/f.want[1].cpuTotalSeconds))
			checkPeak(t, "memory", h.Cur.Mem, h.Cur.MemAt, 93.75, time.Date(2026, 3, 13, 3, 10, 0, 0, kst))
			checkPeak(t, "memory last week", h.Prev.Mem, h.Prev.MemAt, 81.25, memPeakPrev)
			checkPeak(t, "network in", h.Cur.NetIn, h.Cur.NetInAt, 50e6, netPeakCur)
			checkPeak(t, "network out", h.Cur.NetOut, h.Cur.NetOutAt, 25e6, netPeakCur)
			if !near(h.Cur.Disk, 80) || h.Cur.DiskMount != "/data" || !near(h.Prev.Disk, 70) {
				t.Errorf("disk: %v%% on %s, last week %v%%; want 80%% on /data, 70%%", h.Cur.Disk, h.Cur.DiskMount, h.Prev.Disk)
			}
			if len(h.CPU) != 7*24*12 {
				t.Errorf("CPU series: %d points, want one per 5 min", len(h.CPU))
			}

			if job == "" {
				if !slices.Equal(w.Jobs, []string{"static", "web"}) {
					t.Fatalf("jobs %v", w.Jobs)
				}
				for _, j := range w.Jobs {
					jt := w.ByJob[j]
					checkEq(t, j+" requests", jt.Cur.Requests, f.want[1].req[j])
					checkEq(t, j+" requests last week", jt.Prev.Requests, f.want[0].req[j])
					if !near(jt.Cur.PeakRPS, f.want[1].peak[j]) || !jt.Cur.PeakAt.Equal(f.want[1].peakAt[j]) {
						t.Errorf("%s peak %v at %s, want %v at %s", j, jt.Cur.PeakRPS, jt.Cur.PeakAt, f.want[1].peak[j], f.want[1].peakAt[j])
					}
					_, lo, hi := quantile(0.95, f.want[1].buckets[j])
					if p := jt.Cur.Latency[1]; p < lo || p > hi {
						t.Errorf("%s p95 %v outside (%v, %v]", j, p, lo, hi)
					}
				}
			}
		})
	}
}

// TestBuildSelector: report.jobs limits the overall report.
func TestBuildSelector(t *testing.T) {
	f := loadFixture(t)
	w, err := Build(context.Background(), f.svc, nil, Options{Jobs: []string{"static"}, From: weekFrom, To: weekTo, Location: kst})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.Jobs, []string{"static"}) || w.Cur.Requests != f.want[1].req["static"] {
		t.Errorf("jobs %v, requests %v; want static only, %v", w.Jobs, w.Cur.Requests, f.want[1].req["static"])
	}
	if w.Alerts.Available || len(w.Notes) != 1 {
		t.Errorf("without an event log: alerts %+v, notes %v", w.Alerts, w.Notes)
	}
}

// TestBuildEmpty: a week without data has no figures, and its
// week-over-week changes say n/a.
func TestBuildEmpty(t *testing.T) {
	f := loadFixture(t)
	from := time.Date(2025, 6, 2, 0, 0, 0, 0, kst)
	w, err := Build(context.Background(), f.svc, f.events, Options{From: from, To: from.AddDate(0, 0, 7), Location: kst})
	if err != nil {
		t.Fatal(err)
	}
	if w.Cur.Found || w.Prev.Found || len(w.Jobs) != 0 || len(w.Hosts) != 0 || !math.IsNaN(w.Cur.Latency[1]) || !math.IsNaN(w.Cur.Availability()) {
		t.Fatalf("empty week: %+v", w.Cur)
	}
	for _, c := range w.view().Cards {
		if c.Label != "Alerts fired" && c.Change.Text != "n/a" {
			t.Errorf("%s: change %q, want n/a", c.Label, c.Change.Text)
		}
	}
}

// TestBuildBadPeriod refuses an end before the start.
func TestBuildBadPeriod(t *testing.T) {
	if _, err := Build(context.Background(), nil, nil, Options{From: weekTo, To: weekFrom}); err == nil {
		t.Fatal("no error")
	}
}

func checkEq(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s: %v, want %v", what, got, want)
	}
}

func checkPeak(t *testing.T, what string, got float64, at time.Time, want float64, wantAt time.Time) {
	t.Helper()
	if !near(got, want) || !at.Equal(wantAt) {
		t.Errorf("%s peak: %v at %s, want %v at %s", what, got, at, want, wantAt)
	}
}
