package watch

import (
	"sort"

	"github.com/dandan-sre/dandan/internal/logs"
	"github.com/dandan-sre/dandan/internal/metricstore"
)

// The job-level rollups: each commit also writes the job's counters
// summed over paths and methods, as a recording rule would, under the
// recording-rule names (level:metric). A board over days reads a handful
// of rollup series instead of thousands of per-path ones: the built-in
// service board's 7-day view answers in milliseconds, not seconds. They
// are exact sums of the same counts, so they stay monotonic across
// restarts and rotations like the series they sum.
const (
	RollupRequests = "job_status:" + logs.MetricRequests // {job, status}
	RollupBytes    = "job:" + logs.MetricBytes           // {job}
	RollupDuration = "job:" + logs.MetricDuration        // histogram {job, le}
)

// rollupDrop are the labels a rollup sums over, per family.
var rollupDrop = map[string]map[string]bool{
	logs.MetricRequests: {"path": true, "method": true},
	logs.MetricBytes:    {"path": true, "method": true, "status": true},
	logs.MetricDuration: {"path": true, "method": true},
}

var rollupName = map[string]string{
	logs.MetricRequests: RollupRequests,
	logs.MetricBytes:    RollupBytes,
	logs.MetricDuration: RollupDuration,
}

// appendRollups appends the job-level rollups of fams at t.
func appendRollups(out []metricstore.Sample, fams []logs.Family, t int64, lc *labelCache) []metricstore.Sample {
	for _, f := range fams {
		drop, ok := rollupDrop[f.Name]
		if !ok {
			continue
		}
		sums := map[string]*logs.Series{}
		var keys []string
		for _, s := range f.Series {
			var ls []logs.Label
			for _, l := range s.Labels {
				if !drop[l.Name] {
					ls = append(ls, l)
				}
			}
			k := labelsKey(ls)
			r := sums[k]
			if r == nil {
				r = &logs.Series{Labels: ls}
				if s.Histogram != nil {
					r.Histogram = &logs.Histogram{}
				}
				sums[k] = r
				keys = append(keys, k)
			}
			if s.Histogram == nil || r.Histogram == nil {
				r.Value += s.Value
				continue
			}
			addHistogram(r.Histogram, s.Histogram)
		}
		sort.Strings(keys)
		rf := logs.Family{Name: rollupName[f.Name], Type: f.Type, Series: make([]logs.Series, 0, len(keys))}
		for _, k := range keys {
			rf.Series = append(rf.Series, *sums[k])
		}
		out = appendFamilies(out, []logs.Family{rf}, t, lc)
	}
	return out
}

// addHistogram adds h to sum. Bucket bounds are the job's, the same for
// every series; a bound only one of them has is kept in order.
func addHistogram(sum, h *logs.Histogram) {
	sum.Sum += h.Sum
	sum.Count += h.Count
	if len(sum.Buckets) == 0 {
		sum.Buckets = append(sum.Buckets, h.Buckets...)
		return
	}
	i := 0
	for _, b := range h.Buckets {
		for i < len(sum.Buckets) && sum.Buckets[i].UpperBound < b.UpperBound {
			i++
		}
		if i < len(sum.Buckets) && sum.Buckets[i].UpperBound == b.UpperBound {
			sum.Buckets[i].Count += b.Count
			continue
		}
		sum.Buckets = append(sum.Buckets, logs.Bucket{})
		copy(sum.Buckets[i+1:], sum.Buckets[i:])
		sum.Buckets[i] = b
	}
}
