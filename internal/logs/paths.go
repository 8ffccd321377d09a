package logs

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/maphash"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Other is the path (and method, and referer host) label of whatever falls
// outside the caps, and of requests whose request line is malformed.
const Other = "other"

// Rule maps the paths that match Pattern to Template. Patterns are globs
// (`*` within a segment, `**` across segments, `?` one character) or, with
// a leading `~`, regular expressions (RE2, anchored by the user). Rules
// see the path without its query string; the first that matches wins.
type Rule struct {
	Pattern  string
	Template string
	re       *regexp.Regexp
}

// ParseRule parses "PATTERN=TEMPLATE" (split at the last "="), e.g.
// "/article/*=/article/{id}" or "~^/u/[0-9]+$=/u/{id}".
func ParseRule(s string) (Rule, error) {
	i := strings.LastIndexByte(s, '=')
	if i <= 0 || i == len(s)-1 {
		return Rule{}, fmt.Errorf("path rule %q: want PATTERN=TEMPLATE", s)
	}
	r := Rule{Pattern: strings.TrimSpace(s[:i]), Template: strings.TrimSpace(s[i+1:])}
	expr, ok := strings.CutPrefix(r.Pattern, "~")
	if !ok {
		expr = globRegexp(r.Pattern)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return Rule{}, fmt.Errorf("path rule %q: %w", s, err)
	}
	r.re = re
	return r, nil
}

// globRegexp turns a path glob into an anchored regular expression.
func globRegexp(g string) string {
	var b strings.Builder
	b.WriteByte('^')
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				b.WriteString(".*")
				i++
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteByte('$')
	return b.String()
}

// ReadRules reads rules from r, one PATTERN=TEMPLATE a line; blank lines
// and lines starting with # are skipped. Errors name name:line.
func ReadRules(r io.Reader, name string) ([]Rule, error) {
	var rules []Rule
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		rule, err := ParseRule(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		rules = append(rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return rules, nil
}

// Limits of the path machinery: they keep memory flat whatever the URLs.
const (
	cacheEntries  = 16384     // raw paths remembered with their template, per generation
	cacheArena    = 768 << 10 // bytes of raw paths remembered, per generation
	cacheMaxKey   = 256       // longer raw paths are templated every time
	maxTemplate   = 512       // longer templates count as Other
	exactDistinct = 4096      // raw paths counted exactly, then estimated
)

// capped marks a cached template id that was replaced by Other because of
// the cap, so that each line under it counts as a cap hit.
const capped = 1 << 30

// paths maps raw request targets to template ids, under a cap.
type paths struct {
	rules   []Rule
	auto    bool
	max     int
	ids     map[string]int32 // template → id
	names   []string         // id → template
	other   int32            // id of Other, -1 until used
	cache   rawCache
	scratch []byte
	seen    distinct
	// byHash finds the id of a template from its templateHash, for
	// templates made outside (internHashed): slots hold id+1, 0 when free.
	byHash []int32
}

// templateSeed seeds templateHash: the same for every Aggregator of the
// process, so that the pipeline's workers hash templates for the
// Aggregator.
var templateSeed = maphash.MakeSeed()

func templateHash(t []byte) uint64 { return maphash.Bytes(templateSeed, t) }

func newPaths(rules []Rule, auto bool, max int) *paths {
	return &paths{rules: rules, auto: auto, max: max, ids: map[string]int32{}, other: -1,
		scratch: make([]byte, 0, 1024)}
}

// id returns the template id of a request target and whether the cap
// replaced its template by Other.
func (p *paths) id(target []byte) (int32, bool) {
	raw := cleanPath(target)
	if len(raw) == 0 {
		return p.otherID(), false
	}
	if p.cache.cur.slots == nil {
		p.cache.init() // on first use: the pipeline of logs parse may template paths itself
	}
	h, v, ok := p.cache.get(raw)
	if ok {
		return v &^ capped, v&capped != 0
	}
	p.seen.add(raw)
	tmpl := p.template(p.scratch[:0], raw)
	p.scratch = tmpl[:0]
	v = p.intern(tmpl)
	if len(raw) <= cacheMaxKey {
		p.cache.put(h, raw, v)
	}
	return v &^ capped, v&capped != 0
}

// intern returns the id of a template, Other|capped when the cap is full.
func (p *paths) intern(tmpl []byte) int32 {
	if id, ok := p.ids[string(tmpl)]; ok {
		return id
	}
	if len(tmpl) > maxTemplate || len(p.ids) >= p.max {
		return p.otherID() | capped
	}
	return p.add(strings.ToValidUTF8(string(tmpl), string(utf8.RuneError)))
}

func (p *paths) add(name string) int32 {
	if id, ok := p.ids[name]; ok {
		return id
	}
	id := int32(len(p.names))
	p.ids[name] = id
	p.names = append(p.names, name)
	if 2*len(p.ids) > len(p.byHash) {
		n := 64
		for n < 4*len(p.ids) {
			n *= 2
		}
		p.byHash = make([]int32, n)
		for name, id := range p.ids {
			p.index(name, id)
		}
	} else {
		p.index(name, id)
	}
	return id
}

// index puts template name, whose id is id, in byHash.
func (p *paths) index(name string, id int32) {
	mask := uint64(len(p.byHash) - 1)
	i := maphash.String(templateSeed, name) & mask
	for p.byHash[i] != 0 {
		i = (i + 1) & mask
	}
	p.byHash[i] = id + 1
}

// internHashed is intern of a template whose templateHash is h.
func (p *paths) internHashed(tmpl []byte, h uint64) int32 {
	if len(p.byHash) > 0 {
		mask := uint64(len(p.byHash) - 1)
		for i := h & mask; p.byHash[i] != 0; i = (i + 1) & mask {
			if id := p.byHash[i] - 1; p.names[id] == string(tmpl) {
				return id
			}
		}
	}
	return p.intern(tmpl)
}

func (p *paths) otherID() int32 {
	if p.other < 0 {
		p.other = int32(len(p.names))
		p.names = append(p.names, Other)
		// Other is not in ids: a path "other" of the site stays its own.
	}
	return p.other
}

// internString returns the id of a template given as a string, for Merge.
func (p *paths) internString(name string) int32 {
	if name == Other {
		return p.otherID()
	}
	return p.intern([]byte(name)) &^ capped
}

// templates returns how many path labels are in use.
func (p *paths) templates() int { return len(p.names) }

// cleanPath returns the path of a request target: the query string and
// fragment dropped, the scheme and host of an absolute URL dropped.
func cleanPath(t []byte) []byte {
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		t = t[:i]
	}
	if i := bytes.IndexByte(t, '#'); i >= 0 {
		t = t[:i]
	}
	if len(t) > 0 && t[0] != '/' {
		if i := bytes.Index(t, []byte("://")); i > 0 {
			t = t[i+3:]
			if j := bytes.IndexByte(t, '/'); j >= 0 {
				t = t[j:]
			} else {
				t = []byte("/")
			}
		}
	}
	return t
}

// template appends the template of raw path to dst: the first rule that
// matches, else the path with ID-like segments collapsed.
func (p *paths) template(dst, raw []byte) []byte {
	for i := range p.rules {
		if p.rules[i].re.Match(raw) {
			return append(dst, p.rules[i].Template...)
		}
	}
	if !p.auto {
		return append(dst, raw...)
	}
	return collapse(dst, raw)
}

// collapse appends raw to dst with each ID-like path segment replaced by a
// placeholder: {id} numbers, {uuid}, {date} (2021-10-10), {hex} hex
// strings of 8+ characters with a digit, {token} base62/base64url tokens,
// {slug} words ending in a number (storm-hits-tokyo-123456), and in file
// names like app.3f2a9c1b.js or 12345.jpg the hashed or numbered part.
func collapse(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		if raw[i] == '/' {
			dst = append(dst, '/')
			i++
			continue
		}
		// One pass over the segment counts its kinds of characters, a
		// byte per kind in one word (a segment of 256 bytes or more is
		// counted again, wider).
		var acc uint64
		start := i
		for ; i < len(raw) && raw[i] != '/'; i++ {
			acc += charCount[raw[i]]
		}
		seg := raw[start:i]
		var in segInfo
		if len(seg) < 256 {
			in = segInfo{digits: int(acc >> (8 * ccDigit) & 0xff), upper: int(acc >> (8 * ccUpper) & 0xff),
				lower: int(acc >> (8 * ccLower) & 0xff), dash: int(acc >> (8 * ccDash) & 0xff),
				under: int(acc >> (8 * ccUnder) & 0xff), other: int(acc >> (8 * ccOther) & 0xff),
				hexOnly: acc>>(8*ccNotHex) == 0}
		} else {
			in = scanSeg(seg)
		}
		dots := in.other > 0 && bytes.IndexByte(seg, '.') >= 0
		if ph := classifyInfo(seg, in); ph != "" {
			dst = append(dst, ph...)
		} else if !dots {
			dst = append(dst, seg...)
		} else {
			dst = fileName(dst, seg)
		}
	}
	return dst
}

func segment(dst, seg []byte) []byte {
	if ph := classify(seg); ph != "" {
		return append(dst, ph...)
	}
	if bytes.IndexByte(seg, '.') < 0 {
		return append(dst, seg...)
	}
	return fileName(dst, seg)
}

// fileName appends a segment with a dot that is no placeholder as a
// whole, with its hashed or numbered parts replaced.
func fileName(dst, seg []byte) []byte {
	// A file name: name.hash.ext, 12345.jpg, app-3f2a9c1b.css.
	last := bytes.LastIndexByte(seg, '.')
	name := seg[:last]
	for i := 0; ; i++ {
		part := name
		dot := bytes.IndexByte(name, '.')
		if dot >= 0 {
			part, name = name[:dot], name[dot+1:]
		}
		if i > 0 {
			dst = append(dst, '.')
		}
		switch {
		case i == 0 && allDigits(part):
			dst = append(dst, "{id}"...)
		case i == 0 && classify(part) != "":
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
		if dot < 0 {
			break
		}
	}
	return append(dst, seg[last:]...)
}

// segInfo counts the kinds of characters of a segment in one pass.
type segInfo struct {
	digits, upper, lower, dash, under, other int
	hexOnly                                  bool
}

// Character classes of scanSeg: the index of the count a byte adds to,
// and whether it is a hex digit.
const (
	ccDigit = iota
	ccUpper
	ccLower
	ccDash
	ccUnder
	ccOther
	ccDot    // counts as other
	ccSlash  // ends a segment
	ccHex    = 8
	ccNotHex = 7 // in charCount: the byte that counts non-hex characters
)

// charCount adds one to the byte of a character's class in a word of
// counts (a dot to ccOther's, as classify counts it), and for a character
// that is no hex digit to the ccNotHex byte.
var charCount = func() (t [256]uint64) {
	for c := range t {
		k := charClass[c]
		if k&7 == ccDot || k&7 == ccSlash {
			t[c] = 1 << (8 * ccOther)
		} else {
			t[c] = 1 << (8 * (k & 7))
		}
		if k&ccHex == 0 {
			t[c] += 1 << (8 * ccNotHex)
		}
	}
	return t
}()

var charClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c >= '0' && c <= '9':
			t[c] = ccDigit | ccHex
		case c >= 'a' && c <= 'z':
			t[c] = ccLower
		case c >= 'A' && c <= 'Z':
			t[c] = ccUpper
		case c == '-':
			t[c] = ccDash
		case c == '_':
			t[c] = ccUnder
		case c == '.':
			t[c] = ccDot
		case c == '/':
			t[c] = ccSlash
		default:
			t[c] = ccOther
		}
		if c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			t[c] |= ccHex
		}
	}
	return t
}()

func scanSeg(s []byte) segInfo {
	var n [8]int
	hex := uint8(ccHex)
	for _, c := range s {
		k := charClass[c]
		n[k&7]++
		hex &= k
	}
	return segInfo{digits: n[ccDigit], upper: n[ccUpper], lower: n[ccLower], dash: n[ccDash], under: n[ccUnder],
		other: n[ccOther] + n[ccDot] + n[ccSlash], hexOnly: hex != 0}
}

// classify returns the placeholder for an ID-like segment, or "".
func classify(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	return classifyInfo(s, scanSeg(s))
}

// classifyInfo is classify with the counts of s done.
func classifyInfo(s []byte, in segInfo) string {
	n := len(s)
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

func allDigits(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func hasDigit(s []byte) bool {
	for _, c := range s {
		if c >= '0' && c <= '9' {
			return true
		}
	}
	return false
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isHex(s []byte) bool {
	for _, c := range s {
		if !isHexDigit(c) {
			return false
		}
	}
	return len(s) > 0
}

func isUUID(s []byte) bool {
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !isHexDigit(c) {
			return false
		}
	}
	return true
}

func isDate(s []byte) bool {
	return allDigits(s[0:4]) && s[4] == '-' && allDigits(s[5:7]) && s[7] == '-' && allDigits(s[8:10])
}

// isSlug: words joined by '-' ending in a number of 3+ digits.
func isSlug(s []byte) bool {
	j := bytes.LastIndexByte(s, '-')
	if j <= 0 || len(s)-j-1 < 3 || !allDigits(s[j+1:]) {
		return false
	}
	for _, c := range s[:j] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80) {
			return false
		}
	}
	return true
}

// rawCache remembers the template id of recent raw paths in two
// generations of fixed-size open-addressing tables whose keys live in an
// arena each. A path found in the old generation moves to the current
// one; when the current one is full it becomes the old one and the old
// one, cleared, the current: the paths in use stay, the rest go, and the
// cache never allocates after init.
type rawCache struct {
	seed     maphash.Seed
	cur, old cacheGen
}

type cacheGen struct {
	slots []cacheSlot
	arena []byte
	n     int
}

type cacheSlot struct {
	hash   uint64
	off, n uint32
	val    int32
	used   bool
}

func (c *rawCache) init() {
	c.seed = maphash.MakeSeed()
	for _, g := range []*cacheGen{&c.cur, &c.old} {
		g.slots = make([]cacheSlot, 2*cacheEntries)
		g.arena = make([]byte, 0, cacheArena)
	}
}

// get returns the hash of k and, when k is cached, its value.
func (c *rawCache) get(k []byte) (uint64, int32, bool) {
	h := maphash.Bytes(c.seed, k)
	if v, ok := c.cur.get(h, k); ok {
		return h, v, true
	}
	if c.old.n == 0 {
		return h, 0, false
	}
	v, ok := c.old.get(h, k)
	if ok {
		c.put(h, k, v)
	}
	return h, v, ok
}

func (g *cacheGen) get(h uint64, k []byte) (int32, bool) {
	mask := uint64(len(g.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &g.slots[i]
		if !s.used {
			return 0, false
		}
		if s.hash == h && int(s.n) == len(k) && string(g.arena[s.off:s.off+s.n]) == string(k) {
			return s.val, true
		}
	}
}

// put caches k, whose hash is h, with value v.
func (c *rawCache) put(h uint64, k []byte, v int32) {
	g := &c.cur
	if g.n >= cacheEntries || len(g.arena)+len(k) > cap(g.arena) {
		c.cur, c.old = c.old, c.cur
		clear(g.slots)
		g.arena = g.arena[:0]
		g.n = 0
	}
	mask := uint64(len(g.slots) - 1)
	i := h & mask
	for g.slots[i].used {
		i = (i + 1) & mask
	}
	off := len(g.arena)
	g.arena = append(g.arena, k...)
	g.slots[i] = cacheSlot{hash: h, off: uint32(off), n: uint32(len(k)), val: v, used: true}
	g.n++
}
