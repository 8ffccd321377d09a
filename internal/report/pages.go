package report

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
)

// Mount registers the reports page, its files and its API.
func (r *Reporter) Mount(m *httpapi.Mux) {
	m.Page("GET /report", httpapi.Viewer, "Reports", r.pageRedirect)
	m.Page("GET /reports", httpapi.Viewer, "Reports", r.page)
	m.Page("POST /reports/run", httpapi.Operator, "Reports", r.pageRun)
	m.Page("GET /reports/{file}", httpapi.Viewer, "Report", r.serveFile)
	m.API("GET /api/reports", httpapi.Viewer, r.apiList)
}

// pageRedirect sends the navigation's /report to the reports page.
func (r *Reporter) pageRedirect(w http.ResponseWriter, req *http.Request) error {
	http.Redirect(w, req, "/reports", http.StatusSeeOther)
	return nil
}

// reportsPage is the reports page's view.
type reportsPage struct {
	Reports  []reportRow
	State    stateView
	CanRun   bool
	CSRF     string // for the form without htmx
	Weeks    []weekOption
	Schedule string
	Out      string
	Keep     int
	Refresh  bool   // poll while a run is in progress
	Problem  string // why no report can be built
}

type reportRow struct {
	Job, Period, HTML, PDF, Size, Created string
}

type weekOption struct {
	Value, Label string
	Selected     bool
}

type stateView struct {
	Running, Done bool
	Week, Reason  string
	Started, Took string
	Err           string
	Files         []string
}

func (r *Reporter) page(w http.ResponseWriter, req *http.Request) error {
	v, err := r.view(req)
	if err != nil {
		return err
	}
	return r.pages.Render(w, req, http.StatusOK, "reports", "Reports", v)
}

// pageRun starts a run for the week of the form's "week" (its first day,
// YYYY-MM-DD; default the last full week) and shows the page.
func (r *Reporter) pageRun(w http.ResponseWriter, req *http.Request) error {
	loc := r.cfg.Location()
	from, to := LastWeek(r.now(), loc)
	if s := req.FormValue("week"); s != "" {
		d, err := time.ParseInLocation(time.DateOnly, s, loc)
		if err != nil {
			return httpapi.BadParam("week", errors.New("want the week's first day as YYYY-MM-DD"))
		}
		from, to = d, d.AddDate(0, 0, 7)
		if to.After(r.now()) {
			return httpapi.BadParam("week", fmt.Errorf("the week of %s has not ended yet", s))
		}
	}
	status := http.StatusAccepted
	if err := r.startRun(from, to, "page"); errors.Is(err, errRunning) {
		status = http.StatusConflict
	}
	v, err := r.view(req)
	if err != nil {
		return err
	}
	return r.pages.Render(w, req, status, "reports", "Reports", v)
}

// reasons say why a run was made.
var reasons = map[string]string{"schedule": "on schedule", "catch-up": "made up at start", "page": "from this page"}

func (r *Reporter) view(req *http.Request) (reportsPage, error) {
	files, err := List(r.out)
	if err != nil {
		return reportsPage{}, err
	}
	loc := r.cfg.Location()
	v := reportsPage{Out: r.out, Keep: r.cfg.Keep, Schedule: "off: reports are built only by hand"}
	if err := r.Ready(); err != nil {
		v.Problem = err.Error()
	}
	if id := httpapi.IdentityFrom(req.Context()); id != nil && id.Role >= httpapi.Operator {
		v.CanRun, v.CSRF = true, id.CSRF
	}
	if !r.cfg.sched.IsZero() {
		next := r.cfg.sched.Next(r.now(), loc)
		v.Schedule = fmt.Sprintf("every %s at %02d:%02d (%s); next run %s", r.cfg.sched.Day, r.cfg.sched.Hour, r.cfg.sched.Minute,
			zoneName(loc, next), next.Format("Mon 2 Jan 15:04"))
	}
	byBase := map[string]*reportRow{}
	for _, f := range files {
		b := baseName(f.Name)
		row := byBase[b]
		if row == nil {
			job := f.Job
			if job == allName {
				job = "All jobs"
			}
			row = &reportRow{Job: job, Period: fmtPeriod(f.From.In(loc), f.To.In(loc).Add(-time.Nanosecond)), Created: f.Created.In(loc).Format("2 Jan 2006 15:04")}
			byBase[b] = row
			v.Reports = append(v.Reports, reportRow{}) // placeholder, filled below in order
			v.Reports[len(v.Reports)-1].Job = b
		}
		switch f.Kind {
		case "html":
			row.HTML, row.Size = f.Name, fmtBytes(float64(f.Size))
		case "pdf":
			row.PDF = f.Name
		}
	}
	for i := range v.Reports {
		v.Reports[i] = *byBase[v.Reports[i].Job]
	}
	st := r.State()
	v.State = stateView{Running: st.Running, Done: !st.Started.IsZero() && !st.Running, Reason: reasons[st.Reason], Err: st.Err, Files: st.Files}
	v.Refresh = st.Running
	if !st.Started.IsZero() {
		v.State.Week = fmtPeriod(st.From.In(loc), st.To.In(loc).Add(-time.Nanosecond))
		v.State.Started = st.Started.In(loc).Format("Mon 2 Jan 15:04:05")
		v.State.Took = fmtDur(st.Took)
	}
	from, _ := LastWeek(r.now(), loc)
	for i := range 8 {
		d := from.AddDate(0, 0, -7*i)
		v.Weeks = append(v.Weeks, weekOption{Value: d.Format(time.DateOnly), Label: fmtPeriod(d, d.AddDate(0, 0, 7).Add(-time.Nanosecond)), Selected: i == 0})
	}
	return v, nil
}

// serveFile serves one report file from the out directory: only names
// that reports have, through an os.Root so that nothing outside it opens.
func (r *Reporter) serveFile(w http.ResponseWriter, req *http.Request) error {
	name := req.PathValue("file")
	m := fileRE.FindStringSubmatch(name)
	if m == nil {
		return httpapi.NotFound("no report file %q: names are weekly-<job>-<YYYY-MM-DD>.html or .pdf", name)
	}
	root, err := os.OpenRoot(r.out)
	if errors.Is(err, fs.ErrNotExist) {
		return httpapi.NotFound("no report file %q", name)
	}
	if err != nil {
		return fmt.Errorf("open report dir: %w", err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		// Missing, or a link out of the directory: there is no such report.
		return httpapi.NotFound("no report file %q", name)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open report %s: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		return httpapi.NotFound("no report file %q", name)
	}
	h := w.Header()
	switch m[3] {
	case "html":
		h.Set("Content-Type", "text/html; charset=utf-8")
		// A report holds no script and loads nothing.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
	case "pdf":
		h.Set("Content-Type", "application/pdf")
		h.Set("Content-Disposition", `inline; filename="`+strings.ReplaceAll(name, `"`, "")+`"`)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, req, name, info.ModTime(), f)
	return nil
}

// apiList answers GET /api/reports: the files, newest week first.
func (r *Reporter) apiList(w http.ResponseWriter, req *http.Request) error {
	files, err := List(r.out)
	if err != nil {
		return err
	}
	if files == nil {
		files = []File{}
	}
	return httpapi.JSON(w, http.StatusOK, map[string]any{"files": files})
}
