package format

import (
	"errors"
	"fmt"
	"strings"
)

// Kind says what a field of a log line means to the engine.
type Kind uint8

// The kinds of fields the engine reads; every other field is KindIgnore.
const (
	KindIgnore     Kind = iota // captured and skipped
	KindClient                 // client address: $remote_addr, %h, %a
	KindTimeLocal              // 10/Oct/2021:13:55:36 +0900: $time_local, %t
	KindTimeISO                // 2021-10-10T13:55:36+09:00: $time_iso8601
	KindTimeUnix               // 1633873130.123 (seconds): $msec, %{sec}t
	KindTimeUnixMS             // milliseconds since the epoch: %{msec}t
	KindTimeUnixUS             // microseconds since the epoch: %{usec}t
	KindRequest                // "GET /path?q HTTP/1.1": $request, %r
	KindMethod                 // $request_method, %m
	KindURI                    // $request_uri, $uri, %U
	KindStatus                 // $status, %s, %>s
	KindBytes                  // $bytes_sent, $body_bytes_sent, %b, %B, %O
	KindDurationS              // seconds with a fraction: $request_time, %T
	KindDurationMS             // milliseconds: %{ms}T
	KindDurationUS             // microseconds: %D, %{us}T
	KindUpstream               // $upstream_response_time: "0.010, 0.020 : 0.005", seconds
	KindReferer                // $http_referer, %{Referer}i
	numKinds
)

var kindNames = [numKinds]string{"ignored", "client", "time", "time", "time", "time", "time",
	"request", "method", "uri", "status", "bytes", "duration", "duration", "duration",
	"upstream time", "referer"}

// String returns the word error messages use for the kind: "status", "time".
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

func (k Kind) isTime() bool { return k >= KindTimeLocal && k <= KindTimeUnixUS }

// Syntax is the language a format is written in.
type Syntax string

// The syntaxes Compile understands.
const (
	Nginx  Syntax = "nginx"
	Apache Syntax = "apache"
	JSON   Syntax = "json"
)

// Preset is a named format.
type Preset struct {
	Name        string
	Syntax      Syntax
	Format      string
	Description string
}

// Presets returns the named formats --format accepts, in the order --help
// lists them.
func Presets() []Preset {
	return []Preset{
		{"media-nginx", Nginx, `"$remote_addr" "$remote_user" [$time_local] "$request" $status $bytes_sent $request_time "$http_referer" "$http_user_agent"`,
			"the seed's standard nginx format, with $request_time in seconds (default)"},
		{"media-apache", Apache, `%h \"%u\" %t \"%r\" %s %b %D \"%{Referer}i\" \"%{User-Agent}i\"`,
			"the seed's standard Apache format, with %D in microseconds"},
		{"combined", Apache, `%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"`,
			"nginx's and Apache's combined format (no response time)"},
		{"common", Apache, `%h %l %u %t \"%r\" %>s %b`,
			"the Common Log Format (no response time, no referer)"},
		{"json", JSON, "",
			"JSON lines whose keys are nginx variable names; map other keys with --json-field VAR=KEY"},
	}
}

// Format is a compiled log format. It is immutable and safe to share;
// parse with a Parser from NewParser, one per goroutine.
type Format struct {
	name   string // preset name, or the syntax
	syntax Syntax
	source string
	ops    []op
	tail   []byte // literal after the last field
	has    [numKinds]bool
	json   map[string]field // JSON key → field, for JSON
}

// op is one field of a line: the literal before it, then the value.
type op struct {
	lit   []byte // literal that precedes the field
	delim []byte // literal that follows it: where it ends
	field        // what the value is
	fixed int    // fixed width of the value (time_local), or 0
	list  bool   // the value is a list "a, b : c" that may hold the delimiter
}

// field is a variable of the format: what it means and where it was.
type field struct {
	kind Kind
	name string // as written: "$status", "%>s", "status"
	pos  int    // byte offset in the format string, for messages
}

// Name returns the preset name of f, or its syntax for a pasted format.
func (f *Format) Name() string { return f.name }

// Syntax returns the language f was written in.
func (f *Format) Syntax() Syntax { return f.syntax }

// Source returns the format string f was compiled from.
func (f *Format) Source() string { return f.source }

// Has reports whether lines in format f carry a field of kind k.
func (f *Format) Has(k Kind) bool {
	if k == KindTimeLocal {
		return f.has[KindTimeLocal] || f.has[KindTimeISO] || f.has[KindTimeUnix] || f.has[KindTimeUnixMS] || f.has[KindTimeUnixUS]
	}
	if k == KindDurationS {
		return f.has[KindDurationS] || f.has[KindDurationMS] || f.has[KindDurationUS] || f.has[KindUpstream]
	}
	return k < numKinds && f.has[k]
}

// Options are the settings of Compile that only some formats use.
type Options struct {
	// JSONFields maps an nginx variable name (or duration_ms, duration_us,
	// time_unix_ms) to the JSON key that holds it, for JSON lines whose
	// keys are not the nginx names: {"request_time": "latency"}.
	JSONFields map[string]string
}

// Compile compiles spec into a Format. spec is a preset name (see
// Presets), "json", a pasted nginx log_format or Apache LogFormat string
// (told apart by $variables and %directives; the whole directive, quotes
// included, may be pasted too), or "nginx:<fmt>" or "apache:<fmt>" to say
// which. Errors name the variable and its byte position in the format.
func Compile(spec string, o Options) (*Format, error) {
	for _, p := range Presets() {
		if spec == p.Name {
			f, err := compileSyntax(p.Syntax, p.Format, o)
			if err != nil && p.Syntax != JSON {
				return nil, fmt.Errorf("preset %s: %w", p.Name, err)
			}
			if err != nil {
				return nil, err
			}
			f.name = p.Name
			return f, nil
		}
	}
	if s, ok := strings.CutPrefix(spec, "nginx:"); ok {
		return compileSyntax(Nginx, s, o)
	}
	if s, ok := strings.CutPrefix(spec, "apache:"); ok {
		return compileSyntax(Apache, s, o)
	}
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("empty format")
	}
	syn, err := detect(spec)
	if err != nil {
		return nil, err
	}
	return compileSyntax(syn, spec, o)
}

// detect tells whether s is an nginx or an Apache format.
func detect(s string) (Syntax, error) {
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "log_format"):
		return Nginx, nil
	case strings.HasPrefix(t, "LogFormat") || strings.HasPrefix(t, "CustomLog"):
		return Apache, nil
	}
	nginx, apache := false, false
	for i := 0; i+1 < len(s); i++ {
		c := s[i+1]
		switch s[i] {
		case '$':
			if c == '{' || c == '_' || isAlpha(c) {
				nginx = true
			}
		case '%':
			if c == '%' {
				i++
				continue
			}
			if c == '{' || c == '>' || c == '<' || c == '!' || isDigit(c) || strings.IndexByte(apacheLetters, c) >= 0 {
				apache = true
			}
		}
	}
	switch {
	case nginx && apache:
		return "", errors.New("format has both $variables and %directives: start it with nginx: or apache: to say which")
	case nginx:
		return Nginx, nil
	case apache:
		return Apache, nil
	}
	return "", fmt.Errorf("unknown format %q: not a preset (%s), and no $variable or %%directive in it", s, presetNames())
}

func presetNames() string {
	var names []string
	for _, p := range Presets() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

func compileSyntax(syn Syntax, s string, o Options) (*Format, error) {
	var (
		f   *Format
		err error
	)
	switch syn {
	case Nginx:
		f, err = compileNginx(s)
	case Apache:
		f, err = compileApache(s)
	case JSON:
		f, err = compileJSON(o.JSONFields)
	default:
		return nil, fmt.Errorf("unknown syntax %q", syn)
	}
	if err != nil {
		return nil, err
	}
	if syn != JSON {
		if err := f.check(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// items is a format split into literals and fields, in order.
type items struct {
	fields []field
	lits   [][]byte // lits[i] precedes fields[i]; lits[len(fields)] is the tail
}

func (it *items) addLit(b []byte) {
	if len(it.lits) == len(it.fields) {
		it.lits = append(it.lits, nil)
	}
	it.lits[len(it.lits)-1] = append(it.lits[len(it.lits)-1], b...)
}

func (it *items) addField(fd field) {
	if len(it.lits) == len(it.fields) {
		it.lits = append(it.lits, nil)
	}
	it.fields = append(it.fields, fd)
}

// build turns items into a Format: each field ends where the literal after
// it starts (or after a fixed width), so two fields in a row with nothing
// between them cannot be told apart.
func (it *items) build(syn Syntax, source string) (*Format, error) {
	if len(it.lits) == len(it.fields) {
		it.lits = append(it.lits, nil)
	}
	f := &Format{name: string(syn), syntax: syn, source: source, tail: it.lits[len(it.fields)]}
	if len(it.fields) == 0 {
		return nil, errors.New("format has no fields")
	}
	// The first field of each kind counts: a second $bytes_sent-like
	// field is read but ignored. A direct duration wins over upstream time.
	direct := false
	for _, fd := range it.fields {
		if fd.kind == KindDurationS || fd.kind == KindDurationMS || fd.kind == KindDurationUS {
			direct = true
		}
	}
	timeTaken, durTaken := false, false
	for i, fd := range it.fields {
		o := op{lit: it.lits[i], field: fd}
		if strings.HasPrefix(fd.name, "$upstream_") {
			o.list = true
		}
		if fd.kind == KindTimeLocal {
			o.fixed = len("10/Oct/2021:13:55:36 +0900")
		}
		switch k := fd.kind; {
		case k.isTime():
			if timeTaken {
				o.kind = KindIgnore
			}
			timeTaken = true
		case k == KindUpstream && direct:
			o.kind = KindIgnore
		case k >= KindDurationS && k <= KindDurationUS:
			if durTaken {
				o.kind = KindIgnore
			}
			durTaken = true
		case k != KindIgnore && f.has[k]:
			o.kind = KindIgnore
		}
		if o.kind != KindIgnore {
			f.has[o.kind] = true
		}
		if i > 0 && len(o.lit) == 0 && f.ops[i-1].fixed == 0 {
			prev := f.ops[i-1]
			return nil, fmt.Errorf("position %d: %s follows %s with nothing between them, so they cannot be told apart", fd.pos, fd.name, prev.name)
		}
		f.ops = append(f.ops, o)
	}
	for i := range f.ops {
		f.ops[i].delim = f.tail
		if i+1 < len(f.ops) {
			f.ops[i].delim = f.ops[i+1].lit
		}
	}
	return f, nil
}

// check says what a format lacks to make metrics.
func (f *Format) check() error {
	var missing []string
	if !f.Has(KindTimeLocal) {
		missing = append(missing, "a time ($time_local, $time_iso8601, $msec, %t)")
	}
	if !f.has[KindStatus] {
		missing = append(missing, "the status ($status, %s, %>s)")
	}
	if !f.has[KindRequest] && !f.has[KindURI] {
		missing = append(missing, "the request ($request, $request_uri, %r, %U)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("format has no %s", strings.Join(missing, ", no "))
	}
	return nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// unquoteDirective returns the format strings of a pasted config directive,
// `log_format main '$a' '$b';` or `LogFormat "%h %t" combined`, joined; a
// string that is not a directive is returned as it is.
func unquoteDirective(s string, keyword string, nginx bool) (string, error) {
	t := strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(t, keyword)
	if !ok || rest == "" || rest[0] != ' ' && rest[0] != '\t' {
		return s, nil
	}
	rest = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), ";"))
	var parts []string
	for rest != "" {
		q := rest[0]
		if q != '\'' && q != '"' {
			// a bare word: nginx's format name, escape=…, or Apache's nickname
			w, r, _ := strings.Cut(rest, " ")
			if !nginx && len(parts) > 0 {
				break // LogFormat "…" nickname
			}
			_ = w
			rest = strings.TrimSpace(r)
			continue
		}
		end := -1
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\\' {
				i++
				continue
			}
			if rest[i] == q {
				end = i
				break
			}
		}
		if end < 0 {
			return "", fmt.Errorf("%s: unterminated %c string", keyword, q)
		}
		body := rest[1:end]
		if nginx {
			// nginx unescapes \" and \' and \\ inside quoted strings.
			body = strings.NewReplacer(`\"`, `"`, `\'`, `'`, `\\`, `\`).Replace(body)
		}
		parts = append(parts, body)
		rest = strings.TrimSpace(rest[end+1:])
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("%s without a quoted format string", keyword)
	}
	return strings.Join(parts, ""), nil
}
