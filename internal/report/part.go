package report

import (
	"embed"

	"github.com/dandan-sre/dandan/internal/component"
)

//go:embed templates
var templatesFS embed.FS

// example is the part's commented section of the example config.
const example = `# Weekly report: traffic, peak, availability, latency, failing paths,
# alerts and host peaks of the last week against the week before, as a
# self-contained HTML file and a PDF; listed at /reports. Build one by hand
# with: dandan report weekly --out reports/
report:
  schedule: "mon 09:00"    # weekday and time of the weekly run; "" turns it off
  timezone: ""             # IANA zone of the schedule and the days, e.g. Europe/Berlin; "" is the host's
  out: ""                  # directory of the files; "" is <data_dir>/reports
  keep: 12                 # weeks of files kept
  jobs: []                 # access-log jobs with a report each; [] is every job found
  # chromium: /usr/bin/chromium   # the browser that prints the PDF; "" finds it in PATH
`

// Part returns the weekly report part.
func Part() component.Part {
	return component.Part{
		Name:      "report",
		Summary:   "Weekly traffic, availability, latency and capacity report as HTML and PDF",
		Example:   example,
		NewConfig: func() component.Config { return DefaultConfig() },
		New: func(d component.Deps, c component.Config) (component.Component, error) {
			return New(d, c.(*Config))
		},
		Command: command,
	}
}
