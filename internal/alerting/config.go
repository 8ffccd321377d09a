package alerting

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/config"
)

// Config is the alerting section: which rule files to evaluate, how often,
// and where firing and resolved alerts go.
type Config struct {
	// RuleFiles are Prometheus rule files, or globs of them; a relative
	// path is taken as given, from the working directory.
	RuleFiles []string `yaml:"rule_files"`
	// Interval is how often a group is evaluated unless it sets its own.
	Interval config.Duration `yaml:"interval"`
	// Webhooks receive Alertmanager's webhook payload when an alert fires
	// or resolves, and again every RepeatInterval while it fires.
	Webhooks []WebhookConfig `yaml:"webhooks"`
	// RepeatInterval is how long a webhook waits before telling again
	// about a group of alerts that still fire (Alertmanager's
	// repeat_interval).
	RepeatInterval config.Duration `yaml:"repeat_interval"`
	// AlertmanagerURL is an Alertmanager's base URL; when set, alerts are
	// also posted to its /api/v2/alerts as Prometheus does.
	AlertmanagerURL string `yaml:"alertmanager_url"`
	// ExternalURL is dandan's URL as people reach it, for the alerts'
	// generatorURL and the payload's externalURL.
	ExternalURL string `yaml:"external_url"`
}

// WebhookConfig is one Alertmanager-compatible webhook receiver.
type WebhookConfig struct {
	// Name is the receiver name in the payload; "" means "webhook".
	Name        string        `yaml:"name"`
	URL         string        `yaml:"url"`
	BearerToken config.Secret `yaml:"bearer_token"`
	// Timeout bounds one attempt; 0 means 10s.
	Timeout config.Duration `yaml:"timeout"`
	// MaxAlerts caps the alerts of one payload (the rest are counted in
	// truncatedAlerts); 0 means no cap.
	MaxAlerts int `yaml:"max_alerts"`
}

// Defaults.
const (
	DefaultInterval       = 30 * time.Second
	DefaultRepeatInterval = 4 * time.Hour
	DefaultWebhookTimeout = 10 * time.Second
	defaultReceiver       = "webhook"
)

// DefaultConfig returns the defaults: no rule files, evaluated every 30s.
func DefaultConfig() Config {
	return Config{
		Interval:       config.Duration(DefaultInterval),
		RepeatInterval: config.Duration(DefaultRepeatInterval),
	}
}

// Validate reports every problem by key path, reading each rule file and
// checking it as `promtool check rules` does.
func (c *Config) Validate() error {
	var errs config.Errors
	if c.Interval <= 0 {
		errs.Add("interval", "must be positive, e.g. 30s")
	}
	if c.RepeatInterval < 0 {
		errs.Add("repeat_interval", "must not be negative")
	}
	names := map[string]bool{}
	for i, w := range c.Webhooks {
		p := fmt.Sprintf("webhooks[%d]", i)
		if err := checkURL(w.URL); err != nil {
			errs.Add(p+".url", "%v", err)
		}
		if w.Timeout < 0 {
			errs.Add(p+".timeout", "must not be negative")
		}
		if w.MaxAlerts < 0 {
			errs.Add(p+".max_alerts", "must not be negative")
		}
		name := w.receiver()
		if names[name] {
			errs.Add(p+".name", "receiver %q is named twice", name)
		}
		names[name] = true
	}
	if c.AlertmanagerURL != "" {
		if err := checkURL(c.AlertmanagerURL); err != nil {
			errs.Add("alertmanager_url", "%v", err)
		}
	}
	if c.ExternalURL != "" {
		if err := checkURL(c.ExternalURL); err != nil {
			errs.Add("external_url", "%v", err)
		}
	}
	for i, pat := range c.RuleFiles {
		p := fmt.Sprintf("rule_files[%d]", i)
		files, err := expand(pat)
		if err != nil {
			errs.Add(p, "%v", err)
			continue
		}
		for _, f := range files {
			if _, err := parseFile(f, nil); err != nil {
				for _, e := range unjoin(err) {
					errs.Add(p, "%v", e)
				}
			}
		}
	}
	return errs.Err()
}

func (w WebhookConfig) receiver() string {
	if w.Name == "" {
		return defaultReceiver
	}
	return w.Name
}

func (w WebhookConfig) timeout() time.Duration {
	if w.Timeout <= 0 {
		return DefaultWebhookTimeout
	}
	return w.Timeout.Std()
}

func checkURL(s string) error {
	if s == "" {
		return fmt.Errorf("required, e.g. http://127.0.0.1:9093")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("not an http or https URL: %q", s)
	}
	return nil
}

// expand returns the files a rule_files entry names: the matches of a
// glob (none is fine, as in Prometheus), or the one file of a plain path,
// which must exist.
func expand(pat string) ([]string, error) {
	if !strings.ContainsAny(pat, "*?[") {
		if _, err := os.Stat(pat); err != nil {
			return nil, err
		}
		return []string{pat}, nil
	}
	files, err := filepath.Glob(pat)
	if err != nil {
		return nil, fmt.Errorf("bad glob %q: %w", pat, err)
	}
	return files, nil
}

// files returns every rule file of c, each once, in the order given.
func (c *Config) files() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, pat := range c.RuleFiles {
		fs, err := expand(pat)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}

var _ config.Validator = (*Config)(nil)
