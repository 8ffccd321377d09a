package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/dandan-sre/dandan/internal/httpapi"
)

//go:embed templates
var shellFS embed.FS

// NavItem is one entry of the navigation: a part (enabled or not) or a
// shell page.
type NavItem struct {
	Title   string
	Path    string
	Summary string
	Enabled bool
	Active  bool
}

// Frame is what the layout renders around every page.
type Frame struct {
	Title   string
	Nav     []NavItem
	User    *httpapi.Identity
	CSRF    string
	TV      bool
	Version string
	Body    any // the page's own typed view: "content" is executed with it
}

// Options configure the UI.
type Options struct {
	Version string
	// Nav returns the navigation; it is called per request so that it can
	// mark the active entry.
	Nav func() []NavItem
}

// UI renders pages inside the shared layout.
type UI struct {
	opts   Options
	assets *Assets
	layout *template.Template
	shell  *Pages
}

// New parses the layout and the shell's own pages once.
func New(assets *Assets, opts Options) (*UI, error) {
	u := &UI{opts: opts, assets: assets}
	layout, err := template.New("layout").Funcs(template.FuncMap{"asset": assets.Path}).ParseFS(shellFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	u.layout = layout
	sub, _ := fs.Sub(shellFS, "templates")
	u.shell, err = u.Parse(sub, "home.html", "status.html", "login.html", "error.html", "part.html", "config.html", "api.html")
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Assets returns the static file server, to mount at GET /static/.
func (u *UI) Assets() *Assets { return u.assets }

// Shell returns the shell's own pages: home, status, login, error, part,
// config, api.
func (u *UI) Shell() *Pages { return u.shell }

// Pages is a set of page templates, each parsed on its own copy of the
// layout so that every page can define "content".
type Pages struct {
	ui    *UI
	pages map[string]*template.Template
}

// Parse parses page templates from fsys (a part's templates folder); each
// file is one page named by its base name without ".html", and defines
// "content" (and may use the layout's partials).
func (u *UI) Parse(fsys fs.FS, files ...string) (*Pages, error) {
	return u.ParseWith(fsys, nil, files...)
}

// ParseWith is Parse with partials: files of fsys (templates shared by the
// pages, such as a part's panels) parsed into every page.
func (u *UI) ParseWith(fsys fs.FS, partials []string, files ...string) (*Pages, error) {
	p := &Pages{ui: u, pages: map[string]*template.Template{}}
	for _, f := range files {
		t, err := u.layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone layout: %w", err)
		}
		if len(partials) > 0 {
			if _, err := t.ParseFS(fsys, partials...); err != nil {
				return nil, fmt.Errorf("parse partials %v: %w", partials, err)
			}
		}
		if _, err := t.ParseFS(fsys, f); err != nil {
			return nil, fmt.Errorf("parse page %s: %w", f, err)
		}
		p.pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return p, nil
}

// Render writes page name inside the layout with status; for an htmx
// request (HX-Request) it writes only the page's content. It renders to a
// buffer first, so a template error never leaves half a page.
func (p *Pages) Render(w http.ResponseWriter, r *http.Request, status int, name, title string, body any) error {
	t, ok := p.pages[name]
	if !ok {
		return fmt.Errorf("render: no page %q", name)
	}
	f := Frame{Title: title, Body: body, Version: p.ui.opts.Version, TV: r.URL.Query().Get("tv") == "1"}
	if id := httpapi.IdentityFrom(r.Context()); id != nil {
		f.User, f.CSRF = id, id.CSRF
		if p.ui.opts.Nav != nil {
			f.Nav = p.ui.opts.Nav()
			for i := range f.Nav {
				f.Nav[i].Active = f.Nav[i].Path == r.URL.Path || f.Nav[i].Path != "/" && strings.HasPrefix(r.URL.Path, f.Nav[i].Path+"/")
			}
		}
	}
	var buf bytes.Buffer
	var err error
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Boosted") != "true" {
		err = t.ExecuteTemplate(&buf, "content", body)
	} else {
		err = t.ExecuteTemplate(&buf, "base", f)
	}
	if err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "HX-Request")
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}

// ErrorView is the error page's view.
type ErrorView struct {
	Status     int
	StatusText string
	Msg        string
}

// PageError implements httpapi.PageErrors with the shell's error page.
func (u *UI) PageError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	v := ErrorView{Status: status, StatusText: http.StatusText(status), Msg: msg}
	if err := u.shell.Render(w, r, status, "error", v.StatusText, v); err != nil {
		http.Error(w, msg, status)
	}
}

var _ httpapi.PageErrors = (*UI)(nil)
