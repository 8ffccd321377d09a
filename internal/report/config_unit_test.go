package report

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	at := func(loc *time.Location, d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, loc) }
	tests := []struct {
		name       string
		sched      string
		loc        *time.Location
		now        time.Time
		next, last time.Time
	}{
		{"before the run", "mon 09:00", kst, at(kst, 16, 8, 59), at(kst, 16, 9, 0), at(kst, 9, 9, 0)},
		{"at the run", "mon 09:00", kst, at(kst, 16, 9, 0), at(kst, 23, 9, 0), at(kst, 16, 9, 0)},
		{"mid-week", "Monday 09:00", kst, at(kst, 18, 12, 0), at(kst, 23, 9, 0), at(kst, 16, 9, 0)},
		{"same day later", "wed 23:30", kst, at(kst, 18, 12, 0), at(kst, 18, 23, 30), at(kst, 11, 23, 30)},
		{"other zone", "mon 09:00", berlin, at(kst, 16, 16, 59), at(berlin, 16, 9, 0), at(berlin, 9, 9, 0)},
		// 02:30 does not exist on 29 March in Berlin: the clock jumps to 03:00.
		{"spring forward", "sun 02:30", berlin, at(berlin, 28, 12, 0), at(berlin, 29, 3, 30), at(berlin, 22, 2, 30)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSchedule(tc.sched)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(tc.now, tc.loc); !got.Equal(tc.next) {
				t.Errorf("Next: %s, want %s", got, tc.next)
			}
			if got := s.Last(tc.now, tc.loc); !got.Equal(tc.last) {
				t.Errorf("Last: %s, want %s", got, tc.last)
			}
		})
	}
}

func TestLastWeek(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	tests := []struct {
		now      time.Time
		from, to time.Time
	}{
		{weekTo, weekFrom, weekTo},
		{weekTo.Add(-time.Second), prevFrom, weekFrom},
		{weekFrom.Add(50 * time.Hour), prevFrom, weekFrom},
		{time.Date(2026, 3, 30, 10, 0, 0, 0, berlin), time.Date(2026, 3, 23, 0, 0, 0, 0, berlin), time.Date(2026, 3, 30, 0, 0, 0, 0, berlin)},
	}
	for _, tc := range tests {
		from, to := LastWeek(tc.now, tc.from.Location())
		if !from.Equal(tc.from) || !to.Equal(tc.to) {
			t.Errorf("LastWeek(%s) = %s to %s, want %s to %s", tc.now, from, to, tc.from, tc.to)
		}
	}
	// The week of the change to summer time has a day of 23 hours.
	from, to := LastWeek(time.Date(2026, 3, 30, 10, 0, 0, 0, berlin), berlin)
	ds := days(from, to, berlin)
	if len(ds) != 7 || ds[6][1].Sub(ds[6][0]) != 23*time.Hour || to.Sub(from) != 167*time.Hour {
		t.Errorf("days %v", ds)
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"mon 09:00", "Sunday 23:59", "fri 7:05", "tue 24:00", "", "mon", "mon 09:00 x", "monxyz 09:00", "mon 9:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseSchedule(s)
		if err != nil {
			return
		}
		again, err := ParseSchedule(sc.String())
		if err != nil || again != sc {
			t.Fatalf("%q parses to %q, which parses to %+v, %v", s, sc.String(), again, err)
		}
		now := time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC)
		if n := sc.Next(now, time.UTC); !n.After(now) || n.Sub(now) > 7*24*time.Hour || n.Weekday() != sc.Day {
			t.Fatalf("%q: next run %s", s, n)
		}
	})
}
