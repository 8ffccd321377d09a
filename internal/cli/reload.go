package cli

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/httpapi"
)

// configReloader reads the config file again, on SIGHUP and on POST
// /api/config/reload, and applies what can change while dandan runs: the
// sections of the running parts that implement component.Reloader, and
// log.level. Every other change is left for a restart and said so. Each
// reload is recorded on the event log (part dandan, kind reload).
type configReloader struct {
	load   func() (*config.Config, error) // reads and checks the file as at start
	log    *slog.Logger
	level  *slog.LevelVar // log.level, for the whole log
	events events.Recorder
	parts  []component.Part
	comps  map[string]component.Component // the running parts by name; set before serving

	mu     sync.Mutex // serializes reloads; guards cur and closed
	cur    *config.Config
	closed bool // dandan is stopping: no more reloads
}

// reloadResult is what a reload did: the answer of POST /api/config/reload.
type reloadResult struct {
	// Reloaded names the sections (parts, log.level) whose changes
	// took effect.
	Reloaded []string `json:"reloaded"`
	// Restart names the keys that changed but take effect only after a
	// restart.
	Restart []string `json:"restart"`
	// Failed says, per part, what did not take effect and why.
	Failed []string `json:"failed"`
	// Text is the reload event's text.
	Text string `json:"text"`
}

var errStopping = errors.New("dandan is stopping")

// reload reads the config file and applies it. An invalid file changes
// nothing. It logs and records what it did; the error is for the caller
// to show, not to log again.
func (r *configReloader) reload(ctx context.Context) (reloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return reloadResult{}, errStopping
	}
	next, err := r.load()
	if err != nil {
		text := "config not reloaded: " + oneLine(err.Error())
		r.log.Error("config not reloaded", "file", r.cur.File, "err", err)
		r.record(ctx, events.Critical, text)
		return reloadResult{}, errors.New(text)
	}

	res := reloadResult{Reloaded: []string{}, Restart: []string{}, Failed: []string{}}
	cur := r.cur
	applied := *cur
	applied.Parts = maps.Clone(cur.Parts)
	for _, k := range diffKeys("", reflect.ValueOf(*cur), reflect.ValueOf(*next)) {
		if k == "log.level" {
			var l slog.Level
			_ = l.UnmarshalText([]byte(next.Log.Level))
			r.level.Set(l)
			applied.Log.Level = next.Log.Level
			res.Reloaded = append(res.Reloaded, k)
			continue
		}
		res.Restart = append(res.Restart, k)
	}
	for _, p := range r.parts {
		old, hadOld := cur.Parts[p.Name]
		nw, hasNew := next.Parts[p.Name]
		wasOn, isOn := hadOld && old.Enabled, hasNew && nw.Enabled
		switch {
		case p.New == nil || !wasOn && !isOn:
			// Nothing of it runs: the new section is the one in force.
			if hasNew {
				applied.Parts[p.Name] = nw
			} else {
				delete(applied.Parts, p.Name)
			}
		case wasOn != isOn:
			res.Restart = append(res.Restart, p.Name+".enabled")
		default:
			// What a section derives from its keys (compiled formats)
			// is not compared.
			keys := diffKeys(p.Name, reflect.ValueOf(old.Config), reflect.ValueOf(nw.Config))
			changed := len(keys) > 0
			rl, ok := r.comps[p.Name].(component.Reloader)
			if !ok {
				res.Restart = append(res.Restart, keys...)
				continue
			}
			// Called also when the section is unchanged: the files it
			// names may have changed.
			restart, err := rl.Reload(ctx, nw.Config)
			for _, k := range restart {
				res.Restart = append(res.Restart, p.Name+"."+k)
			}
			if err != nil {
				res.Failed = append(res.Failed, p.Name+": "+oneLine(err.Error()))
				continue
			}
			applied.Parts[p.Name] = nw
			if changed {
				res.Reloaded = append(res.Reloaded, p.Name)
			}
		}
	}
	r.cur = &applied

	done := "no changes"
	if len(res.Reloaded) > 0 {
		done = strings.Join(res.Reloaded, ", ")
	} else if len(res.Restart) > 0 || len(res.Failed) > 0 {
		done = "no changes applied"
	}
	res.Text = "config reloaded: " + done
	sev := events.Info
	if len(res.Restart) > 0 {
		res.Text += "; needs a restart: " + strings.Join(res.Restart, ", ")
		sev = events.Warning
	}
	if len(res.Failed) > 0 {
		res.Text += "; failed: " + strings.Join(res.Failed, "; ")
		sev = events.Critical
	}
	r.record(ctx, sev, res.Text)
	attrs := []any{"file", cur.File, "reloaded", res.Reloaded, "restart", res.Restart}
	switch sev {
	case events.Critical:
		r.log.Error("config reloaded with failures", append(attrs, "err", strings.Join(res.Failed, "; "))...)
		return res, errors.New(res.Text)
	case events.Warning:
		r.log.Warn("config reloaded; some changes need a restart", attrs...)
	default:
		r.log.Info("config reloaded", attrs...)
	}
	return res, nil
}

// record puts the reload on the event log; a failure to is logged.
func (r *configReloader) record(ctx context.Context, sev events.Severity, text string) {
	if len(text) > 2000 {
		text = strings.ToValidUTF8(text[:1997], "") + "..."
	}
	ev := events.Event{Part: "dandan", Kind: "reload", Severity: sev, Text: text}
	if _, err := r.events.Record(context.WithoutCancel(ctx), ev); err != nil {
		r.log.Warn("reload event not recorded", "err", err)
	}
}

// close waits for a reload in progress and refuses the ones after: the
// parts are about to stop.
func (r *configReloader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}

// onSIGHUP reloads the config at each signal on hup until ctx ends.
func (r *configReloader) onSIGHUP(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.log.Info("reloading the config on SIGHUP")
			_, _ = r.reload(ctx) // logged and recorded
		}
	}
}

// apiReload answers POST /api/config/reload.
func (r *configReloader) apiReload(w http.ResponseWriter, req *http.Request) error {
	// A client that hangs up does not stop a reload half-way.
	res, err := r.reload(context.WithoutCancel(req.Context()))
	if errors.Is(err, errStopping) {
		return httpapi.Unavailable("dandan is stopping", err)
	}
	if err != nil {
		return httpapi.BadRequest("%s", err.Error())
	}
	return httpapi.JSON(w, http.StatusOK, res)
}

// oneLine joins the lines of a multi-line message (every problem of a
// config, joined errors) with "; ".
func oneLine(s string) string {
	return strings.Join(strings.Split(strings.TrimSpace(s), "\n"), "; ")
}

// diffKeys returns the key paths, by yaml name under prefix, where a and
// b (values of one type) differ: structs are compared field by field
// (following pointers), anything else as a whole.
func diffKeys(prefix string, a, b reflect.Value) []string {
	if !a.IsValid() || !b.IsValid() { // a nil section
		if a.IsValid() == b.IsValid() {
			return nil
		}
		return []string{prefix}
	}
	if a.Kind() == reflect.Interface || a.Kind() == reflect.Pointer {
		if a.IsNil() || b.IsNil() || a.Kind() == reflect.Interface && a.Elem().Type() != b.Elem().Type() {
			if a.IsNil() && b.IsNil() {
				return nil
			}
			return []string{prefix}
		}
		return diffKeys(prefix, a.Elem(), b.Elem())
	}
	if a.Kind() != reflect.Struct {
		if reflect.DeepEqual(a.Interface(), b.Interface()) {
			return nil
		}
		return []string{prefix}
	}
	var out []string
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		if prefix != "" {
			name = prefix + "." + name
		}
		out = append(out, diffKeys(name, a.Field(i), b.Field(i))...)
	}
	return out
}
