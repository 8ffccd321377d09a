package logs

import (
	"math"
	"strconv"
)

// The metric names of the engine, with Prometheus conventions.
const (
	MetricRequests = "http_requests_total"
	MetricDuration = "http_request_duration_seconds"
	MetricBytes    = "http_response_bytes_total"
	MetricReferer  = "http_requests_by_referer_total"
	MetricInvalid  = "dandan_log_lines_invalid_total"
	MetricCapped   = "dandan_log_paths_capped_total"
)

// Family is a metric family: a name, its help and type, and its series.
type Family struct {
	Name, Help string
	Type       string // "counter" or "histogram"
	Series     []Series
}

// Series is one series of a Family: its labels (sorted by name) and its
// value, or its histogram.
type Series struct {
	Labels    []Label
	Value     float64
	Histogram *Histogram
}

// Label is a label name and value.
type Label struct{ Name, Value string }

// Histogram is a cumulative histogram in seconds.
type Histogram struct {
	Count   uint64
	Sum     float64
	Buckets []Bucket // cumulative, +Inf last
	// Native is the native histogram, with Config.NativeHistograms and
	// once it counted a duration; nil otherwise.
	Native *NativeHistogram
}

// Bucket is the number of observations less than or equal to UpperBound.
type Bucket struct {
	UpperBound float64
	Count      uint64
}

// familyInfo is the help and type of each family, in output order.
func familyInfo(referers bool) []Family {
	f := []Family{
		{Name: MetricRequests, Type: "counter", Help: "Requests in the access log, by path template, method and status."},
		{Name: MetricDuration, Type: "histogram", Help: "Request durations in the access log ($request_time, %D), by path template and method."},
		{Name: MetricBytes, Type: "counter", Help: "Response bytes in the access log ($bytes_sent, %b), by path template, method and status."},
	}
	if referers {
		f = append(f, Family{Name: MetricReferer, Type: "counter", Help: "Requests in the access log by path template and referer host."})
	}
	return append(f,
		Family{Name: MetricInvalid, Type: "counter", Help: "Access-log lines that did not match the log format."},
		Family{Name: MetricCapped, Type: "counter", Help: "Access-log lines counted under path=\"other\" because the job had reached its cap of path templates."},
	)
}

// Families returns a snapshot of every metric family a counts, with
// cumulative values.
func (a *Aggregator) Families() []Family {
	fams := familyInfo(a.cfg.Referers)
	job := Label{"job", a.cfg.Job}
	for i := range fams {
		f := &fams[i]
		switch f.Name {
		case MetricRequests, MetricBytes:
			for _, s := range a.reqL {
				v := float64(s.Requests)
				if f.Name == MetricBytes {
					v = float64(s.Bytes)
				}
				f.Series = append(f.Series, Series{Labels: []Label{job, {"method", s.Method}, {"path", s.Path}, {"status", s.Status}}, Value: v})
			}
		case MetricDuration:
			for _, h := range a.histL {
				if h.Count == 0 {
					continue
				}
				hist := &Histogram{Count: h.Count, Sum: float64(h.SumMicros) / 1e6}
				var cum uint64
				for j, n := range h.Buckets {
					cum += n
					ub := math.Inf(1)
					if j < len(a.boundsS) {
						ub = a.boundsS[j]
					}
					hist.Buckets = append(hist.Buckets, Bucket{UpperBound: ub, Count: cum})
				}
				if h.native != nil && h.native.count > 0 {
					hist.Native = h.native.export()
				}
				f.Series = append(f.Series, Series{Labels: []Label{job, {"method", h.Method}, {"path", h.Path}}, Histogram: hist})
			}
		case MetricReferer:
			for _, s := range a.refL {
				f.Series = append(f.Series, Series{Labels: []Label{job, {"path", s.Path}, {"referer_host", s.Host}}, Value: float64(s.Requests)})
			}
		case MetricInvalid:
			f.Series = []Series{{Labels: []Label{job}, Value: float64(a.invalid)}}
		case MetricCapped:
			f.Series = []Series{{Labels: []Label{job}, Value: float64(a.cappedN)}}
		}
	}
	return fams
}

// formatBound writes a bucket bound as Prometheus does: "0.005", "+Inf".
func formatBound(b float64) string {
	if math.IsInf(b, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(b, 'g', -1, 64)
}
