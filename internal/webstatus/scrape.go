package webstatus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// Kind is the kind of status page a Target serves.
type Kind string

// The kinds of status page.
const (
	// Nginx is nginx's stub_status (ngx_http_stub_status_module).
	Nginx Kind = "nginx"
	// Apache is Apache's mod_status in its machine-readable form, the
	// server-status page with ?auto.
	Apache Kind = "apache"
)

// DefaultTimeout is the Timeout of a Target that gives none.
const DefaultTimeout = 5 * time.Second

// maxBody is the largest status page read: a real one is under 4 KiB
// (Apache's with a few balancers), so a larger body is not a status page.
const maxBody = 1 << 20

// Target is one status page to scrape.
type Target struct {
	// Job labels every sample of the target.
	Job string
	// Kind is the kind of page.
	Kind Kind
	// URL is the page, such as http://127.0.0.1/nginx_status or
	// http://127.0.0.1/server-status. For Apache, Scrape adds the query
	// parameter auto when the URL lacks it.
	URL string
	// Timeout bounds the whole scrape, from connecting to reading the last
	// byte; zero means DefaultTimeout.
	Timeout time.Duration
}

// Validate reports every problem of t at once, each naming its field.
func (t Target) Validate() error {
	var errs []error
	if t.Job == "" {
		errs = append(errs, errors.New("job: empty"))
	}
	if t.Kind != Nginx && t.Kind != Apache {
		errs = append(errs, fmt.Errorf("kind: %q is not nginx or apache", t.Kind))
	}
	if u, err := url.Parse(t.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url: %q is not an http or https URL", t.URL))
	}
	if t.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %s is negative", t.Timeout))
	}
	return errors.Join(errs...)
}

// pageURL is the URL Scrape fetches: t.URL, with ?auto for Apache.
func (t Target) pageURL() string {
	if t.Kind != Apache {
		return t.URL
	}
	u, err := url.Parse(t.URL)
	if err != nil || u.Query().Has("auto") {
		return t.URL // a bad URL fails in the request, naming it
	}
	if u.RawQuery == "" {
		u.RawQuery = "auto"
	} else {
		u.RawQuery += "&auto"
	}
	return u.String()
}

// Scraper scrapes status pages. It is safe for concurrent use.
type Scraper struct {
	client *http.Client
}

// New returns a Scraper that fetches pages with client; a nil client
// means a client of the Scraper's own, with its own connection pool.
// Targets' timeouts apply on top of any timeout of client.
func New(client *http.Client) *Scraper {
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Scraper{client: client}
}

// CloseIdleConnections closes the connections kept open between scrapes.
func (s *Scraper) CloseIdleConnections() { s.client.CloseIdleConnections() }

// Scrape fetches and parses the status page of t and returns its samples,
// all at now: up{job}=1, the page's metrics and
// dandan_webstatus_scrape_duration_seconds. It returns within t.Timeout
// (or when ctx ends). On failure it returns only up{job}=0 and the
// duration, with an error naming the job and the URL.
func (s *Scraper) Scrape(ctx context.Context, t Target, now time.Time) ([]metricstore.Sample, error) {
	start := time.Now()
	ts := now.UnixMilli()
	out := []metricstore.Sample{{}} // up, filled in below
	var err error
	switch t.Kind {
	case Nginx:
		var st NginxStatus
		var body []byte
		var hdr http.Header
		if body, hdr, err = s.fetch(ctx, t); err == nil {
			if st, err = ParseNginx(body); err == nil {
				st.Version = hdr.Get("Server")
				out = append(out, st.Samples(t.Job, now)...)
			}
		}
	case Apache:
		var st ApacheStatus
		var body []byte
		if body, _, err = s.fetch(ctx, t); err == nil {
			if st, err = ParseApache(body); err == nil {
				out = append(out, st.Samples(t.Job, now)...)
			}
		}
	default:
		err = fmt.Errorf("kind %q is not nginx or apache", t.Kind)
	}
	up := 1.0
	if err != nil {
		out, up = out[:1], 0
		err = fmt.Errorf("job %s: %s: %w", t.Job, t.pageURL(), err)
	}
	out[0] = sample(ts, up, MetricUp, t.Job)
	out = append(out, sample(ts, time.Since(start).Seconds(), MetricScrapeDuration, t.Job))
	return out, err
}

// fetch GETs the page of t within its timeout and returns its body and
// headers; any status but 200 is an error.
func (s *Scraper) fetch(ctx context.Context, t Target) ([]byte, http.Header, error) {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, timeoutError{timeout})
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.pageURL(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("User-Agent", "dandan-webstatus")
	req.Header.Set("Accept", "text/plain")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, fetchErr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read body: %w", fetchErr(ctx, err))
	}
	if len(body) > maxBody {
		return nil, nil, fmt.Errorf("body larger than %d bytes: not a status page", maxBody)
	}
	return body, resp.Header, nil
}

// fetchErr is err of a request made with ctx, without the method and URL
// that *url.Error repeats, and saying so when the timeout ended it.
func fetchErr(ctx context.Context, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	return err
}

// timeoutError is the error of a scrape that took longer than its
// timeout; it is a context.DeadlineExceeded.
type timeoutError struct{ timeout time.Duration }

func (e timeoutError) Error() string        { return fmt.Sprintf("no answer within %s", e.timeout) }
func (e timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// ScrapeAll scrapes every target in parallel and returns all their
// samples, in the order of targets, and the errors of those that failed.
// A hanging target delays no other: ScrapeAll returns when the slowest
// target answers or times out. A loop that scrapes each target on its
// own interval calls Scrape per target instead.
func (s *Scraper) ScrapeAll(ctx context.Context, targets []Target, now time.Time) ([]metricstore.Sample, []error) {
	type result struct {
		samples []metricstore.Sample
		err     error
	}
	res := make([]result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { res[i].samples, res[i].err = s.Scrape(ctx, t, now) })
	}
	wg.Wait()
	var samples []metricstore.Sample
	var errs []error
	for _, r := range res {
		samples = append(samples, r.samples...)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return samples, errs
}

// sample is the sample of metric name with the label pairs nameValues
// (besides job) at ts. Label values come from the page: they are made
// valid UTF-8, and a label with an empty value is left out, as Prometheus
// does.
func sample(ts int64, v float64, name, job string, nameValues ...string) metricstore.Sample {
	kv := make([]string, 0, 4+len(nameValues))
	kv = append(kv, "__name__", name, "job", job)
	for i := 0; i+1 < len(nameValues); i += 2 {
		if nameValues[i+1] != "" {
			kv = append(kv, nameValues[i], strings.ToValidUTF8(nameValues[i+1], "\uFFFD"))
		}
	}
	return metricstore.Sample{Labels: metricstore.FromStrings(kv...), T: ts, V: v}
}
