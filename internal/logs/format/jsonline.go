package format

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// jsonVars are the variable names a JSON mapping understands: nginx's, and
// a few for units nginx has no variable for.
func jsonVars() []string {
	return []string{"remote_addr", "time_local", "time_iso8601", "msec", "time_unix_ms", "time_unix_us",
		"request", "request_method", "request_uri", "uri", "status", "bytes_sent", "body_bytes_sent",
		"request_time", "duration_ms", "duration_us", "upstream_response_time", "http_referer"}
}

func jsonKind(name string) Kind {
	switch name {
	case "time_unix_ms":
		return KindTimeUnixMS
	case "time_unix_us":
		return KindTimeUnixUS
	case "duration_ms":
		return KindDurationMS
	case "duration_us":
		return KindDurationUS
	}
	return nginxKind(name)
}

// compileJSON builds the key table of JSON lines: each variable of
// jsonVars under its own name, unless fields maps it to another key.
func compileJSON(fields map[string]string) (*Format, error) {
	f := &Format{name: string(JSON), syntax: JSON, json: map[string]field{}}
	for _, v := range jsonVars() {
		f.json[v] = field{kind: jsonKind(v), name: v}
	}
	vars := make([]string, 0, len(fields))
	for v := range fields {
		vars = append(vars, v)
	}
	slices.Sort(vars)
	for _, v := range vars {
		key := fields[v]
		if !slices.Contains(jsonVars(), v) {
			return nil, fmt.Errorf("json field %s=%s: unknown variable %q (use one of %s)", v, key, v, strings.Join(jsonVars(), ", "))
		}
		if key == "" {
			return nil, fmt.Errorf("json field %s=: empty key", v)
		}
		delete(f.json, v)
		f.json[key] = field{kind: jsonKind(v), name: key}
	}
	for _, fd := range f.json {
		f.has[fd.kind] = true
	}
	var src []string
	for _, v := range vars {
		src = append(src, v+"="+fields[v])
	}
	f.source = "json " + strings.Join(src, ",")
	return f, nil
}

// group maps a kind to the kind that decides whether a JSON line already
// had a field for it: one time, one duration.
func group(k Kind) Kind {
	switch {
	case k.isTime():
		return KindTimeLocal
	case k >= KindDurationS && k <= KindDurationUS:
		return KindDurationS
	}
	return k
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanString returns the end of the JSON string whose opening quote is at
// i (the index of the closing quote), and whether it holds escapes.
func scanString(b []byte, i int) (end int, esc bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j, esc
		}
	}
	return -1, esc
}

// skipValue returns the index after the nested object or array at i.
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			end, _ := scanString(b, i)
			if end < 0 {
				return -1
			}
			i = end
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// parseJSON parses a flat JSON object whose keys the format maps; other
// keys, and nested values, are skipped.
func (p *Parser) parseJSON(line []byte, out *Fields) bool {
	bad := func(i int, why string) bool {
		return p.fail(errJSON, field{}, []byte(why), line, i, i)
	}
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return bad(i, "not an object")
	}
	i++
	var got [numKinds]bool
	upstream := int64(-1)
	for {
		i = skipWS(line, i)
		if i < len(line) && line[i] == '}' {
			i++
			break
		}
		if i >= len(line) || line[i] != '"' {
			return bad(i, "expected a key")
		}
		kend, _ := scanString(line, i)
		if kend < 0 {
			return bad(i, "unterminated key")
		}
		key := line[i+1 : kend]
		i = skipWS(line, kend+1)
		if i >= len(line) || line[i] != ':' {
			return bad(i, "expected ':'")
		}
		i = skipWS(line, i+1)
		if i >= len(line) {
			return bad(i, "expected a value")
		}
		var v []byte
		vstart := i
		esc := false
		switch line[i] {
		case '"':
			end, e := scanString(line, i)
			if end < 0 {
				return bad(i, "unterminated string")
			}
			v, esc, vstart, i = line[i+1:end], e, i+1, end+1
		case '{', '[':
			end := skipValue(line, i)
			if end < 0 {
				return bad(i, "unterminated value")
			}
			i = end
			v = nil
		default:
			j := i
			for j < len(line) && line[j] != ',' && line[j] != '}' && line[j] != ' ' && line[j] != '\t' {
				j++
			}
			v, i = line[i:j], j
			if string(v) == "null" {
				v = []byte("-")
			}
		}
		if fd, ok := p.f.json[string(key)]; ok && v != nil && !got[group(fd.kind)] {
			if esc {
				v = unescapeJSON(p.scratch[fd.kind][:0], v)
				p.scratch[fd.kind] = v
			}
			if fd.kind == KindUpstream {
				us, ok := parseUpstream(v)
				if !ok {
					return p.fail(errValue, fd, nil, line, vstart, vstart+len(v))
				}
				upstream = us
			} else if !p.value(fd.kind, v, out) {
				if esc {
					return p.fail(errValue, fd, nil, v, 0, len(v))
				}
				return p.fail(errValue, fd, nil, line, vstart, vstart+len(v))
			}
			got[group(fd.kind)] = true
		}
		i = skipWS(line, i)
		if i < len(line) && line[i] == ',' {
			i++
			continue
		}
		if i < len(line) && line[i] == '}' {
			i++
			break
		}
		return bad(i, "expected ',' or '}'")
	}
	if skipWS(line, i) != len(line) {
		return p.fail(errTrailing, field{}, nil, line, i, len(line))
	}
	for _, k := range [...]Kind{KindTimeLocal, KindStatus} {
		if !got[k] {
			return p.fail(errMissing, field{kind: k, name: p.f.keysOf(k)}, nil, line, 0, 0)
		}
	}
	if !got[KindRequest] && !got[KindURI] {
		return p.fail(errMissing, field{kind: KindRequest, name: p.f.keysOf(KindRequest)}, nil, line, 0, 0)
	}
	if out.Duration < 0 {
		out.Duration = upstream
	}
	return true
}

// keysOf lists the JSON keys that give a field of kind k's group, for a
// message.
func (f *Format) keysOf(k Kind) string {
	var keys []string
	for key, fd := range f.json {
		if group(fd.kind) == k || k == KindRequest && fd.kind == KindURI {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return "keys " + strings.Join(keys, ", ")
}

// unescapeJSON appends the JSON string body s, unescaped, to dst.
func unescapeJSON(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			if i+4 < len(s) {
				var r rune
				ok := true
				for _, h := range s[i+1 : i+5] {
					r <<= 4
					switch {
					case h >= '0' && h <= '9':
						r |= rune(h - '0')
					case h >= 'a' && h <= 'f':
						r |= rune(h-'a') + 10
					case h >= 'A' && h <= 'F':
						r |= rune(h-'A') + 10
					default:
						ok = false
					}
				}
				if ok {
					dst = utf8.AppendRune(dst, r)
					i += 4
					continue
				}
			}
			dst = append(dst, '\\', 'u')
		default:
			dst = append(dst, s[i])
		}
	}
	return dst
}
