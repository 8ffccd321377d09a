package logs

import (
	"fmt"
	"math"
	"strconv"
)

// Restore sets a's cumulative counts from fams, the Families of an earlier
// Aggregator of the same job: how a restarted agent goes on counting where
// it stopped instead of resetting its counters. Call it on a new Aggregator
// before the first Line. Series of other jobs are ignored; a histogram
// whose buckets differ from a's config is not restored (its counts start
// again at zero) and reported in the error, as is any series that does not
// fit; everything that fits is restored either way. A native histogram is
// restored when a keeps them, at a's schema at most.
func (a *Aggregator) Restore(fams []Family) error {
	var bad []string
	for _, f := range fams {
		for _, s := range f.Series {
			l := labelMap(s.Labels)
			if l["job"] != a.cfg.Job {
				continue
			}
			switch f.Name {
			case MetricRequests, MetricBytes:
				code, err := strconv.Atoi(l["status"])
				if err != nil || code < 0 || code > 999 || l["path"] == "" || l["method"] == "" {
					bad = append(bad, fmt.Sprintf("%s%v", f.Name, s.Labels))
					continue
				}
				rs := a.restoreRequest(l["path"], l["method"], code)
				if f.Name == MetricRequests {
					rs.Requests, rs.prevRequests = uint64(s.Value), uint64(s.Value)
				} else {
					rs.Bytes, rs.prevBytes = uint64(s.Value), uint64(s.Value)
				}
			case MetricDuration:
				if s.Histogram == nil || !a.sameBounds(s.Histogram) {
					bad = append(bad, fmt.Sprintf("%s%v: buckets differ from the config", f.Name, s.Labels))
					continue
				}
				pathID := a.paths.internString(l["path"])
				method := a.methodID([]byte(l["method"]))
				h := a.hists[uint64(pathID)<<20|uint64(method)<<10]
				if h == nil {
					h = a.newHist(pathID, method)
				}
				var prev uint64
				for i, b := range s.Histogram.Buckets {
					h.Buckets[i] = b.Count - min(prev, b.Count)
					prev = b.Count
				}
				h.Count = s.Histogram.Count
				h.SumMicros = int64(math.Round(s.Histogram.Sum * 1e6))
				h.prevCount, h.prevSum = h.Count, h.SumMicros
				copy(h.prevBucket, h.Buckets)
				if n := s.Histogram.Native; n != nil && h.native != nil {
					if err := h.native.restore(n, a.nativeSchema); err != nil {
						*h.native = nativeHist{schema: a.nativeSchema}
						bad = append(bad, fmt.Sprintf("%s%v: %v", f.Name, s.Labels, err))
					}
				}
			case MetricReferer:
				pathID := a.paths.internString(l["path"])
				host := a.hosts.add(l["referer_host"])
				key := uint64(pathID)<<32 | uint64(host)
				rs := a.refs[key]
				if rs == nil {
					rs = &RefererSeries{Path: a.paths.names[pathID], Host: a.hosts.names[host], id: int32(len(a.refL))}
					a.refs[key] = rs
					a.refL = append(a.refL, rs)
				}
				rs.Requests, rs.prevRequests = uint64(s.Value), uint64(s.Value)
			case MetricInvalid:
				a.invalid, a.prevInvalid = uint64(s.Value), uint64(s.Value)
			case MetricCapped:
				a.cappedN, a.prevCapN = uint64(s.Value), uint64(s.Value)
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("restore %s: %d series not restored, e.g. %s", a.cfg.Job, len(bad), bad[0])
	}
	return nil
}

func (a *Aggregator) restoreRequest(path, method string, code int) *RequestSeries {
	pathID := a.paths.internString(path)
	m := a.methodID([]byte(method))
	key := uint64(pathID)<<20 | uint64(m)<<10 | uint64(code)
	if s := a.reqs[key]; s != nil {
		return s
	}
	return a.newRequestSeries(key, pathID, m, code)
}

// newHist adds the duration series of a path and method.
func (a *Aggregator) newHist(pathID int32, method int) *DurationSeries {
	n := len(a.bounds) + 1
	h := &DurationSeries{Path: a.paths.names[pathID], Method: a.methods[method], Buckets: make([]uint64, n), prevBucket: make([]uint64, n),
		id: int32(len(a.histL)), pathID: pathID}
	if a.cfg.NativeHistograms {
		h.native = &nativeHist{schema: a.nativeSchema}
	}
	a.hists[uint64(pathID)<<20|uint64(method)<<10] = h
	a.histL = append(a.histL, h)
	return h
}

func (a *Aggregator) sameBounds(h *Histogram) bool {
	if len(h.Buckets) != len(a.boundsS)+1 {
		return false
	}
	for i, b := range a.boundsS {
		if h.Buckets[i].UpperBound != b {
			return false
		}
	}
	return math.IsInf(h.Buckets[len(a.boundsS)].UpperBound, 1)
}

func labelMap(ls []Label) map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}
