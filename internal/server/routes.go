package server

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.yaml.in/yaml/v3"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/ui"
)

// mountShell registers the shell's own routes: health, metrics, static
// files, login, the overview, status, config and API pages.
func (s *Server) mountShell() {
	m := s.mux
	m.Handle("GET /healthz", httpapi.Public, http.HandlerFunc(s.healthz))
	m.Handle("GET /readyz", httpapi.Public, http.HandlerFunc(s.readyz))
	m.Handle("GET /static/", httpapi.Public, s.ui.Assets())
	m.Handle("GET /metrics", httpapi.Viewer, promhttp.InstrumentMetricHandler(s.opts.Registry,
		promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorLog: slogPrinter{s}})))

	m.Page("GET /login", httpapi.Public, "Log in", s.loginPage)
	m.Page("POST /login", httpapi.Public, "Log in", s.login)
	m.Page("POST /logout", httpapi.TV, "Log out", s.logout)

	m.Page("GET /{$}", httpapi.Viewer, "Overview", s.home)
	m.Page("GET /status", httpapi.Viewer, "Status", s.statusPage)
	m.Page("GET /config", httpapi.Admin, "Configuration", s.configPage)
	m.Page("GET /api-docs", httpapi.Viewer, "API", s.apiPage)

	m.API("GET /api/status", httpapi.Viewer, s.apiStatus)
	m.API("GET /api/whoami", httpapi.TV, s.apiWhoami)
	m.API("GET /api/routes", httpapi.Viewer, s.apiRoutes)
	m.API("GET /api/config", httpapi.Admin, s.apiConfig)

	m.Handle("GET /debug/pprof/", httpapi.Admin, http.HandlerFunc(pprof.Index))
	m.Handle("GET /debug/pprof/cmdline", httpapi.Admin, http.HandlerFunc(pprof.Cmdline))
	m.Handle("GET /debug/pprof/profile", httpapi.Admin, http.HandlerFunc(pprof.Profile))
	m.Handle("GET /debug/pprof/symbol", httpapi.Admin, http.HandlerFunc(pprof.Symbol))
	m.Handle("GET /debug/pprof/trace", httpapi.Admin, http.HandlerFunc(pprof.Trace))

	// A part the config does not enable still has its page: what it does
	// and the config lines that turn it on.
	for _, p := range s.opts.Parts {
		if !p.Enabled {
			m.Page("GET /"+p.Name, httpapi.Viewer, title(p.Name), s.partPage(p))
		}
	}
}

type slogPrinter struct{ s *Server }

// Println implements promhttp.Logger.
func (p slogPrinter) Println(v ...any) {
	p.s.log.Error("metrics exposition failed", "err", strings.TrimSpace(fmt.Sprintln(v...)))
}

func title(name string) string {
	if name == "" {
		return ""
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

func (s *Server) nav() []ui.NavItem {
	items := []ui.NavItem{{Title: "Overview", Path: "/", Enabled: true, Summary: "Health and parts at a glance"}}
	for _, p := range s.opts.Parts {
		items = append(items, ui.NavItem{Title: title(p.Name), Path: "/" + p.Name, Summary: p.Summary, Enabled: p.Enabled})
	}
	return append(items, ui.NavItem{Title: "Status", Path: "/status", Enabled: true, Summary: "Components, readiness and errors"})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !s.open.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\nstarting\n"))
		return
	}
	if err := s.opts.Status.Ready(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n" + err.Error() + "\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// StatusView is the status and overview pages' view.
type StatusView struct {
	Version    string
	Started    time.Time
	ConfigFile string
	DataDir    string
	SQL        string
	Statuses   []component.Status
	AllReady   bool
	NotReady   int
	Parts      []ui.NavItem
}

func (s *Server) statusView() StatusView {
	v := StatusView{Version: s.opts.Version, Started: s.started, ConfigFile: s.opts.Config.File,
		DataDir: s.opts.Config.DataDir, SQL: s.opts.SQL.Redacted(), Statuses: s.opts.Status.Statuses()}
	for _, st := range v.Statuses {
		if !st.Ready {
			v.NotReady++
		}
	}
	v.AllReady = v.NotReady == 0
	for _, n := range s.nav() {
		if n.Path != "/" && n.Path != "/status" {
			v.Parts = append(v.Parts, n)
		}
	}
	return v
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) error {
	return s.ui.Shell().Render(w, r, http.StatusOK, "home", "Overview", s.statusView())
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) error {
	return s.ui.Shell().Render(w, r, http.StatusOK, "status", "Status", s.statusView())
}

// StatusReply is GET /api/status.
type StatusReply struct {
	Version    string             `json:"version"`
	Started    time.Time          `json:"started"`
	Ready      bool               `json:"ready"`
	Components []component.Status `json:"components"`
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) error {
	v := s.statusView()
	return httpapi.JSON(w, http.StatusOK, StatusReply{Version: v.Version, Started: v.Started, Ready: v.AllReady, Components: v.Statuses})
}

// WhoamiReply is GET /api/whoami.
type WhoamiReply struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Session bool   `json:"session"`
}

func (s *Server) apiWhoami(w http.ResponseWriter, r *http.Request) error {
	id := httpapi.IdentityFrom(r.Context())
	return httpapi.JSON(w, http.StatusOK, WhoamiReply{Name: id.Name, Role: id.Role.String(), Session: id.Session})
}

// RouteReply is one entry of GET /api/routes.
type RouteReply struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Role   string `json:"role"`
	Kind   string `json:"kind"`
}

func (s *Server) routes() []RouteReply {
	var out []RouteReply
	for _, rt := range s.mux.Routes() {
		out = append(out, RouteReply{Method: rt.Method(), Path: rt.Path(), Role: rt.Role.String(), Kind: string(rt.Kind)})
	}
	return out
}

func (s *Server) apiRoutes(w http.ResponseWriter, r *http.Request) error {
	return httpapi.JSON(w, http.StatusOK, s.routes())
}

// APIView is the API page's view.
type APIView struct{ Routes []RouteReply }

func (s *Server) apiPage(w http.ResponseWriter, r *http.Request) error {
	return s.ui.Shell().Render(w, r, http.StatusOK, "api", "API", APIView{Routes: s.routes()})
}

func (s *Server) redactedConfig() (string, error) {
	b, err := config.Redacted(s.opts.Config)
	return string(b), err
}

func (s *Server) apiConfig(w http.ResponseWriter, r *http.Request) error {
	text, err := s.redactedConfig()
	if err != nil {
		return err
	}
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, v)
}

// ConfigView is the config page's view.
type ConfigView struct{ File, YAML string }

func (s *Server) configPage(w http.ResponseWriter, r *http.Request) error {
	text, err := s.redactedConfig()
	if err != nil {
		return err
	}
	return s.ui.Shell().Render(w, r, http.StatusOK, "config", "Configuration", ConfigView{File: s.opts.Config.File, YAML: text})
}

// PartView is the page of a part that is not enabled.
type PartView struct {
	Title, Summary, Example, ConfigFile string
}

func (s *Server) partPage(p PartInfo) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return s.ui.Shell().Render(w, r, http.StatusOK, "part", title(p.Name),
			PartView{Title: title(p.Name), Summary: p.Summary, Example: p.Example, ConfigFile: s.opts.Config.File})
	}
}

// LoginView is the login page's view.
type LoginView struct{ Next, Error string }

func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.URL.Query().Get("next"))
	if t := r.URL.Query().Get("ticket"); t != "" {
		if !s.auth.useTicket(t) {
			return s.ui.Shell().Render(w, r, http.StatusUnauthorized, "login", "Log in",
				LoginView{Next: next, Error: "This login link was used already or has expired. Log in with a token, or restart dandan up for a new link."})
		}
		if err := s.auth.newSession(r.Context(), w, r, loginLinkName, httpapi.Admin); err != nil {
			return err
		}
		s.log.Info("login", "method", "link", "addr", r.RemoteAddr)
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	return s.ui.Shell().Render(w, r, http.StatusOK, "login", "Log in", LoginView{Next: next})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.PostFormValue("next"))
	addr := clientAddr(r)
	if !s.auth.allowAttempt(addr) {
		return s.ui.Shell().Render(w, r, http.StatusTooManyRequests, "login", "Log in",
			LoginView{Next: next, Error: "Too many failed attempts from your address. Wait a minute and try again."})
	}
	t := s.auth.tokenFor(strings.TrimSpace(r.PostFormValue("token")))
	if t == nil {
		s.auth.noteFailure(addr)
		s.log.Warn("login refused", "addr", r.RemoteAddr)
		return s.ui.Shell().Render(w, r, http.StatusUnauthorized, "login", "Log in", LoginView{Next: next, Error: "That token is not valid."})
	}
	if err := s.auth.newSession(r.Context(), w, r, t.name, t.role); err != nil {
		return err
	}
	s.log.Info("login", "method", "token", "token", t.name, "addr", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := s.auth.endSession(r.Context(), w, r); err != nil {
		return err
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
