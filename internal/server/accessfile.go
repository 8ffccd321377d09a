package server

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// accessFile writes the access log file (server.access_log_file) in the
// media format of nginx, so that the watchdog can tail dandan's own
// requests as a job:
//
//	"$remote_addr" "$remote_user" [$time_local] "$request" $status $bytes_sent $request_time "$http_referer" "$http_user_agent"
//
// It reopens the file when the path names another file or none (after a
// rotation by rename), checking at most once a second.
type accessFile struct {
	path string

	mu      sync.Mutex // guards the fields below
	f       *os.File
	ino     uint64
	checked time.Time
	buf     []byte
}

func openAccessFile(path string) (*accessFile, error) {
	a := &accessFile{path: path}
	if err := a.reopen(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *accessFile) reopen() error {
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	if a.f != nil {
		a.f.Close()
	}
	a.f, a.ino = f, inode(f)
	return nil
}

func inode(f *os.File) uint64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// log writes one request's line.
func (a *accessFile) log(r *http.Request, status int, bytes int64, start time.Time, d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if now.Sub(a.checked) >= time.Second {
		a.checked = now
		if fi, err := os.Stat(a.path); err != nil || fi.Sys().(*syscall.Stat_t).Ino != a.ino {
			_ = a.reopen() // on failure keep writing to the old file
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	b := a.buf[:0]
	b = append(b, '"')
	b = appendEscaped(b, host)
	b = append(b, `" "-" [`...)
	b = start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "`...)
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, redactedURI(r.URL))
	b = append(b, ' ')
	b = appendEscaped(b, r.Proto)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, d.Seconds(), 'f', 3, 64)
	b = append(b, ` "`...)
	b = appendEscaped(b, orDash(r.Referer()))
	b = append(b, `" "`...)
	b = appendEscaped(b, orDash(r.UserAgent()))
	b = append(b, "\"\n"...)
	a.buf = b
	_, _ = a.f.Write(b)
}

func (a *accessFile) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

// secretParams are query parameters whose values never reach the log.
var secretParams = []string{"ticket", "token", "csrf_token", "password", "access_token"}

// redactedURI is the request URI with the values of secretParams replaced
// by REDACTED (the one-time login link's ticket, for one).
func redactedURI(u *url.URL) string {
	if u.RawQuery == "" {
		return u.RequestURI()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return u.EscapedPath() + "?REDACTED"
	}
	changed := false
	for _, p := range secretParams {
		if _, ok := q[p]; ok {
			q[p] = []string{"REDACTED"}
			changed = true
		}
	}
	if !changed {
		return u.RequestURI()
	}
	return u.EscapedPath() + "?" + q.Encode()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendEscaped writes s as nginx escapes variables in a log line: '"',
// '\' and bytes outside printable ASCII as \xHH.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
