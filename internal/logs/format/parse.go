package format

import (
	"bytes"
	"fmt"
)

// Fields are the values of one parsed line. Byte slices point into the line
// (or the Parser's scratch space) and are valid until the next Parse.
type Fields struct {
	Time     int64  // unix seconds
	Client   []byte // empty when absent or "-"
	Method   []byte // empty when absent or the request line is malformed
	Target   []byte // request target as sent, query included; empty when malformed
	Status   int    // 0..999
	Bytes    int64  // 0 when absent or "-"
	Duration int64  // microseconds; -1 when absent or "-"
	Referer  []byte // as logged, "-" included; empty when absent
}

// Parser parses lines of one Format. It keeps a cache of the last time
// parsed and scratch space, so it is not safe for concurrent use: give
// each goroutine its own.
type Parser struct {
	f   *Format
	err parseErr
	// last time value parsed and its result: most lines repeat it.
	tcache [32]byte
	tlen   int
	tsec   int64
	// scratch holds JSON strings with escapes, by kind.
	scratch [numKinds][]byte
}

// NewParser returns a parser of lines in format f.
func (f *Format) NewParser() *Parser { return &Parser{f: f} }

// Format returns the format p parses.
func (p *Parser) Format() *Format { return p.f }

// parseErr says why the last Parse failed, in numbers: the message is only
// built by Err, so a bad line costs no allocation.
type parseErr struct {
	code       errCode
	fd         field  // the field concerned
	next       []byte // the literal expected
	line       []byte
	start, end int
}

type errCode uint8

const (
	errNone     errCode = iota
	errEmpty            // empty line
	errLiteral          // the literal before fd does not match at start
	errTail             // the literal after the last field does not match
	errShort            // the line ends inside fd: its delimiter is missing
	errValue            // the value line[start:end] of fd is bad
	errTrailing         // text after the end of the format
	errJSON             // not a JSON object
	errMissing          // a JSON line lacks fd
)

func (p *Parser) fail(code errCode, fd field, next []byte, line []byte, start, end int) bool {
	p.err = parseErr{code: code, fd: fd, next: next, line: line, start: start, end: end}
	return false
}

// Err describes why the last call of Parse returned false, e.g. `bad status
// "2x0"`. Call it before the line's bytes change; it returns nil after a
// successful Parse.
func (p *Parser) Err() error {
	e := &p.err
	col := e.start + 1
	switch e.code {
	case errNone:
		return nil
	case errEmpty:
		return fmt.Errorf("empty line")
	case errLiteral:
		return fmt.Errorf("expected %q before %s at column %d, found %q", e.next, e.fd.name, col, e.line[e.start:min(len(e.line), e.start+len(e.next))])
	case errTail:
		return fmt.Errorf("expected %q after %s at column %d, found %q", e.next, e.fd.name, col, e.line[e.start:min(len(e.line), e.start+len(e.next))])
	case errShort:
		return fmt.Errorf("line ends inside %s: no %q after it", e.fd.name, e.next)
	case errValue:
		return fmt.Errorf("bad %s %q", e.fd.kind, clip(e.line[e.start:e.end], 64))
	case errTrailing:
		return fmt.Errorf("unexpected text after the last field at column %d: %q", col, clip(e.line[e.start:], 32))
	case errJSON:
		return fmt.Errorf("bad JSON at column %d: %s", col, e.next)
	case errMissing:
		return fmt.Errorf("no %s field (%s)", e.fd.kind, e.fd.name)
	}
	return fmt.Errorf("bad line")
}

// clip returns b cut to n bytes, with "…" when cut.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

// Parse parses line, without its newline, into out and reports whether
// the line matched the format; Err says why not.
func (p *Parser) Parse(line []byte, out *Fields) bool {
	*out = Fields{Duration: -1}
	p.err.code = errNone
	if len(line) == 0 {
		return p.fail(errEmpty, field{}, nil, line, 0, 0)
	}
	if p.f.syntax == JSON {
		return p.parseJSON(line, out)
	}
	ops := p.f.ops
	pos := 0
	upstream := int64(-1)
	for i := range ops {
		o := &ops[i]
		if n := len(o.lit); n > 0 {
			if pos+n > len(line) || !hasLit(line[pos:pos+n], o.lit) {
				return p.fail(errLiteral, o.field, o.lit, line, pos, pos)
			}
			pos += n
		}
		var end int
		switch d := o.delim; {
		case o.fixed > 0:
			end = pos + o.fixed
			if end > len(line) {
				return p.fail(errValue, o.field, nil, line, pos, len(line))
			}
		case len(d) == 0:
			end = len(line)
		default:
			end = -1
			for k := pos; k < len(line); {
				j := bytes.IndexByte(line[k:], d[0])
				if j < 0 {
					break
				}
				j += k
				k = j + 1
				if j > pos && line[j-1] == '\\' && escaped(line, pos, j) {
					continue
				}
				if len(d) > 1 && (j+len(d) > len(line) || !hasLit(line[j+1:j+len(d)], d[1:])) {
					continue
				}
				if o.list && listSeparator(line, pos, j) {
					continue
				}
				end = j
				break
			}
			if end < 0 {
				return p.fail(errShort, o.field, d, line, pos, len(line))
			}
		}
		v := line[pos:end]
		pos = end
		switch o.kind {
		case KindIgnore:
		case KindUpstream:
			us, ok := parseUpstream(v)
			if !ok {
				return p.fail(errValue, o.field, nil, line, end-len(v), end)
			}
			upstream = us
		default:
			if !p.value(o.kind, v, out) {
				return p.fail(errValue, o.field, nil, line, end-len(v), end)
			}
		}
	}
	if !bytes.HasPrefix(line[pos:], p.f.tail) {
		last := field{name: "the last field"}
		if len(ops) > 0 {
			last = ops[len(ops)-1].field
		}
		return p.fail(errTail, last, p.f.tail, line, pos, pos)
	}
	pos += len(p.f.tail)
	if pos != len(line) {
		return p.fail(errTrailing, field{}, nil, line, pos, len(line))
	}
	if out.Duration < 0 {
		out.Duration = upstream
	}
	return true
}

// hasLit reports whether b, of the same length as lit, equals it: a loop
// for the short literals of formats, cheaper than a call to compare.
func hasLit(b, lit []byte) bool {
	if len(lit) > 8 {
		return string(b) == string(lit)
	}
	for i, c := range lit {
		if b[i] != c {
			return false
		}
	}
	return true
}

// escaped reports whether the byte at j is escaped: preceded by an odd
// number of backslashes after from.
func escaped(line []byte, from, j int) bool {
	n := 0
	for k := j - 1; k >= from && line[k] == '\\'; k-- {
		n++
	}
	return n%2 == 1
}

// listSeparator reports whether the byte at j (a delimiter candidate) is
// inside a list separator: after a "," or ":" or before a ":".
func listSeparator(line []byte, from, j int) bool {
	if j > from && (line[j-1] == ',' || line[j-1] == ':') {
		return true
	}
	return j+1 < len(line) && line[j+1] == ':'
}

// value stores the value v of a field of kind k into out.
func (p *Parser) value(k Kind, v []byte, out *Fields) bool {
	dash := len(v) == 1 && v[0] == '-'
	switch k {
	case KindClient:
		if !dash {
			out.Client = v
		}
	case KindTimeLocal, KindTimeISO, KindTimeUnix, KindTimeUnixMS, KindTimeUnixUS:
		if p.tlen == len(v) && string(v) == string(p.tcache[:p.tlen]) {
			out.Time = p.tsec
			return true
		}
		var (
			sec int64
			ok  bool
		)
		switch k {
		case KindTimeLocal:
			sec, ok = parseTimeLocal(v)
		case KindTimeISO:
			sec, ok = parseTimeISO(v)
		case KindTimeUnix:
			if i := bytes.IndexByte(v, '.'); i >= 0 {
				if _, ok := parseUint(v[i+1:]); !ok && i+1 < len(v) {
					return false
				}
				v = v[:i]
			}
			sec, ok = parseUint(v)
		case KindTimeUnixMS:
			sec, ok = parseUint(v)
			sec /= 1000
		case KindTimeUnixUS:
			sec, ok = parseUint(v)
			sec /= 1000000
		}
		if !ok {
			return false
		}
		if len(v) <= len(p.tcache) {
			p.tlen = copy(p.tcache[:], v)
			p.tsec = sec
		}
		out.Time = sec
	case KindRequest:
		parseRequest(v, out)
	case KindMethod:
		if !dash {
			out.Method = v
		}
	case KindURI:
		if !dash {
			out.Target = v
		}
	case KindStatus:
		if len(v) != 3 || !isDigit(v[0]) || !isDigit(v[1]) || !isDigit(v[2]) {
			return false
		}
		out.Status = int(v[0]-'0')*100 + int(v[1]-'0')*10 + int(v[2]-'0')
	case KindBytes:
		if dash {
			return true
		}
		n, ok := parseUint(v)
		if !ok {
			return false
		}
		out.Bytes = n
	case KindDurationS, KindDurationMS, KindDurationUS:
		if dash {
			return true
		}
		// Parsed to microseconds: seconds have 6 decimals more, ms 3.
		scale := 6
		if k == KindDurationMS {
			scale = 3
		} else if k == KindDurationUS {
			scale = 0
		}
		us, ok := parseDecimal(v, scale)
		if !ok {
			return false
		}
		out.Duration = us
	case KindUpstream:
		us, ok := parseUpstream(v)
		if !ok {
			return false
		}
		if out.Duration < 0 {
			out.Duration = us
		}
	case KindReferer:
		out.Referer = v
	}
	return true
}

// parseRequest splits a request line "GET /path HTTP/1.1" into out's
// method and target. A malformed line ("-", binary junk) leaves them empty:
// the server still answered it, so it counts, under method and path "other".
func parseRequest(v []byte, out *Fields) {
	sp := bytes.IndexByte(v, ' ')
	if sp <= 0 || sp > 32 {
		return
	}
	for _, c := range v[:sp] {
		if !isAlpha(c) && c != '-' && c != '_' {
			return
		}
	}
	rest := v[sp+1:]
	if ls := bytes.LastIndexByte(rest, ' '); ls >= 0 && bytes.HasPrefix(rest[ls+1:], []byte("HTTP/")) {
		rest = rest[:ls]
	}
	if len(rest) == 0 {
		return
	}
	out.Method = v[:sp]
	out.Target = rest
}

// parseUint parses a decimal integer of at most 15 digits.
func parseUint(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseDecimal parses "12.345" into an integer in units of 10^-scale,
// dropping digits beyond the scale.
func parseDecimal(v []byte, scale int) (int64, bool) {
	i := 0
	var n int64
	for i < len(v) && isDigit(v[i]) {
		n = n*10 + int64(v[i]-'0')
		i++
		if i > 12 {
			return 0, false
		}
	}
	if i == 0 {
		return 0, false
	}
	for range scale {
		n *= 10
	}
	if i == len(v) {
		return n, true
	}
	// Microseconds (%D, %{us}T) are whole numbers: a fraction there
	// means the line is not in this format (an nginx $request_time).
	if v[i] != '.' || i+1 == len(v) || scale == 0 {
		return 0, false
	}
	i++
	place := int64(0) // the value of the next fraction digit
	if scale > 0 {
		place = 1
		for range scale - 1 {
			place *= 10
		}
	}
	for ; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, false
		}
		n += int64(v[i]-'0') * place
		place /= 10
	}
	return n, true
}

// parseUpstream adds up nginx's list of upstream times, "0.010, 0.020 :
// 0.005" (a comma between servers tried, a colon between internal
// redirects), in microseconds; -1 when no entry has a time ("-").
func parseUpstream(v []byte) (int64, bool) {
	total := int64(-1)
	for len(v) > 0 {
		j := bytes.IndexAny(v, ",:")
		item := v
		if j >= 0 {
			item, v = v[:j], v[j+1:]
		} else {
			v = nil
		}
		item = bytes.TrimSpace(item)
		if len(item) == 1 && item[0] == '-' {
			continue
		}
		us, ok := parseDecimal(item, 6)
		if !ok {
			return 0, false
		}
		total = max(total, 0) + us
	}
	return total, true
}
