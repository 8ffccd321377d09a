package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Validator is implemented by every section: defaults come from the
// section's constructor, Validate reports problems by key path (*Errors).
type Validator interface {
	Validate() error
}

// Config is the whole dandan.yaml: the shared sections, plus one section per
// part, keyed by the part's name.
type Config struct {
	// DataDir holds everything dandan writes: the SQL store, metrics, state.
	DataDir string `yaml:"data_dir"`
	Log     Log    `yaml:"log"`
	Server  Server `yaml:"server"`
	Auth    Auth   `yaml:"auth"`
	Store   Store  `yaml:"store"`

	// Parts holds the section of each part present in the file, decoded
	// into the part's own config type, by part name.
	Parts map[string]PartSection `yaml:"-"`
	// File is the path the config was loaded from.
	File string `yaml:"-"`
}

// PartSection is a part's decoded section.
type PartSection struct {
	// Enabled is false when the section says `enabled: false`.
	Enabled bool
	Config  Validator
}

// Log configures dandan's own log.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Server configures the one HTTP server.
type Server struct {
	Listen            string   `yaml:"listen"`
	ExternalURL       string   `yaml:"external_url"`
	TLS               TLS      `yaml:"tls"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	WriteTimeout      Duration `yaml:"write_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	MaxHeaderBytes    Size     `yaml:"max_header_bytes"`
	MaxBodyBytes      Size     `yaml:"max_body_bytes"`
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`
	AccessLog         bool     `yaml:"access_log"`
	// AccessLogFile, when set, is a file that gets a line per request in
	// nginx's media format, so the watchdog can tail dandan itself.
	AccessLogFile string `yaml:"access_log_file"`
}

// TLS names the certificate and key files; both empty serves plain HTTP.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Auth configures who may use the UI and the API.
type Auth struct {
	Tokens []Token `yaml:"tokens"`
	// LoopbackRole, when set, is the role given to requests without a
	// token that come from a loopback address (the config's opt-in to
	// running on a laptop without a login).
	LoopbackRole string   `yaml:"loopback_role"`
	SessionTTL   Duration `yaml:"session_ttl"`
	// LoginLink makes `dandan up` print a one-time login link.
	LoginLink bool `yaml:"login_link"`
}

// Token is one named API/UI token with its role.
type Token struct {
	Name  string `yaml:"name"`
	Role  string `yaml:"role"`
	Token Secret `yaml:"token"`
}

// Store configures the shared stores.
type Store struct {
	SQL     SQL     `yaml:"sql"`
	Metrics Metrics `yaml:"metrics"`
}

// Metrics configures the embedded metric store (Prometheus's TSDB in
// <data_dir>/metrics) and its Prometheus-compatible API under /api/v1/.
type Metrics struct {
	Enabled bool `yaml:"enabled"`
	// Retention is how long samples are kept.
	Retention Duration `yaml:"retention"`
	// RetentionSize caps the size of the stored blocks; 0 is no cap.
	RetentionSize Size `yaml:"retention_size"`
	// QueryTimeout bounds one PromQL query.
	QueryTimeout Duration `yaml:"query_timeout"`
}

// SQL configures the SQL store: SQLite in the data dir by default, or a
// postgres:// URL.
type SQL struct {
	URL Secret `yaml:"url"`
}

// Roles in the order of power; a role can do everything the ones before it can.
var Roles = []string{"tv", "viewer", "operator", "admin"}

// Default returns the config used when a key is not set.
func Default() Config {
	return Config{
		DataDir: "data",
		Log:     Log{Level: "info", Format: "text"},
		Server: Server{
			Listen:            "127.0.0.1:8080",
			ReadHeaderTimeout: Duration(10e9),
			ReadTimeout:       Duration(60e9),
			WriteTimeout:      Duration(120e9),
			IdleTimeout:       Duration(120e9),
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      10 << 20,
			ShutdownTimeout:   Duration(10e9),
			AccessLog:         true,
		},
		Auth:  Auth{SessionTTL: Duration(12 * 3600e9), LoginLink: true},
		Store: Store{Metrics: Metrics{Enabled: true, Retention: Duration(15 * 24 * 3600e9), QueryTimeout: Duration(120e9)}},
	}
}

// Validate checks the shared sections.
func (c *Config) Validate() error {
	var errs Errors
	if strings.TrimSpace(c.DataDir) == "" {
		errs.Add("data_dir", "required")
	}
	oneOf(&errs, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(&errs, "log.format", c.Log.Format, "text", "json")
	errs.Merge("server", c.Server.validate(len(c.Auth.Tokens) > 0))
	errs.Merge("auth", c.Auth.validate())
	if u := c.Store.SQL.URL.Reveal(); u != "" {
		scheme, _, ok := strings.Cut(u, ":")
		switch {
		case !ok:
			errs.Add("store.sql.url", "not a URL: want sqlite:PATH or postgres://…")
		case scheme == "postgres" || scheme == "postgresql":
			if _, err := url.Parse(u); err != nil {
				errs.Add("store.sql.url", "not a URL")
			}
		case scheme == "sqlite" || scheme == "file":
		default:
			errs.Add("store.sql.url", "unsupported scheme %q: want sqlite or postgres", scheme)
		}
	}
	if m := c.Store.Metrics; m.Enabled {
		if m.Retention < Duration(3600e9) {
			errs.Add("store.metrics.retention", "%s is too short: want at least 1h", m.Retention)
		}
		if m.RetentionSize < 0 {
			errs.Add("store.metrics.retention_size", "must not be negative")
		}
		positive(&errs, "store.metrics.query_timeout", m.QueryTimeout)
	}
	return errs.Err()
}

func (s *Server) validate(haveTokens bool) error {
	var errs Errors
	host, port, err := net.SplitHostPort(s.Listen)
	switch {
	case s.Listen == "":
		errs.Add("listen", "required")
	case err != nil:
		errs.Add("listen", "not host:port: %v", strings.TrimPrefix(err.Error(), "address "+s.Listen+": "))
	default:
		if p, err := parsePort(port); err != nil {
			errs.Add("listen", "%v", err)
		} else if !haveTokens && !IsLoopback(host) {
			errs.Add("listen", "%s is not a loopback address and auth.tokens is empty: anybody who can reach it would get in; add a token or listen on 127.0.0.1:%d", host, p)
		}
	}
	if s.ExternalURL != "" {
		u, err := url.Parse(s.ExternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.Add("external_url", "not a URL: want http(s)://host[:port][/path]")
		}
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		if s.TLS.CertFile == "" {
			errs.Add("tls.cert_file", "required when tls.key_file is set")
		} else {
			errs.Add("tls.key_file", "required when tls.cert_file is set")
		}
	}
	positive(&errs, "read_header_timeout", s.ReadHeaderTimeout)
	positive(&errs, "read_timeout", s.ReadTimeout)
	positive(&errs, "write_timeout", s.WriteTimeout)
	positive(&errs, "idle_timeout", s.IdleTimeout)
	positive(&errs, "shutdown_timeout", s.ShutdownTimeout)
	if s.MaxHeaderBytes < 1<<10 || s.MaxHeaderBytes > 16<<20 {
		errs.Add("max_header_bytes", "%s is out of range: want 1KiB to 16MiB", s.MaxHeaderBytes)
	}
	if s.MaxBodyBytes < 1<<10 || s.MaxBodyBytes > 1<<30 {
		errs.Add("max_body_bytes", "%s is out of range: want 1KiB to 1GiB", s.MaxBodyBytes)
	}
	return errs.Err()
}

func (a *Auth) validate() error {
	var errs Errors
	names := map[string]int{}
	secrets := map[string]int{}
	for i, t := range a.Tokens {
		p := fmt.Sprintf("tokens[%d]", i)
		if t.Name == "" {
			errs.Add(p+".name", "required")
		} else if j, dup := names[t.Name]; dup {
			errs.Add(p+".name", "%q is already the name of tokens[%d]", t.Name, j)
		} else {
			names[t.Name] = i
		}
		if t.Role == "" {
			errs.Add(p+".role", "required: one of %s", strings.Join(Roles, ", "))
		} else {
			oneOf(&errs, p+".role", t.Role, Roles...)
		}
		switch v := t.Token.Reveal(); {
		case v == "":
			errs.Add(p+".token", "required")
		case len(v) < 16:
			errs.Add(p+".token", "too short: use at least 16 characters (e.g. `openssl rand -hex 24`)")
		default:
			if j, dup := secrets[v]; dup {
				errs.Add(p+".token", "same token as tokens[%d]", j)
			}
			secrets[v] = i
		}
	}
	if a.LoopbackRole != "" {
		oneOf(&errs, "loopback_role", a.LoopbackRole, Roles...)
	}
	if a.SessionTTL < Duration(60e9) {
		errs.Add("session_ttl", "%s is too short: want at least 1m", a.SessionTTL)
	}
	return errs.Err()
}

func oneOf(errs *Errors, path, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	errs.Add(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

func positive(errs *Errors, path string, d Duration) {
	if d <= 0 {
		errs.Add(path, "must be more than 0")
	}
}

func parsePort(s string) (int, error) {
	var p int
	if _, err := fmt.Sscanf(s, "%d", &p); err != nil || fmt.Sprint(p) != s {
		return 0, fmt.Errorf("port %q is not a number", s)
	}
	if p < 0 || p > 65535 {
		return 0, fmt.Errorf("port %d is out of range: want 0 to 65535", p)
	}
	return p, nil
}

// IsLoopback reports whether host (a name or an IP, maybe empty) means
// loopback only. An empty host or 0.0.0.0 listens everywhere.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}
