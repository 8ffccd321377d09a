package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/sqlstore"
)

// SessionCookie is the name of the UI's session cookie.
const SessionCookie = "dandan_session"

// loginLinkName names sessions opened by the one-time login link.
const loginLinkName = "login-link"

type token struct {
	name string
	role httpapi.Role
	hash [32]byte
}

// Auth tells who a request comes from: a bearer token, a UI session, or
// (when the config allows it) a loopback client without a token. Tokens are
// kept only as SHA-256 hashes and compared in constant time.
type Auth struct {
	log          *slog.Logger
	db           sqlstore.Store
	tokens       []token
	loopbackRole httpapi.Role // Public: off
	sessionTTL   time.Duration
	secureCookie bool // always Secure (TLS or an https external URL)

	mu      sync.Mutex // guards tickets and fails
	tickets map[[32]byte]time.Time
	fails   map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

// NewAuth builds the authenticator from the auth section; no I/O.
func NewAuth(cfg config.Auth, secure bool, db sqlstore.Store, log *slog.Logger) (*Auth, error) {
	a := &Auth{log: log, db: db, sessionTTL: cfg.SessionTTL.Std(), secureCookie: secure,
		tickets: map[[32]byte]time.Time{}, fails: map[string]*failWindow{}}
	for _, t := range cfg.Tokens {
		role, err := httpapi.ParseRole(t.Role)
		if err != nil {
			return nil, fmt.Errorf("token %s: %w", t.Name, err)
		}
		a.tokens = append(a.tokens, token{name: t.Name, role: role, hash: sha256.Sum256([]byte(t.Token.Reveal()))})
	}
	if cfg.LoopbackRole != "" {
		role, err := httpapi.ParseRole(cfg.LoopbackRole)
		if err != nil {
			return nil, fmt.Errorf("loopback_role: %w", err)
		}
		a.loopbackRole = role
	}
	return a, nil
}

var sessionMigrations = []sqlstore.Migration{{
	Version: 1,
	Name:    "create sessions",
	SQL: `CREATE TABLE dandan_sessions (
		id_hash    TEXT PRIMARY KEY,
		token_name TEXT NOT NULL,
		role       TEXT NOT NULL,
		csrf       TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL
	)`,
}}

// Migrator is the part of the SQL store that applies migrations.
type Migrator interface {
	Migrate(ctx context.Context, set string, ms []sqlstore.Migration) error
}

// Start creates the sessions table and drops expired sessions.
func (a *Auth) Start(ctx context.Context, m Migrator) error {
	if err := m.Migrate(ctx, "sessions", sessionMigrations); err != nil {
		return err
	}
	_, err := a.db.ExecContext(ctx, `DELETE FROM dandan_sessions WHERE expires_at < $1`, time.Now().Unix())
	return err
}

// NeedsLogin reports whether anonymous users must log in: false only when
// there are no tokens and loopback clients are let in without one.
func (a *Auth) NeedsLogin() bool { return a.loopbackRole == httpapi.Public || len(a.tokens) > 0 }

// NewTicket returns a one-time login ticket, valid for ttl.
func (a *Auth) NewTicket(ttl time.Duration) string {
	t := randomString(24)
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for h, exp := range a.tickets {
		if now.After(exp) {
			delete(a.tickets, h)
		}
	}
	a.tickets[sha256.Sum256([]byte(t))] = now.Add(ttl)
	return t
}

func (a *Auth) useTicket(t string) bool {
	h := sha256.Sum256([]byte(t))
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.tickets[h]
	delete(a.tickets, h)
	return ok && time.Now().Before(exp)
}

// tokenFor finds the configured token whose hash matches, comparing every
// one so that timing says nothing about which or how many matched.
func (a *Auth) tokenFor(secret string) *token {
	h := sha256.Sum256([]byte(secret))
	var found *token
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(h[:], a.tokens[i].hash[:]) == 1 {
			found = &a.tokens[i]
		}
	}
	return found
}

var errBadToken = errors.New("invalid token")

// Identify returns who sent r, nil for anonymous, or errBadToken when the
// request carries a bearer token that is not valid.
func (a *Auth) Identify(r *http.Request) (*httpapi.Identity, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || secret == "" {
			return nil, errBadToken
		}
		t := a.tokenFor(strings.TrimSpace(secret))
		if t == nil {
			return nil, errBadToken
		}
		return &httpapi.Identity{Name: t.name, Role: t.role}, nil
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		id, err := a.session(r.Context(), c.Value)
		if err != nil {
			return nil, err
		}
		if id != nil {
			return id, nil
		}
	}
	if a.loopbackRole != httpapi.Public && isLoopbackAddr(r.RemoteAddr) {
		return &httpapi.Identity{Name: "loopback", Role: a.loopbackRole}, nil
	}
	return nil, nil
}

func (a *Auth) session(ctx context.Context, cookie string) (*httpapi.Identity, error) {
	var name, role, csrf string
	var expires int64
	err := a.db.QueryRowContext(ctx,
		`SELECT token_name, role, csrf, expires_at FROM dandan_sessions WHERE id_hash = $1`,
		hashString(cookie)).Scan(&name, &role, &csrf, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if time.Now().Unix() > expires {
		return nil, nil
	}
	r, err := httpapi.ParseRole(role)
	if err != nil {
		return nil, nil
	}
	if name != loginLinkName {
		// A token's role may have changed, or the token gone, since login.
		r = httpapi.Public
		for _, t := range a.tokens {
			if t.name == name {
				r = t.role
			}
		}
		if r == httpapi.Public {
			return nil, nil
		}
	}
	if r == httpapi.TV && time.Until(time.Unix(expires, 0)) < a.sessionTTL/2 {
		// A wall screen runs for days: its session renews itself while
		// the screen is on (its cookie lasts as long as the browser runs).
		if _, err := a.db.ExecContext(ctx, `UPDATE dandan_sessions SET expires_at = $1 WHERE id_hash = $2`,
			time.Now().Add(a.sessionTTL).Unix(), hashString(cookie)); err != nil {
			a.log.Warn("renewing a TV session failed", "err", err)
		}
	}
	return &httpapi.Identity{Name: name, Role: r, Session: true, CSRF: csrf}, nil
}

func (a *Auth) newSession(ctx context.Context, w http.ResponseWriter, r *http.Request, name string, role httpapi.Role) error {
	id := randomString(32)
	now := time.Now()
	_, err := a.db.ExecContext(ctx,
		`INSERT INTO dandan_sessions (id_hash, token_name, role, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		hashString(id), name, role.String(), randomString(24), now.Unix(), now.Add(a.sessionTTL).Unix())
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	maxAge := int(a.sessionTTL.Seconds())
	if role == httpapi.TV {
		maxAge = 0 // kept while the browser runs; the server renews the session while it is used
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: a.cookieSecure(r), SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (a *Auth) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if _, err := a.db.ExecContext(ctx, `DELETE FROM dandan_sessions WHERE id_hash = $1`, hashString(c.Value)); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.cookieSecure(r), SameSite: http.SameSiteLaxMode})
	return nil
}

// cookieSecure: Secure whenever the browser will keep it: over TLS, behind
// an https external URL, and on loopback hosts (browsers treat http://localhost
// and 127.0.0.1 as secure contexts).
func (a *Auth) cookieSecure(r *http.Request) bool {
	if a.secureCookie || r.TLS != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return config.IsLoopback(host)
}

// allowAttempt limits failed logins per client address: 10 a minute.
func (a *Auth) allowAttempt(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.fails[addr]
	return f == nil || time.Since(f.start) > time.Minute || f.n < 10
}

func (a *Auth) noteFailure(addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.fails) > 10000 {
		clear(a.fails) // bounded memory under a flood of addresses
	}
	f := a.fails[addr]
	if f == nil || time.Since(f.start) > time.Minute {
		f = &failWindow{start: time.Now()}
		a.fails[addr] = f
	}
	f.n++
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashString(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func isLoopbackAddr(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

func clientAddr(r *http.Request) string {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().String()
	}
	return r.RemoteAddr
}
