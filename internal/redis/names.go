package redis

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Key names, fields and values are bytes. The API carries them so that any
// bytes round-trip:
//
//   - In requests, a parameter X is given as X (the UTF-8 text is the bytes)
//     or as X_b64 (standard or URL-safe base64, padding optional), never
//     both.
//   - In replies, a key is "name" (exact when "binary" is false; else the
//     text with each byte that is not UTF-8 written \xHH) and "name_b64"
//     (always the exact bytes, standard base64). Value parts are Blobs:
//     {"text": …} with "b64" added when the text is not the exact bytes.

// errBothForms is returned when a parameter is given as text and base64.
var errBothForms = errors.New("give the text or the _b64 form, not both")

// bytesParam reads the parameter name from q as text or name_b64; ok is
// false when neither is given.
func bytesParam(q url.Values, name string) (b []byte, ok bool, err error) {
	text, hasText := q[name]
	b64, hasB64 := q[name+"_b64"]
	switch {
	case hasText && hasB64:
		return nil, false, errBothForms
	case hasB64:
		b, err := decodeB64(b64[0])
		if err != nil {
			return nil, false, err
		}
		return b, true, nil
	case hasText:
		return []byte(text[0]), true, nil
	}
	return nil, false, nil
}

// decodeB64 decodes standard or URL-safe base64, with or without padding.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	return b, nil
}

// display returns b as text: itself when it is UTF-8, else with each byte
// that is not UTF-8 written \xHH.
func display(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			fmt.Fprintf(&sb, `\x%02x`, b[0])
			b = b[1:]
			continue
		}
		sb.Write(b[:n])
		b = b[n:]
	}
	return sb.String()
}

// b64 encodes b in standard base64.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// Blob is a byte string in a reply: Text is exact unless B64 is set.
type Blob struct {
	Text string `json:"text"`
	B64  string `json:"b64,omitempty"`
}

// newBlob returns b as a Blob.
func newBlob(b []byte) Blob {
	if utf8.Valid(b) {
		return Blob{Text: string(b)}
	}
	return Blob{Text: display(b), B64: b64(b)}
}

// Binary reports whether the text is not the exact bytes.
func (b Blob) Binary() bool { return b.B64 != "" }

// cliQuote quotes b as one redis-cli argument, the way redis-cli prints
// strings: printable ASCII as is, \" \\ \n \r \t \a \b, other bytes \xHH.
func cliQuote(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		switch c {
		case '\\':
			sb.WriteString(`\\`)
		case '"':
			sb.WriteString(`\"`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\a':
			sb.WriteString(`\a`)
		case '\b':
			sb.WriteString(`\b`)
		default:
			if c >= 0x20 && c < 0x7f {
				sb.WriteByte(c)
			} else {
				fmt.Fprintf(&sb, `\x%02x`, c)
			}
		}
	}
	sb.WriteByte('"')
	return sb.String()
}
