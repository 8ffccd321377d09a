package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/sqlstore"
	"github.com/dandan-sre/dandan/internal/ui"
)

// StatusSource tells the state of every component.
type StatusSource interface {
	Statuses() []component.Status
	Ready() error
}

// PartInfo is what the shell shows of a part, enabled or not.
type PartInfo struct {
	Name, Summary, Example string
	Enabled                bool
}

// Options are what the server is built from.
type Options struct {
	Config   *config.Config
	Logger   *slog.Logger
	Registry *prometheus.Registry
	SQL      *sqlstore.DB
	Status   StatusSource
	Parts    []PartInfo
	Version  string
}

// Server is dandan's one HTTP server.
type Server struct {
	opts    Options
	cfg     config.Server
	log     *slog.Logger
	auth    *Auth
	ui      *ui.UI
	mux     *httpapi.Mux
	http    *http.Server
	ln      net.Listener
	started time.Time
	open    atomic.Bool // set by Open once every component has started
	access  *accessFile // server.access_log_file, nil when unset
}

// New builds the server, its authentication, the UI and the shell's routes.
// Parts add theirs through Mux before Serve. No I/O.
func New(opts Options) (*Server, error) {
	cfg := opts.Config.Server
	s := &Server{opts: opts, cfg: cfg, log: opts.Logger, started: time.Now()}
	secure := cfg.TLS.CertFile != "" || strings.HasPrefix(cfg.ExternalURL, "https://")
	auth, err := NewAuth(opts.Config.Auth, secure, opts.SQL, opts.Logger)
	if err != nil {
		return nil, err
	}
	s.auth = auth
	assets, err := ui.NewAssets()
	if err != nil {
		return nil, fmt.Errorf("load UI assets: %w", err)
	}
	s.ui, err = ui.New(assets, ui.Options{Version: opts.Version, Nav: s.nav})
	if err != nil {
		return nil, err
	}
	s.mux = httpapi.NewMux(httpapi.Options{Logger: opts.Logger, Registerer: opts.Registry, Pages: s.ui, LoginPath: "/login"})
	s.mountShell()
	s.http = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout.Std(),
		ReadTimeout:       cfg.ReadTimeout.Std(),
		WriteTimeout:      cfg.WriteTimeout.Std(),
		IdleTimeout:       cfg.IdleTimeout.Std(),
		MaxHeaderBytes:    int(cfg.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Mux is where parts mount their routes.
func (s *Server) Mux() *httpapi.Mux { return s.mux }

// UI is the web UI, for parts to parse their page templates with.
func (s *Server) UI() *ui.UI { return s.ui }

// Auth is the server's authenticator.
func (s *Server) Auth() *Auth { return s.auth }

// Start prepares the sessions table; call it once the SQL store is open.
func (s *Server) Start(ctx context.Context) error {
	return s.auth.Start(ctx, s.opts.SQL)
}

// Open lets every request through. Until then only /healthz, /readyz and
// static files are served; the rest answer 503 while dandan starts.
func (s *Server) Open() { s.open.Store(true) }

// Listen binds the configured address, loading the TLS key pair if set.
func (s *Server) Listen() error {
	if s.cfg.AccessLogFile != "" && s.access == nil {
		if err := os.MkdirAll(filepath.Dir(s.cfg.AccessLogFile), 0o750); err != nil {
			return fmt.Errorf("server.access_log_file: %w", err)
		}
		a, err := openAccessFile(s.cfg.AccessLogFile)
		if err != nil {
			return fmt.Errorf("server.access_log_file: %w", err)
		}
		s.access = a
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	if s.cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load TLS key pair: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
	}
	s.ln = ln
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is where users open the UI.
func (s *Server) URL() string {
	if s.cfg.ExternalURL != "" {
		return strings.TrimSuffix(s.cfg.ExternalURL, "/") + "/"
	}
	scheme := "http"
	if s.cfg.TLS.CertFile != "" {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(s.ln.Addr().String())
	if h, _, _ := net.SplitHostPort(s.cfg.Listen); h != "" && h != "0.0.0.0" && h != "::" {
		host = h
	} else if host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/"
}

// Serve answers requests until Shutdown; it returns nil after Shutdown.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections and waits for requests in flight
// until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if s.access != nil {
		s.access.close()
	}
	return err
}

// handler wraps the mux: panics → 500, request IDs, the access log, body
// limits, security headers, cross-origin protection and authentication.
func (s *Server) handler() http.Handler {
	var h http.Handler = s.mux
	h = s.authenticate(h)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, httpapi.Forbidden("cross-origin request refused"))
	}))
	h = cop.Handler(h)
	h = s.gate(h)
	h = s.limits(h)
	h = s.accessLog(h)
	h = s.recoverer(h)
	return h
}

func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.auth.Identify(r)
		if errors.Is(err, errBadToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dandan", error="invalid_token"`)
			httpapi.WriteError(w, r, &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeUnauthorized, Msg: "invalid token"})
			return
		}
		if err != nil {
			httpapi.WriteError(w, r, httpapi.Unavailable("authentication is unavailable", err))
			s.log.Error("authentication failed", "err", err, "request_id", httpapi.RequestID(r.Context()))
			return
		}
		if id != nil {
			r = r.WithContext(httpapi.WithIdentity(r.Context(), id))
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.open.Load() && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && !strings.HasPrefix(r.URL.Path, "/static/") {
			w.Header().Set("Retry-After", "1")
			httpapi.WriteError(w, r, &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable, Msg: "dandan is starting"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) limits(next http.Handler) http.Handler {
	max := int64(s.cfg.MaxBodyBytes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			httpapi.WriteError(w, r, &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Code: httpapi.CodeTooLarge, Msg: fmt.Sprintf("request body is larger than %d bytes", max)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		next.ServeHTTP(w, r)
	})
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush lets streaming handlers (pprof, later SSE) flush through the wrapper.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = randomString(9)
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(httpapi.WithRequestID(r.Context(), id))
		rec := &recorder{ResponseWriter: w}
		t0 := time.Now()
		next.ServeHTTP(rec, r)
		if s.access != nil {
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			s.access.log(r, status, rec.bytes, t0, time.Since(t0))
		}
		if !s.cfg.AccessLog {
			return
		}
		level := slog.LevelInfo
		if strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_s", time.Since(t0).Seconds()),
			slog.String("addr", r.RemoteAddr), slog.String("request_id", id))
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "err", fmt.Sprint(v), "stack", string(debug.Stack()))
				httpapi.WriteError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// LoginLinkEnabled reports whether `dandan up` should print a login link.
func (s *Server) LoginLinkEnabled() bool { return s.opts.Config.Auth.LoginLink }

// validRequestID accepts a caller's request ID only when it is short and
// plain, so that it is safe to echo and to log.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
