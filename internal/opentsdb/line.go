package opentsdb

import (
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// Reasons a sample has no line, the reason label of
// dandan_opentsdb_samples_skipped_total.
const (
	skipNonFinite = "non_finite" // NaN or ±Inf: OpenTSDB refuses them
	skipNoName    = "no_name"    // no __name__
	skipNoTags    = "no_tags"    // no label besides __name__: OpenTSDB wants a tag
	skipBadTime   = "bad_time"   // before 1970
)

// maxExactInt is the largest integer every float64 below it holds exactly;
// larger integral values are written as floats.
const maxExactInt = 1 << 53

// Line appends the OpenTSDB telnet line of s to dst:
//
//	put <metric> <time> <value> <tag>=<value> ...\n
//
// The metric is the __name__ label, the tags the other labels in label
// order. In names and values, a character OpenTSDB does not allow (it
// takes letters, digits and -_./) becomes '_', so http:requests:rate5m is
// written http_requests_rate5m. The time is in Unix seconds when it is a
// whole second, else in milliseconds; the value is an integer when it is
// one, else the shortest decimal that reads back to it ("0.1", "1e+21").
//
// A sample OpenTSDB would refuse leaves dst as it is: a NaN or infinite
// value, no __name__, no other label (OpenTSDB wants at least one tag; the
// watchdog's samples always have job), or a time before 1970.
func Line(dst []byte, s metricstore.Sample) []byte {
	dst, _ = appendLine(dst, s)
	return dst
}

// appendLine is Line, which also says why it wrote nothing.
func appendLine(dst []byte, s metricstore.Sample) ([]byte, string) {
	if math.IsNaN(s.V) || math.IsInf(s.V, 0) {
		return dst, skipNonFinite
	}
	if s.T < 0 {
		return dst, skipBadTime
	}
	name := s.Labels.Get(labels.MetricName)
	if name == "" {
		return dst, skipNoName
	}
	start := len(dst)
	dst = append(dst, "put "...)
	dst = appendName(dst, name)
	dst = append(dst, ' ')
	if s.T%1000 == 0 {
		dst = strconv.AppendInt(dst, s.T/1000, 10)
	} else {
		dst = strconv.AppendInt(dst, s.T, 10)
	}
	dst = append(dst, ' ')
	dst = appendValue(dst, s.V)
	tags := 0
	s.Labels.Range(func(l labels.Label) {
		if l.Name == labels.MetricName {
			return
		}
		dst = append(dst, ' ')
		dst = appendName(dst, l.Name)
		dst = append(dst, '=')
		dst = appendName(dst, l.Value)
		tags++
	})
	if tags == 0 {
		return dst[:start], skipNoTags
	}
	return append(dst, '\n'), ""
}

// appendValue appends v, finite, compactly.
func appendValue(dst []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) < maxExactInt {
		return strconv.AppendInt(dst, int64(v), 10)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// appendName appends s with every character OpenTSDB does not allow in
// metrics, tag names and tag values replaced by '_'.
func appendName(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '_')
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !allowedASCII(c) {
				c = '_'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			dst = append(dst, s[i:i+size]...)
		} else {
			dst = append(dst, '_')
		}
		i += size
	}
	return dst
}

// allowedASCII reports whether OpenTSDB allows c in names.
func allowedASCII(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '/'
}
