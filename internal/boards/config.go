package boards

import (
	"fmt"
	"strconv"
	"time"

	"github.com/dandan-sre/dandan/internal/alerting"
	"github.com/dandan-sre/dandan/internal/config"
)

// Config is the boards section.
type Config struct {
	// Folder holds boards as YAML files, one board each (*.yaml, *.yml);
	// read at start, on POST /api/boards/reload and on a config reload.
	Folder string `yaml:"folder"`
	// Boards are boards written in the config itself; write $$ for a $ of
	// PromQL (label_replace's ${1}) here, not in the folder's files.
	Boards []*Board `yaml:"boards"`
	// Services give capacities for the built-in service boards' "capacity
	// used", by job.
	Services map[string]*Capacity `yaml:"services"`
	// Refresh is how often panels reload, unless a board says otherwise.
	Refresh config.Duration `yaml:"refresh"`
	// TV configures the wall board.
	TV TVConfig `yaml:"tv"`
	// Alerting evaluates Prometheus rule files and sends the alerts.
	Alerting alerting.Config `yaml:"alerting"`
}

// TVConfig is the TV playlist.
type TVConfig struct {
	// Playlist names the boards /tv rotates through; empty: every
	// built-in service board.
	Playlist []string        `yaml:"playlist"`
	Interval config.Duration `yaml:"interval"` // time on each board
	Refresh  config.Duration `yaml:"refresh"`  // how often TV panels reload
}

// DefaultConfig returns the section's defaults.
func DefaultConfig() *Config {
	return &Config{
		Refresh:  config.Duration(30 * time.Second),
		TV:       TVConfig{Interval: config.Duration(30 * time.Second), Refresh: config.Duration(15 * time.Second)},
		Alerting: alerting.DefaultConfig(),
	}
}

// Validate reports every problem by key path.
func (c *Config) Validate() error {
	var errs config.Errors
	if c.Refresh.Std() < 2*time.Second {
		errs.Add("refresh", "at least 2s")
	}
	if c.TV.Interval.Std() < 5*time.Second {
		errs.Add("tv.interval", "at least 5s")
	}
	if c.TV.Refresh.Std() < 2*time.Second {
		errs.Add("tv.refresh", "at least 2s")
	}
	names := map[string]bool{}
	for i, b := range c.Boards {
		p := "boards[" + strconv.Itoa(i) + "]"
		if b == nil {
			errs.Add(p, "expected a board: name, title, panels")
			continue
		}
		b.validate(&errs, p)
		if names[b.Name] {
			errs.Add(p+".name", "board %q is defined twice", b.Name)
		}
		names[b.Name] = true
		b.source = "config"
	}
	for job, cp := range c.Services {
		p := "services." + job
		if cp == nil || cp.RPSPerInstance <= 0 || cp.Instances <= 0 {
			errs.Add(p, "rps_per_instance and instances must be more than 0")
		}
	}
	for i, n := range c.TV.Playlist {
		if !boardName.MatchString(n) {
			errs.Add(fmt.Sprintf("tv.playlist[%d]", i), "a board name")
		}
	}
	errs.Merge("alerting", c.Alerting.Validate())
	return errs.Err()
}
