package sqlstore

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// mask replaces a password wherever one is shown, as url.URL.Redacted does.
const mask = "xxxxx"

// target is what Open makes of its URL and data dir.
type target struct {
	dialect  Dialect
	dsn      string   // the driver's data source name
	mkdir    string   // the directory to create first, for the default file
	redacted string   // the URL for logs and errors
	secrets  []string // passwords the URL holds, to scrub from errors
}

// parseTarget reads Open's URL. Its error never quotes the URL; the caller
// still scrubs tg.secrets from it, as it does from every error of Open.
func parseTarget(rawURL, dataDir string) (tg target, err error) {
	if rawURL == "" {
		if dataDir == "" {
			return tg, errors.New("no url and no data dir")
		}
		path, err := filepath.Abs(filepath.Join(dataDir, "dandan.db"))
		if err != nil {
			return tg, fmt.Errorf("data dir %s: %w", dataDir, err)
		}
		return target{
			dialect:  SQLite,
			dsn:      path + "?" + sqliteParams,
			mkdir:    filepath.Dir(path),
			redacted: "sqlite://" + filepath.ToSlash(path),
		}, nil
	}

	tg.secrets = passwordsIn(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		if len(tg.secrets) > 0 {
			// The parser's message may quote a piece of a malformed
			// password that scrubbing cannot recognize.
			return tg, errors.New("malformed url (details withheld: it holds a password)")
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error quotes the whole URL again
		}
		return tg, fmt.Errorf("malformed url: %w", err)
	}

	switch u.Scheme {
	case "postgres", "postgresql":
		tg.dialect = Postgres
		tg.dsn = rawURL
		tg.redacted = redactURL(u)
		return tg, nil

	case "sqlite":
		if u.Host != "" || u.User != nil {
			return tg, fmt.Errorf("sqlite url names host %q: want sqlite:///abs/path.db or sqlite:rel/path.db", u.Host)
		}
		path := u.Path
		if u.Opaque != "" {
			if path, err = url.PathUnescape(u.Opaque); err != nil {
				return tg, fmt.Errorf("sqlite url path: %w", err)
			}
		}
		if path == "" {
			return tg, errors.New("sqlite url has no path: want sqlite:///abs/path.db or sqlite:rel/path.db")
		}
		if strings.ContainsRune(path, '?') {
			return tg, fmt.Errorf("sqlite path %q holds a '?'", path)
		}
		tg.dialect = SQLite
		tg.dsn = path + "?" + sqliteParams
		if u.RawQuery != "" {
			tg.dsn += "&" + u.RawQuery
		}
		tg.redacted = redactURL(u)
		return tg, nil

	case "file":
		// A SQLite URI: the driver hands it to SQLite whole, so SQLite's
		// own parameters (mode=ro, …) keep working.
		tg.dialect = SQLite
		tg.dsn = rawURL
		if i := strings.IndexByte(tg.dsn, '#'); i >= 0 {
			tg.dsn = tg.dsn[:i]
		}
		if u.RawQuery != "" || u.ForceQuery {
			tg.dsn += "&" + sqliteParams
		} else {
			tg.dsn += "?" + sqliteParams
		}
		tg.redacted = redactURL(u)
		return tg, nil

	case "":
		return tg, errors.New("url has no scheme: want postgres://, postgresql://, sqlite: or file:")

	default:
		return tg, fmt.Errorf("unsupported url scheme %q: want postgres, postgresql, sqlite or file", u.Scheme)
	}
}

// redactURL returns u with its password, in the user info or the query,
// replaced by mask.
func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		if _, ok := c.User.Password(); ok {
			c.User = url.UserPassword(c.User.Username(), mask)
		}
	}
	if c.RawQuery != "" {
		q := c.Query()
		changed := false
		for _, k := range []string{"password", "sslpassword"} {
			if q.Has(k) {
				q.Set(k, mask)
				changed = true
			}
		}
		if changed {
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}

// passwordsIn returns the passwords rawURL holds, as written and decoded,
// longest first. It reads the URL loosely so that it finds them in a URL
// url.Parse rejects too.
func passwordsIn(rawURL string) []string {
	var out []string
	add := func(s string) {
		if s == "" || s == mask || slices.Contains(out, s) {
			return
		}
		out = append(out, s)
		for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
			if d, err := unescape(s); err == nil && d != "" && !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}

	rest, query, _ := strings.Cut(rawURL, "?")
	if _, after, ok := strings.Cut(rest, "://"); ok {
		// The user info ends at the last '@': an unescaped '@' or '/' in
		// a password then masks too much rather than too little.
		if at := strings.LastIndexByte(after, '@'); at >= 0 {
			if _, pw, ok := strings.Cut(after[:at], ":"); ok {
				add(pw)
			}
		}
	}
	query, _, _ = strings.Cut(query, "#")
	for kv := range strings.SplitSeq(query, "&") {
		// The query parameters pgx reads a password from.
		if k, v, _ := strings.Cut(kv, "="); strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			add(v)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(len(b)-len(a), strings.Compare(a, b))
	})
	return out
}

// scrubbedError is an error whose message has the passwords masked; Unwrap
// still reaches the original, for errors.Is.
type scrubbedError struct {
	err     error
	secrets []string
}

func (e *scrubbedError) Error() string {
	s := e.err.Error()
	for _, p := range e.secrets {
		s = strings.ReplaceAll(s, p, mask)
	}
	return s
}

func (e *scrubbedError) Unwrap() error { return e.err }

// scrub masks secrets, longest first, in err's message.
func scrub(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	return &scrubbedError{err: err, secrets: secrets}
}
