package redis

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// humanBytes formats n bytes with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// humanCount formats n with thousands separators.
func humanCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ttlText formats a PTTL reply.
func ttlText(ms *int64) string {
	switch {
	case ms == nil:
		return ""
	case *ms == -1:
		return "no expiry"
	case *ms == -2:
		return "gone"
	}
	d := time.Duration(*ms) * time.Millisecond
	if d >= time.Hour*24 {
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	}
	return d.Round(time.Second).String()
}

func lenText(n *int64) string {
	if n == nil {
		return "–"
	}
	return humanCount(*n)
}

func slotText(s *int, node string) string {
	if s == nil {
		return node
	}
	return fmt.Sprintf("slot %d -> %s", *s, node)
}

func percent(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

func rangesText(rs []SlotRange) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		if r.From == r.To {
			parts = append(parts, strconv.Itoa(r.From))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", r.From, r.To))
		}
	}
	return strings.Join(parts, ", ")
}
