package metricstore

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"1767225600", t0, false},
		{"1767225600.5", t0.Add(500 * time.Millisecond), false},
		{"1767225600.0004", t0, false}, // rounded to the millisecond
		{"2026-01-01T00:00:00Z", t0, false},
		{"2026-01-01T09:00:00+09:00", t0, false},
		{"2026-01-01T00:00:00.25Z", t0.Add(250 * time.Millisecond), false},
		{"-1", time.Unix(-1, 0).UTC(), false},
		{"", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"2026-01-01", time.Time{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTime(tc.in)
			if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
				t.Fatalf("parseTime(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"15s", 15 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"1d", 24 * time.Hour, false},
		{"15", 15 * time.Second, false},
		{"15.5", 15500 * time.Millisecond, false},
		{"0", 0, false},
		{"", 0, true},
		{"soon", 0, true},
		{"1e300", 0, true},
		{"NaN", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseDuration(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("parseDuration(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// FuzzParseTime: any input parses or fails without a panic.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"1767225600.5", "2026-01-01T00:00:00Z", "-9e18", "NaN", "+Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { _, _ = parseTime(s) })
}

// FuzzParseDuration: any input parses or fails without a panic.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"15s", "1h30m", "15.5", "1e300", "-Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { _, _ = parseDuration(s) })
}
