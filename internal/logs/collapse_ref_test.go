package logs

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// The path templating of before the one-pass segment scan, kept as the
// reference TestCollapseMatchesReference compares with.

func refCollapse(dst, raw []byte) []byte {
	for len(raw) > 0 {
		if raw[0] == '/' {
			dst = append(dst, '/')
			raw = raw[1:]
			continue
		}
		end := bytes.IndexByte(raw, '/')
		if end < 0 {
			end = len(raw)
		}
		dst = refSegment(dst, raw[:end])
		raw = raw[end:]
	}
	return dst
}

func refSegment(dst, seg []byte) []byte {
	if ph := refClassify(seg); ph != "" {
		return append(dst, ph...)
	}
	if bytes.IndexByte(seg, '.') < 0 {
		return append(dst, seg...)
	}
	// A file name: name.hash.ext, 12345.jpg, app-3f2a9c1b.css.
	last := bytes.LastIndexByte(seg, '.')
	for i, part := range bytes.Split(seg[:last], []byte{'.'}) {
		if i > 0 {
			dst = append(dst, '.')
		}
		switch {
		case i == 0 && allDigits(part):
			dst = append(dst, "{id}"...)
		case i == 0 && refClassify(part) != "":
			dst = append(dst, "{hash}"...)
		case i > 0 && len(part) >= 7 && isHex(part):
			dst = append(dst, "{hash}"...)
		case i > 0 && len(part) >= 6 && allDigits(part):
			dst = append(dst, "{id}"...)
		default:
			// app-3f2a9c1b: a hash after the last - or _.
			if j := bytes.LastIndexAny(part, "-_"); j > 0 && len(part)-j-1 >= 7 && isHex(part[j+1:]) && hasDigit(part[j+1:]) {
				dst = append(dst, part[:j+1]...)
				dst = append(dst, "{hash}"...)
			} else {
				dst = append(dst, part...)
			}
		}
	}
	return append(dst, seg[last:]...)
}

// refSegInfo counts the kinds of characters of a segment in one pass.
type refSegInfo struct {
	digits, upper, lower, dash, under, other int
	hexOnly                                  bool
}

func refScanSeg(s []byte) refSegInfo {
	in := refSegInfo{hexOnly: true}
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			in.digits++
		case c >= 'a' && c <= 'z':
			in.lower++
			if c > 'f' {
				in.hexOnly = false
			}
		case c >= 'A' && c <= 'Z':
			in.upper++
			if c > 'F' {
				in.hexOnly = false
			}
		case c == '-':
			in.dash++
			in.hexOnly = false
		case c == '_':
			in.under++
			in.hexOnly = false
		default:
			in.other++
			in.hexOnly = false
		}
	}
	return in
}

// classify returns the placeholder for an ID-like segment, or "".
func refClassify(s []byte) string {
	n := len(s)
	if n == 0 {
		return ""
	}
	in := refScanSeg(s)
	switch {
	case in.digits == n:
		return "{id}"
	case n == 36 && in.dash == 4 && in.other == 0 && isUUID(s):
		return "{uuid}"
	case n == 10 && in.dash == 2 && in.digits == 8 && isDate(s):
		return "{date}"
	case n >= 8 && in.hexOnly && in.digits > 0:
		return "{hex}"
	case in.dash > 0 && in.digits >= 3 && isSlug(s):
		return "{slug}"
	case in.other == 0 && n >= 16 && in.digits >= 2 && in.upper+in.lower > 0 && in.dash+in.under < n/4:
		return "{token}" // base64url, 16+ characters
	case in.other == 0 && n >= 10 && in.dash+in.under == 0 && in.digits > 0 && in.upper > 0 && in.lower > 0:
		return "{token}" // a YouTube-style ID
	}
	return ""
}

// TestCollapseMatchesReference: collapse templates random paths made of
// the characters that decide templates (digits, hex letters, other
// letters, - _ . and bytes over 0x7f; segments up to 300 bytes) as the
// reference does.
func TestCollapseMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	alphabets := []string{"0123456789", "0123456789abcdef", "0123456789ABCDEF-", "abcxyz-_", "aZ09._-", "é日.-0", "0123456789-"}
	n := 200_000
	if raceEnabled {
		n = 20_000
	}
	var got, want []byte
	seen := map[string]int{}
	for range n {
		var b strings.Builder
		for range 1 + r.IntN(4) {
			b.WriteByte('/')
			al := alphabets[r.IntN(len(alphabets))]
			size := r.IntN(40)
			switch r.IntN(20) {
			case 0:
				size = 36 // UUID-sized
			case 1:
				size = 255 + r.IntN(3)
			case 2:
				size = 10
			}
			for range size {
				b.WriteByte(al[r.IntN(len(al))])
			}
			if r.IntN(5) == 0 {
				b.WriteString([]string{".js", ".jpg", ".min.css", ".", ".tar.gz"}[r.IntN(5)])
			}
		}
		if r.IntN(10) == 0 {
			b.WriteByte('/')
		}
		p := []byte(b.String())
		if r.IntN(8) == 0 { // a UUID or a date
			p = append(p, []string{"/123e4567-e89b-12d3-a456-426614174000", "/abcdefab-abcd-abcd-abcd-abcdefabcdef", "/2021-10-10"}[r.IntN(3)]...)
		}
		got, want = collapse(got[:0], p), refCollapse(want[:0], p)
		for _, ph := range []string{"{id}", "{hex}", "{token}", "{slug}", "{uuid}", "{date}", "{hash}"} {
			if bytes.Contains(got, []byte(ph)) {
				seen[ph]++
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("collapse(%q) = %q, want %q", p, got, want)
		}
	}
	if len(seen) != 7 {
		t.Errorf("placeholders made: %v, want all 7 kinds", seen)
	}
}
