package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HandlerFunc is a handler that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Kind says how a route answers: JSON, an HTML page, or as it likes.
type Kind string

// Route kinds.
const (
	KindAPI  Kind = "api"
	KindPage Kind = "page"
	KindRaw  Kind = "raw"
)

// Route is one registered pattern.
type Route struct {
	Pattern string // "GET /api/status"
	Role    Role
	Kind    Kind
	Title   string // pages only
}

// Method returns the pattern's method, or "" when it takes any.
func (r Route) Method() string {
	m, _, ok := strings.Cut(r.Pattern, " ")
	if !ok {
		return ""
	}
	return m
}

// Path returns the pattern's path part.
func (r Route) Path() string {
	if _, p, ok := strings.Cut(r.Pattern, " "); ok {
		return p
	}
	return r.Pattern
}

// PageErrors renders the HTML answers of page routes.
type PageErrors interface {
	// PageError writes an HTML error page.
	PageError(w http.ResponseWriter, r *http.Request, status int, msg string)
}

// Options configure a Mux.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no per-route metrics
	Pages      PageErrors            // nil: pages answer errors as text
	LoginPath  string                // where pages send anonymous callers; "" → 401
}

// Mux is dandan's one router: net/http's ServeMux plus a role per route.
type Mux struct {
	opts     Options
	mux      *http.ServeMux
	routes   []Route
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewMux returns an empty Mux. Unknown /api/ paths answer the JSON error
// shape; other unknown paths an HTML 404.
func NewMux(opts Options) *Mux {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Mux{opts: opts, mux: http.NewServeMux()}
	if opts.Registerer != nil {
		m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dandan_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"handler", "method", "code"})
		m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dandan_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"handler", "method"})
		m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dandan_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		})
		opts.Registerer.MustRegister(m.requests, m.duration, m.inFlight)
	}
	m.mux.Handle("/api/", http.HandlerFunc(m.apiFallback))
	m.mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.pageError(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	}))
	return m
}

// API registers a JSON route.
func (m *Mux) API(pattern string, role Role, h HandlerFunc) {
	m.register(Route{Pattern: pattern, Role: role, Kind: KindAPI}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			m.logError(r, WriteError(w, r, err))
		}
	}))
}

// Page registers an HTML page route.
func (m *Mux) Page(pattern string, role Role, title string, h HandlerFunc) {
	m.register(Route{Pattern: pattern, Role: role, Kind: KindPage, Title: title}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			status, body, logged := Reply(err)
			m.logError(r, logged)
			m.pageError(w, r, status, body.Error)
		}
	}))
}

// Handle registers a plain handler (static files, /metrics, the
// Prometheus-compatible API with its own envelope).
func (m *Mux) Handle(pattern string, role Role, h http.Handler) {
	m.register(Route{Pattern: pattern, Role: role, Kind: KindRaw}, h)
}

// Routes returns every registered route in registration order.
func (m *Mux) Routes() []Route { return slices.Clone(m.routes) }

// ServeHTTP routes r.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

func (m *Mux) register(rt Route, h http.Handler) {
	if rt.Kind == KindAPI && !strings.HasPrefix(rt.Path(), "/api/") {
		panic("httpapi: API route outside /api/: " + rt.Pattern)
	}
	h = m.guard(rt, h)
	if m.requests != nil {
		label := prometheus.Labels{"handler": rt.Path()}
		h = promhttp.InstrumentHandlerInFlight(m.inFlight, promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(label),
			promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(label), h)))
	}
	m.mux.Handle(rt.Pattern, h) // panics on a conflicting pattern, naming both
	m.routes = append(m.routes, rt)
}

// guard enforces the route's role, and the CSRF token on state-changing
// requests that ride on the UI's session cookie.
func (m *Mux) guard(rt Route, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := IdentityFrom(r.Context())
		if rt.Role > Public {
			if id == nil {
				m.deny(w, r, rt.Kind, http.StatusUnauthorized, CodeUnauthorized, "authentication required: send Authorization: Bearer <token> or log in")
				return
			}
			if id.Role < rt.Role {
				m.deny(w, r, rt.Kind, http.StatusForbidden, CodeForbidden, "the "+id.Role.String()+" role may not do this: it needs "+rt.Role.String())
				return
			}
		}
		if id != nil && id.Session && !safeMethod(r.Method) && !validCSRF(r, id.CSRF) {
			m.deny(w, r, rt.Kind, http.StatusForbidden, CodeForbidden, "missing or wrong CSRF token: reload the page and try again")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// CSRFHeader carries the session's CSRF token on htmx and fetch requests;
// CSRFField carries it in forms.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		ct := r.Header.Get("Content-Type")
		if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
			got = r.PostFormValue(CSRFField)
		}
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (m *Mux) deny(w http.ResponseWriter, r *http.Request, kind Kind, status int, code, msg string) {
	if kind == KindPage || kind == KindRaw && !strings.HasPrefix(r.URL.Path, "/api/") && acceptsHTML(r) {
		if status == http.StatusUnauthorized && m.opts.LoginPath != "" && safeMethod(r.Method) {
			http.Redirect(w, r, m.opts.LoginPath+"?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		m.pageError(w, r, status, msg)
		return
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dandan"`)
	}
	WriteError(w, r, &Error{Status: status, Code: code, Msg: msg})
}

func acceptsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func (m *Mux) pageError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if m.opts.Pages != nil {
		m.opts.Pages.PageError(w, r, status, msg)
		return
	}
	http.Error(w, msg, status)
}

// apiFallback answers unknown /api/ paths: 405 with Allow when the path
// exists for other methods, else 404, both in the JSON error shape.
func (m *Mux) apiFallback(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if method == r.Method {
			continue
		}
		probe := r.Clone(context.Background())
		probe.Method = method
		if _, p := m.mux.Handler(probe); p != "/api/" && p != "" {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		WriteError(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Msg: r.Method + " is not allowed on " + r.URL.Path + ": use " + strings.Join(allow, " or ")})
		return
	}
	WriteError(w, r, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Msg: "no API route " + r.Method + " " + r.URL.Path})
}

func (m *Mux) logError(r *http.Request, err error) {
	if err == nil {
		return
	}
	m.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "request failed",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("request_id", RequestID(r.Context())), slog.Any("err", err))
}
