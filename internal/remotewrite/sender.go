package remotewrite

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/buildinfo"
	"github.com/dandan-sre/dandan/internal/config"
)

// Defaults of the zero fields of Config; the backoff bounds are those of
// Prometheus's queue_config.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultMinBackoff = 30 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
)

// maxRetryAfter bounds the wait a receiver's Retry-After can ask for.
const maxRetryAfter = 5 * time.Minute

// warnEvery is how often a lasting outage is logged at Warn again.
const warnEvery = 5 * time.Minute

// bodyLimit is how much of a response body a DroppedError keeps.
const bodyLimit = 256

// Config says where and how a Sender posts.
type Config struct {
	// Name labels the metrics (remote="<Name>"); the URL's host when empty.
	Name string
	// URL is the receiver's endpoint, such as
	// http://prometheus:9090/api/v1/write.
	URL string
	// Headers are added to every request; they cannot set the headers of
	// the protocol or Authorization.
	Headers map[string]string
	// BasicAuth, when set, authenticates every request; not together with
	// BearerToken.
	BasicAuth *BasicAuth
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	BearerToken config.Secret
	// TLS configures https URLs.
	TLS TLSConfig
	// Timeout bounds one request; DefaultTimeout when zero.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries, which
	// doubles from MinBackoff up to MaxBackoff, with jitter; the defaults
	// when zero.
	MinBackoff, MaxBackoff time.Duration
	// OnOutage, when set, is called when requests start failing (down,
	// with the first error) and when one succeeds again (up; since is
	// when the outage began). It runs in the sending goroutine: keep it short.
	OnOutage func(down bool, since time.Time, err error)
}

// BasicAuth is a user name and password for HTTP basic authentication.
type BasicAuth struct {
	Username string
	Password config.Secret
}

// TLSConfig configures the TLS client. The zero value verifies the
// receiver with the system's roots.
type TLSConfig struct {
	// CAFile holds the PEM certificates the receiver is verified with,
	// instead of the system's.
	CAFile string
	// CertFile and KeyFile hold the client certificate and its key, for
	// receivers that want one.
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any certificate of the receiver.
	InsecureSkipVerify bool
}

// reservedHeaders are headers Config.Headers cannot set: the protocol's,
// and Authorization, which BasicAuth and BearerToken set.
var reservedHeaders = []string{
	"Authorization", "Host", "Content-Encoding", "Content-Length", "Content-Type",
	"User-Agent", "Connection", "Keep-Alive", "Proxy-Authorization", "Accept-Encoding",
	"X-Prometheus-Remote-Write-Version",
}

// withDefaults returns c with its zero fields set.
func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	return c
}

// Validate reports every mistake of c at once, each prefixed by its field.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url", "not an http or https URL")
	} else if u.User != nil {
		add("url", "holds credentials; use basic_auth")
	}
	for name := range c.Headers {
		for _, r := range reservedHeaders {
			if strings.EqualFold(name, r) {
				add("headers", "%s cannot be set", r)
			}
		}
	}
	if c.BasicAuth != nil && c.BearerToken != "" {
		add("bearer_token", "not together with basic_auth")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		add("tls", "cert_file and key_file go together")
	}
	if c.MinBackoff < 0 || c.MaxBackoff < 0 || c.Timeout < 0 {
		add("timeout", "durations cannot be negative")
	}
	return errors.Join(errs...)
}

// DroppedError is Send's error when the receiver refused a request for
// good (a 4xx other than 429): its samples are dropped and counted.
//
// A request sent again after a crash may be one the receiver took the first
// time. Prometheus (2.42, without an out-of-order window) then answers 204
// when each series of the request has one sample, but 400 "out of order
// sample" when a series has several, and the same for a request holding a
// sample older than its series' newest; a 400 rolls back the whole
// request (TestPrometheus/resend). A caller re-sending an in-flight request
// may count such a 400 as delivered rather than dropped.
type DroppedError struct {
	Status  int    // the HTTP status code
	Body    string // the start of the response body, at most 256 bytes
	Samples int    // how many samples the request held
}

func (e *DroppedError) Error() string {
	return fmt.Sprintf("remote write refused, %d samples dropped: %d %s: %s",
		e.Samples, e.Status, http.StatusText(e.Status), strings.TrimSpace(e.Body))
}

// Sender posts encoded requests to one receiver. It is safe for concurrent
// use; each Send retries on its own.
type Sender struct {
	cfg     Config
	url     string
	addr    string // the receiver's host, for logs
	ua      string
	client  *http.Client
	log     *slog.Logger
	metrics *metrics

	mu sync.Mutex // guards the fields below
	// failingSince is when the current run of failures began; zero while
	// requests succeed.
	failingSince time.Time
	warned       time.Time // when the outage was last logged at Warn
}

// New returns a Sender for cfg, its metrics registered on reg (when not
// nil) with the label remote=<cfg.Name>. Registering a second Sender of the
// same name on reg shares the first one's metrics. It does no I/O besides
// reading the TLS files.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u, _ := url.Parse(cfg.URL)
	if cfg.Name == "" {
		cfg.Name = u.Host
	}
	tlsConf, err := cfg.TLS.load()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	tr.MaxIdleConnsPerHost = 4
	m, err := newMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"remote": cfg.Name}, orNop(reg)))
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{
		cfg:     cfg,
		url:     u.String(),
		addr:    u.Host,
		ua:      "dandan/" + buildinfo.Get().Version,
		client:  &http.Client{Transport: tr},
		log:     log,
		metrics: m,
	}, nil
}

// load returns the tls.Config of c, or nil for the defaults.
func (c TLSConfig) load() (*tls.Config, error) {
	if c == (TLSConfig{}) {
		return nil, nil
	}
	conf := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file: no PEM certificate in %s", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// Send posts payload, an encoded request of samples samples, until the
// receiver takes it or refuses it for good.
//
// It returns nil once a 2xx answers. It retries 5xx, 429 and network errors
// (a request slower than Config.Timeout included), waiting a backoff that
// doubles from MinBackoff to MaxBackoff with jitter, or as long as the
// receiver's Retry-After asks (up to 5 minutes), until ctx is done; it then
// returns an error that matches ctx's, and nothing is counted as dropped:
// the caller still holds the request. Another status (a 4xx) returns a
// *DroppedError, and the samples count in
// dandan_remote_write_samples_dropped_total.
func (s *Sender) Send(ctx context.Context, payload []byte, samples int) error {
	var last error // of the previous attempt
	for attempt := 0; ; attempt++ {
		status, retryAfter, body, err := s.post(ctx, payload)
		switch {
		case err == nil && status/100 == 2:
			s.succeeded(samples)
			return nil
		case err == nil && status != http.StatusTooManyRequests && status/100 != 5:
			s.metrics.dropped.WithLabelValues(strconv.Itoa(status/100) + "xx").Add(float64(samples))
			s.answered()
			return &DroppedError{Status: status, Body: body, Samples: samples}
		}
		if ctx.Err() != nil {
			return s.gaveUp(ctx, last)
		}
		if err == nil {
			err = fmt.Errorf("%d %s: %s", status, http.StatusText(status), strings.TrimSpace(body))
		}
		last = err
		wait := s.backoff(attempt)
		if retryAfter > wait {
			wait = min(retryAfter, maxRetryAfter)
		}
		s.failed(status, err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return s.gaveUp(ctx, last)
		case <-t.C:
		}
	}
}

// gaveUp returns Send's error when ctx ends, which matches ctx's and tells
// the last failure, if any, which is not wrapped.
func (s *Sender) gaveUp(ctx context.Context, last error) error {
	if last == nil {
		return fmt.Errorf("remote write to %s: %w", s.addr, context.Cause(ctx))
	}
	return fmt.Errorf("remote write to %s: %w (last error: %s)", s.addr, context.Cause(ctx), last.Error())
}

// post makes one request. It returns the status, the Retry-After wait
// (zero when none), the start of the body of a failure, or the error that
// left no response.
func (s *Sender) post(ctx context.Context, payload []byte) (status int, retryAfter time.Duration, body string, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(payload))
	if err != nil {
		return 0, 0, "", err
	}
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", s.ua)
	switch {
	case s.cfg.BasicAuth != nil:
		req.SetBasicAuth(s.cfg.BasicAuth.Username, s.cfg.BasicAuth.Password.Reveal())
	case s.cfg.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+s.cfg.BearerToken.Reveal())
	}

	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		s.metrics.requests.WithLabelValues("error").Inc()
		s.metrics.duration.Observe(time.Since(start).Seconds())
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
		body = strings.ToValidUTF8(string(b), "\uFFFD")
	}
	// Reading the rest lets the connection serve the next request.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	s.metrics.requests.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
	s.metrics.duration.Observe(time.Since(start).Seconds())
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), body, nil
}

// parseRetryAfter returns the wait a Retry-After header asks for, in
// seconds or as an HTTP date, or zero.
func parseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff returns the wait before retry number attempt+1: MinBackoff
// doubled attempt times, at most MaxBackoff, and then between half of that
// and all of it.
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.cfg.MaxBackoff
	if attempt < 32 {
		d = min(s.cfg.MinBackoff<<attempt, s.cfg.MaxBackoff)
	}
	if d <= 0 {
		d = s.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// succeeded accounts a request the receiver took.
func (s *Sender) succeeded(samples int) {
	s.metrics.sent.Add(float64(samples))
	s.metrics.up.Set(1)
	s.metrics.lastSuccess.SetToCurrentTime()
	s.answered()
}

// answered ends an outage, if any: the receiver answered for good.
func (s *Sender) answered() {
	s.mu.Lock()
	since := s.failingSince
	s.failingSince = time.Time{}
	s.mu.Unlock()
	if !since.IsZero() {
		s.log.Info("remote write recovered", "addr", s.addr, "duration_s", time.Since(since).Seconds())
		if s.cfg.OnOutage != nil {
			s.cfg.OnOutage(false, since, nil)
		}
	}
}

// failed accounts a request to be retried, logging at Warn
// when an outage begins and every warnEvery while it lasts.
func (s *Sender) failed(status int, err error) {
	s.metrics.retries.Inc()
	s.metrics.up.Set(0)
	now := time.Now()
	s.mu.Lock()
	if s.failingSince.IsZero() {
		s.failingSince = now
		if s.cfg.OnOutage != nil {
			defer s.cfg.OnOutage(true, now, err)
		}
	}
	since := s.failingSince
	warn := now.Sub(s.warned) >= warnEvery || s.warned.Before(since)
	if warn {
		s.warned = now
	}
	s.mu.Unlock()
	level := slog.LevelDebug
	if warn {
		level = slog.LevelWarn
	}
	args := []any{"addr", s.addr, "err", err, "duration_s", now.Sub(since).Seconds()}
	if status != 0 {
		args = append(args, "status", status)
	}
	s.log.Log(context.Background(), level, "remote write failing, retrying", args...)
}

// metrics are a Sender's, all labelled remote=<Name> by their registerer.
type metrics struct {
	sent        prometheus.Counter
	dropped     *prometheus.CounterVec
	requests    *prometheus.CounterVec
	retries     prometheus.Counter
	duration    prometheus.Histogram
	lastSuccess prometheus.Gauge
	up          prometheus.Gauge
}

// newMetrics registers a Sender's metrics on reg.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var m metrics
	var errs []error
	m.sent = register(reg, &errs, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dandan_remote_write_samples_sent_total",
		Help: "Samples the remote_write receiver accepted.",
	}))
	m.dropped = register(reg, &errs, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dandan_remote_write_samples_dropped_total",
		Help: "Samples dropped because the remote_write receiver refused them for good, by reason (4xx).",
	}, []string{"reason"}))
	m.requests = register(reg, &errs, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dandan_remote_write_requests_total",
		Help: "Remote_write requests made, retries included, by HTTP status code (error: no response).",
	}, []string{"code"}))
	m.retries = register(reg, &errs, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dandan_remote_write_retries_total",
		Help: "Remote_write requests retried after a 5xx, a 429 or a network error.",
	}))
	m.duration = register(reg, &errs, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "dandan_remote_write_request_duration_seconds",
		Help:    "Duration of remote_write requests, retries included.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}))
	m.lastSuccess = register(reg, &errs, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dandan_remote_write_last_success_timestamp_seconds",
		Help: "Unix time of the last request the remote_write receiver accepted.",
	}))
	m.up = register(reg, &errs, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dandan_remote_write_up",
		Help: "1 when the last remote_write request succeeded; 0 before the first success and while retrying.",
	}))
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	m.dropped.WithLabelValues("4xx")
	return &m, nil
}

// register registers c on reg and returns it, or the collector registered
// before it under the same name and labels; it adds other errors to errs.
func register[C prometheus.Collector](reg prometheus.Registerer, errs *[]error, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if old, ok := are.ExistingCollector.(C); ok {
			return old
		}
	}
	*errs = append(*errs, err)
	return c
}

// orNop returns reg, or a registry nothing reads when reg is nil.
func orNop(reg prometheus.Registerer) prometheus.Registerer {
	if reg == nil {
		return prometheus.NewRegistry()
	}
	return reg
}
