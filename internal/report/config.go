package report

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/config"
)

// Config is the report section: when the weekly report is built, for
// which jobs, and where its files go.
type Config struct {
	// Schedule is the weekday and local time of the weekly run, such as
	// "mon 09:00"; empty turns the schedule off (the command and the
	// page's button still build reports).
	Schedule string `yaml:"schedule"`
	// Out is the directory of the report files; empty means
	// <data_dir>/reports.
	Out string `yaml:"out"`
	// Keep is how many weeks of files the schedule keeps; older files are
	// removed after each run.
	Keep int `yaml:"keep"`
	// Jobs are the access-log jobs the report covers, each with a file of
	// its own besides the overall one; empty means every job found.
	Jobs []string `yaml:"jobs"`
	// Timezone names the zone of the schedule, of day boundaries and of
	// the times shown, such as "Europe/Berlin"; empty means the host's.
	Timezone string `yaml:"timezone"`
	// Chromium is the browser that prints the PDF; empty finds chromium
	// or google-chrome in PATH.
	Chromium string `yaml:"chromium"`

	sched Schedule
	loc   *time.Location
}

// allName stands for every job in file names and the API.
const allName = "all"

var jobRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.:-]{0,62}$`)

// Default values.
const (
	defaultKeep = 12
	maxKeep     = 520
)

// DefaultConfig returns the section's defaults: no schedule, 12 weeks kept.
func DefaultConfig() *Config {
	return &Config{Keep: defaultKeep}
}

// Validate reports every problem by key path and keeps the parsed
// schedule and zone.
func (c *Config) Validate() error {
	var errs config.Errors
	if c.Schedule != "" {
		s, err := ParseSchedule(c.Schedule)
		if err != nil {
			errs.Add("schedule", "%v", err)
		}
		c.sched = s
	}
	if c.Keep < 1 || c.Keep > maxKeep {
		errs.Add("keep", "must be between 1 and %d weeks", maxKeep)
	}
	seen := map[string]int{}
	for i, j := range c.Jobs {
		p := "jobs[" + strconv.Itoa(i) + "]"
		switch {
		case !jobRE.MatchString(j):
			errs.Add(p, "%q is not a job name: letters, digits, '_', '.', ':' or '-', starting with a letter", j)
		case j == allName:
			errs.Add(p, "%q names the overall report: choose another job name", j)
		default:
			if prev, ok := seen[j]; ok {
				errs.Add(p, "job %q is already listed at jobs[%d]", j, prev)
			}
			seen[j] = i
		}
	}
	loc, err := loadLocation(c.Timezone)
	if err != nil {
		errs.Add("timezone", "%v", err)
	}
	c.loc = loc
	return errs.Err()
}

// Location returns the zone of the config (after Validate).
func (c *Config) Location() *time.Location {
	if c.loc == nil {
		return time.Local
	}
	return c.loc
}

func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: want an IANA name such as Europe/Berlin or UTC", name)
	}
	return loc, nil
}

// Schedule is a weekly time: a weekday and a time of day.
type Schedule struct {
	Day          time.Weekday
	Hour, Minute int
	set          bool
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseSchedule reads "mon 09:00": a weekday (its first three letters or
// its whole English name, any case) and a 24-hour time.
func ParseSchedule(s string) (Schedule, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Schedule{}, fmt.Errorf("%q is not a weekday and a time, such as \"mon 09:00\"", s)
	}
	d := strings.ToLower(f[0])
	day, ok := weekdays[d]
	if !ok && len(d) > 3 {
		day, ok = weekdays[d[:3]]
		ok = ok && strings.EqualFold(time.Weekday(day).String(), d)
	}
	if !ok {
		return Schedule{}, fmt.Errorf("%q is not a weekday: want mon, tue, wed, thu, fri, sat or sun", f[0])
	}
	hh, mm, ok := strings.Cut(f[1], ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(mm) != 2 || h < 0 || h > 23 || m < 0 || m > 59 {
		return Schedule{}, fmt.Errorf("%q is not a time: want HH:MM, 00:00 to 23:59", f[1])
	}
	return Schedule{Day: day, Hour: h, Minute: m, set: true}, nil
}

// IsZero reports whether s is off.
func (s Schedule) IsZero() bool { return !s.set }

// String returns s as ParseSchedule reads it.
func (s Schedule) String() string {
	if !s.set {
		return ""
	}
	return fmt.Sprintf("%s %02d:%02d", strings.ToLower(s.Day.String()[:3]), s.Hour, s.Minute)
}

// Next returns the first run strictly after t, in loc.
func (s Schedule) Next(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	days := (int(s.Day) - int(t.Weekday()) + 7) % 7
	for ; ; days += 7 {
		d := t.AddDate(0, 0, days)
		run := time.Date(d.Year(), d.Month(), d.Day(), s.Hour, s.Minute, 0, 0, loc)
		if run.After(t) {
			return run
		}
	}
}

// Last returns the latest run at or before t, in loc.
func (s Schedule) Last(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	days := (int(t.Weekday()) - int(s.Day) + 7) % 7
	for ; ; days += 7 {
		d := t.AddDate(0, 0, -days)
		run := time.Date(d.Year(), d.Month(), d.Day(), s.Hour, s.Minute, 0, 0, loc)
		if !run.After(t) {
			return run
		}
	}
}

// LastWeek returns the last full week before t in loc: Monday 00:00 to
// the next Monday 00:00.
func LastWeek(t time.Time, loc *time.Location) (from, to time.Time) {
	t = t.In(loc)
	back := (int(t.Weekday()) - int(time.Monday) + 7) % 7
	d := t.AddDate(0, 0, -back)
	to = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
	return to.AddDate(0, 0, -7), to
}
