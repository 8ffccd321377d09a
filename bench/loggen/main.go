// Command loggen writes a synthetic nginx access log in the seed's "media"
// format for bench/logs.sh, and beside it the truth a benchmark checks
// totals against (lines, counts per status, method and path template).
//
// The log has about 200 path templates (/news/article/{id},
// /api/v1/users/{uuid}/profile, /static/js/app.{hash}.js,
// /news/{date}/{slug}, …) whose IDs follow a Zipf law over recency, so
// -urls sets how many distinct raw paths appear whatever the line count;
// statuses, methods, sizes, request times, clients, referers and user
// agents follow a realistic mix, timestamps rise evenly over -span, and
// some URLs carry a query string from a small fixed set. Lines are written
// as they are made, so 20 million lines need no more memory than 2
// million. The output depends only on the flags: the same -seed gives the
// same bytes.
//
// Usage:
//
//	go run ./bench/loggen -n 2000000 -urls 300000 -o access.log -truth truth.txt
//
// The truth file has one "key value" or "key label value" record a line:
// lines, valid, invalid, templates, distinct_paths, distinct_urls,
// request_time_ms_sum, bytes_sum, then status CODE N, class 2xx N,
// method M N and template T N.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loggen:", err)
		os.Exit(1)
	}
}

type options struct {
	lines   int64
	urls    int64
	seed    uint64
	invalid float64
	start   time.Time
	span    time.Duration
	out     string
	truth   string
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loggen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var start string
	fs.Int64Var(&o.lines, "n", 2_000_000, "lines to write")
	fs.Int64Var(&o.urls, "urls", 300_000, "distinct raw paths (without query string) to aim for")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed; the same seed and flags give the same output")
	fs.Float64Var(&o.invalid, "invalid", 0, "fraction of lines that are garbage (0 to 1)")
	fs.StringVar(&start, "start", "2025-11-24T00:00:00+09:00", "log time of the first line (RFC 3339); its zone is the one written")
	fs.DurationVar(&o.span, "span", 24*time.Hour, "log time from the first line to the last")
	fs.StringVar(&o.out, "o", "-", "log file to write, - for stdout")
	fs.StringVar(&o.truth, "truth", "", "file to write the truth to (none if empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	t, err := time.Parse(time.RFC3339, start)
	if err != nil {
		return fmt.Errorf("-start: %w", err)
	}
	o.start = t
	switch {
	case o.lines < 1:
		return errors.New("-n: must be at least 1")
	case o.urls < 1:
		return errors.New("-urls: must be at least 1")
	case o.invalid < 0 || o.invalid > 1:
		return errors.New("-invalid: must be between 0 and 1")
	case o.span < 0:
		return errors.New("-span: must not be negative")
	}

	var w io.Writer = stdout
	var f *os.File
	if o.out != "-" {
		f, err = os.Create(o.out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	g := newGenerator(o)
	if err := g.write(bw); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
	}
	if o.truth != "" {
		if err := os.WriteFile(o.truth, g.truth(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Kinds of template; each has its own status, method, size and time mix.
const (
	kindPage = iota
	kindAPI
	kindStatic
	kindMedia
	kindBeacon
)

// template is one path template. Its spec uses placeholders that say how a
// value is made: {id} a large numeric ID, {n} a small number, {uuid},
// {date} (2006-01-02), {slug} (words and an ID), {build} a short hex build
// hash, {hash} 32 hex digits, {token} 22 base62 characters. Its name, the
// one counted in the truth, writes {n} as {id} and {build} as {hash}.
type template struct {
	name   string
	parts  []string // literals at even indexes, placeholder names at odd ones
	kind   int
	weight float64
	maxObj int64 // cap on distinct raw paths; 0 shares the -urls budget

	// State while generating.
	pNew    float64 // probability that a line introduces a new object
	created int64   // objects introduced so far; object k is 0 ≤ k < created
	zipf    *rand.Zipf
	lines   int64
	base    uint64 // first numeric ID
	step    uint64 // gap between numeric IDs
}

func newTemplate(spec string, kind int, weight float64, maxObj int64) *template {
	t := &template{kind: kind, weight: weight, maxObj: maxObj}
	rest := spec
	var name strings.Builder
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			t.parts = append(t.parts, rest)
			name.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}') + i
		ph := rest[i+1 : j]
		t.parts = append(t.parts, rest[:i], ph)
		name.WriteString(rest[:i])
		switch ph {
		case "n":
			name.WriteString("{id}")
		case "build":
			name.WriteString("{hash}")
		case "id", "uuid", "date", "slug", "hash", "token":
			name.WriteString("{" + ph + "}")
		default:
			panic("loggen: unknown placeholder " + ph + " in " + spec)
		}
		rest = rest[j+1:]
	}
	t.name = name.String()
	if len(t.parts) == 1 {
		t.maxObj = 1
	}
	return t
}

// templates returns the ~200 templates of a media site: sections with
// articles, videos and dated stories; a versioned JSON API; hashed static
// assets; images; short links and fixed pages.
func templates() []*template {
	var ts []*template
	add := func(spec string, kind int, weight float64, maxObj int64) {
		ts = append(ts, newTemplate(spec, kind, weight, maxObj))
	}
	sections := []string{"news", "sports", "business", "tech", "entertainment", "life",
		"world", "local", "opinion", "science", "health", "travel"}
	for i, s := range sections {
		w := 1 / math.Pow(float64(i+1), 0.7) // news is the busiest section
		add("/"+s+"/", kindPage, 3*w, 0)
		add("/"+s+"/article/{id}", kindPage, 8*w, 0)
		add("/"+s+"/article/{id}/comments", kindPage, 1.5*w, 0)
		add("/"+s+"/article/{id}/photos/{n}", kindPage, 1*w, 0)
		add("/"+s+"/{date}/{slug}", kindPage, 5*w, 0)
		add("/"+s+"/video/{id}", kindPage, 1.2*w, 0)
		add("/"+s+"/page/{n}", kindPage, 0.8*w, 30)
		add("/"+s+"/feed.xml", kindPage, 0.4*w, 0)
	}
	type res struct {
		name, id string
		subs     []string
		weight   float64
	}
	resources := []res{
		{"users", "{uuid}", []string{"", "/profile", "/settings", "/bookmarks", "/bookmarks/{id}", "/notifications", "/avatar"}, 1.2},
		{"articles", "{id}", []string{"", "/comments", "/related", "/reactions"}, 1.5},
		{"comments", "{id}", []string{"", "/like", "/replies"}, 0.6},
		{"videos", "{id}", []string{"", "/manifest", "/segments/{n}"}, 1.0},
		{"playlists", "{id}", []string{"", "/items"}, 0.3},
		{"orders", "{uuid}", []string{"", "/status"}, 0.2},
		{"sessions", "{token}", []string{""}, 0.5},
	}
	for v, vw := range []float64{1, 0.35} {
		prefix := fmt.Sprintf("/api/v%d/", v+1)
		for _, r := range resources {
			for j, sub := range r.subs {
				add(prefix+r.name+"/"+r.id+sub, kindAPI, vw*r.weight/float64(j+1), 0)
			}
		}
		add(prefix+"search", kindAPI, vw*1.5, 0)
		add(prefix+"recommendations", kindAPI, vw*1.0, 0)
		add(prefix+"config", kindAPI, vw*0.8, 0)
	}
	for i, n := range []string{"app", "vendor", "runtime", "player", "comments", "analytics",
		"polyfills", "search", "ads", "consent"} {
		add("/static/js/"+n+".{build}.js", kindStatic, 6/float64(i+1), 3)
	}
	for i, n := range []string{"main", "article", "video", "print"} {
		add("/static/css/"+n+".{build}.css", kindStatic, 5/float64(i+1), 3)
	}
	add("/static/img/{hash}.jpg", kindMedia, 6, 0)
	add("/static/img/{hash}.webp", kindMedia, 4, 0)
	add("/static/img/{hash}.png", kindMedia, 1, 0)
	for _, n := range []string{"noto-sans", "noto-serif", "icons"} {
		add("/static/fonts/"+n+".woff2", kindStatic, 1, 0)
	}
	add("/images/{id}/thumb.jpg", kindMedia, 3, 0)
	add("/images/{id}/large.jpg", kindMedia, 1, 0)
	for i, p := range []string{"/", "/favicon.ico", "/robots.txt", "/sitemap.xml", "/ads.txt", "/healthz",
		"/login", "/logout", "/signup", "/search", "/about", "/contact", "/privacy", "/terms",
		"/rss.xml", "/manifest.json", "/sw.js", "/apple-touch-icon.png"} {
		add(p, kindPage, 4/float64(i+1), 0)
	}
	add("/v/{token}", kindPage, 0.8, 0)
	add("/share/{token}", kindPage, 0.3, 0)
	add("/author/{id}", kindPage, 0.4, 0)
	add("/author/{id}/articles", kindPage, 0.2, 0)
	add("/live/{id}", kindPage, 0.6, 0)
	add("/live/{id}/events", kindAPI, 1.2, 0)
	add("/amp/article/{id}", kindPage, 1.0, 0)
	add("/embed/video/{id}", kindPage, 0.5, 0)
	add("/print/article/{id}", kindPage, 0.1, 0)
	add("/embed/article/{id}", kindPage, 0.3, 0)
	add("/download/{uuid}", kindMedia, 0.2, 0)
	add("/go/{id}", kindPage, 0.3, 0)
	add("/collect", kindBeacon, 4, 0)
	add("/ping", kindBeacon, 0.5, 0)
	return ts
}

// mix is a discrete distribution over values, weights in parts per 10,000.
type mix[T any] struct {
	values []T
	cum    []uint32
}

func newMix[T any](pairs ...any) mix[T] {
	var m mix[T]
	var sum uint32
	for i := 0; i < len(pairs); i += 2 {
		m.values = append(m.values, pairs[i].(T))
		sum += uint32(pairs[i+1].(int))
		m.cum = append(m.cum, sum)
	}
	if sum != 10000 {
		panic(fmt.Sprintf("loggen: mix weights sum to %d, not 10000", sum))
	}
	return m
}

func (m *mix[T]) pick(r *rand.Rand) T {
	x := r.Uint32N(10000)
	i, _ := slices.BinarySearch(m.cum, x+1)
	return m.values[i]
}

type generator struct {
	o   options
	r   *rand.Rand
	ts  []*template
	cum []float64 // cumulative template weights, normalised to 1

	status   [5]mix[int]
	method   [5]mix[string]
	clients  *rand.Zipf
	agents   *rand.Zipf
	referers *rand.Zipf

	// Truth.
	valid, invalid int64
	byStatus       map[int]int64
	byMethod       map[string]int64
	timeMS, bytes  int64
	urls           map[uint64]struct{} // hashes of the distinct raw URLs, query included
}

func newGenerator(o options) *generator {
	g := &generator{
		o:        o,
		r:        rand.New(rand.NewPCG(o.seed, 0x6c6f6767656e)),
		ts:       templates(),
		byStatus: map[int]int64{},
		byMethod: map[string]int64{},
		urls:     map[uint64]struct{}{},
	}
	var sum float64
	for _, t := range g.ts {
		sum += t.weight
	}
	var acc float64
	for _, t := range g.ts {
		acc += t.weight / sum
		g.cum = append(g.cum, acc)
	}
	g.cum[len(g.cum)-1] = 1

	// Share the -urls budget among the templates without a cap, by their
	// share of lines; capped and fixed templates take what they need first.
	valid := float64(o.lines) * (1 - o.invalid)
	budget := float64(o.urls)
	var shared float64
	for _, t := range g.ts {
		if t.maxObj > 0 {
			budget -= float64(t.maxObj)
		} else {
			shared += t.weight / sum
		}
	}
	budget = max(budget, 0)
	for i, t := range g.ts {
		expLines := max(valid*t.weight/sum, 1)
		want := float64(t.maxObj)
		if t.maxObj == 0 {
			want = max(1, budget*(t.weight/sum)/shared)
		}
		t.pNew = min(1, want/expLines)
		t.zipf = rand.NewZipf(g.r, 1.1, 1, uint64(max(want, 1)*2))
		h := mix64(o.seed ^ uint64(i)<<40)
		t.base = 100_000 + h%9_000_000
		t.step = 1 + (h>>32)%7
	}

	g.status[kindPage] = newMix[int](200, 9040, 301, 200, 302, 100, 304, 200, 400, 30, 403, 40,
		404, 250, 499, 50, 500, 40, 502, 30, 503, 20)
	g.status[kindAPI] = newMix[int](200, 8500, 201, 300, 204, 200, 304, 100, 400, 200, 401, 200,
		403, 100, 404, 200, 409, 50, 429, 50, 500, 50, 502, 20, 503, 20, 504, 10)
	g.status[kindStatic] = newMix[int](200, 7000, 206, 100, 304, 2500, 404, 300, 499, 100)
	g.status[kindMedia] = newMix[int](200, 8000, 206, 200, 304, 1300, 404, 400, 499, 100)
	g.status[kindBeacon] = newMix[int](204, 9800, 400, 150, 503, 50)
	g.method[kindPage] = newMix[string]("GET", 9800, "HEAD", 150, "POST", 50)
	g.method[kindAPI] = newMix[string]("GET", 7000, "POST", 2000, "PUT", 500, "DELETE", 300,
		"PATCH", 100, "OPTIONS", 100)
	g.method[kindStatic] = newMix[string]("GET", 9900, "HEAD", 100)
	g.method[kindMedia] = newMix[string]("GET", 9900, "HEAD", 100)
	g.method[kindBeacon] = newMix[string]("POST", 9500, "GET", 500)
	g.clients = rand.NewZipf(g.r, 1.2, 10, 200_000)
	g.agents = rand.NewZipf(g.r, 1.5, 1, uint64(len(userAgents)-1))
	g.referers = rand.NewZipf(g.r, 1.3, 1, uint64(len(referers)-1))
	return g
}

var userAgents = []string{
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	"okhttp/4.12.0",
	"MediaApp/7.3.1 (iPhone; iOS 18.1; Scale/3.00)",
	"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"curl/7.88.1",
	"Twitterbot/1.0",
	"-",
}

var referers = []string{
	"-",
	"https://www.example.com/",
	"https://www.google.com/",
	"https://www.example.com/news/",
	"https://t.co/",
	"https://www.facebook.com/",
	"https://www.example.com/sports/",
	"https://news.yahoo.co.jp/",
	"https://www.bing.com/",
	"https://www.example.com/search?q=election",
	"android-app://com.google.android.gm/",
	"https://duckduckgo.com/",
	"https://www.example.com/tech/",
	"https://l.instagram.com/",
}

var pageQueries = []string{"utm_source=twitter&utm_medium=social", "utm_source=facebook", "ref=top",
	"page=2", "amp=1", "from=rss", "utm_source=newsletter&utm_campaign=daily"}
var apiQueries = []string{"limit=20", "limit=50&offset=100", "fields=id,title", "lang=ja", "cursor=next"}
var staticQueries = []string{"v=3", "v=4"}

var words = []string{"storm", "hits", "coast", "tokyo", "election", "results", "market", "rally",
	"team", "wins", "final", "new", "study", "finds", "city", "plans", "rail", "line", "record",
	"heat", "festival", "opens", "bank", "rates", "space", "launch", "health", "tips", "winter", "travel"}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
const hexDigits = "0123456789abcdef"

// mix64 is splitmix64's finaliser: a bijection that scatters bits.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func appendHex(b []byte, h uint64, n int) []byte {
	for i := range n {
		b = append(b, hexDigits[h>>(60-4*i)&15])
	}
	return b
}

// appendPath appends object k's raw path. Every placeholder's value is a
// function of (seed, template, k), and numeric IDs grow with k, so distinct
// objects give distinct paths.
func (g *generator) appendPath(b []byte, ti int, t *template, k int64) []byte {
	for i, p := range t.parts {
		if i%2 == 0 {
			b = append(b, p...)
			continue
		}
		h := mix64(g.o.seed ^ uint64(ti)<<40 ^ uint64(k)<<1 ^ uint64(i)<<56)
		switch p {
		case "id":
			b = strconv.AppendUint(b, t.base+uint64(k)*t.step+h%t.step, 10)
		case "n":
			b = strconv.AppendInt(b, 1+k%30, 10)
		case "uuid":
			h2 := mix64(h)
			b = appendHex(b, h, 8)
			b = append(b, '-')
			b = appendHex(b, h<<32, 4)
			b = append(b, '-', '4')
			b = appendHex(b, h<<48, 3)
			b = append(b, '-', "89ab"[h2>>62])
			b = appendHex(b, h2<<4, 3)
			b = append(b, '-')
			b = appendHex(b, h2<<16, 12)
		case "date":
			d := g.o.start.AddDate(0, 0, -int(h%400))
			b = d.AppendFormat(b, "2006-01-02")
		case "slug":
			nw := 2 + h%4
			for j := range nw {
				b = append(b, words[(h>>(8*j))%uint64(len(words))]...)
				b = append(b, '-')
			}
			b = strconv.AppendUint(b, t.base+uint64(k)*t.step+h%t.step, 10)
		case "build":
			b = append(b, "abcdef"[h%6])
			b = appendHex(b, h<<4, 7)
		case "hash":
			b = appendHex(b, h, 16)
			b = appendHex(b, mix64(h), 16)
		case "token":
			x, y := h, mix64(h)
			start := len(b)
			for j := range 22 {
				if j == 11 {
					x = y
				}
				b = append(b, base62[x%62])
				x /= 62
			}
			// Real tokens are random; these always mix digits and letters
			// so that no template-level heuristic mistakes one for a word.
			b[start+int(h%7)] = '0' + byte(h>>8%10)
			b[start+7+int(y%7)] = 'A' + byte(y>>8%26)
			b[start+14+int(h>>16%8)] = 'a' + byte(y>>16%26)
		}
	}
	return b
}

func (g *generator) pickTemplate() (int, *template) {
	x := g.r.Float64()
	i, _ := slices.BinarySearchFunc(g.cum, x, func(c, x float64) int {
		if c <= x {
			return -1
		}
		return 1
	})
	i = min(i, len(g.ts)-1)
	return i, g.ts[i]
}

// object picks the object a line of t asks for: a new one with
// probability pNew, else a recent one, rank Zipf-distributed (rank 0 is
// the newest).
func (g *generator) object(t *template) int64 {
	if t.created == 0 || (t.created < t.maxObj || t.maxObj == 0) && g.r.Float64() < t.pNew {
		t.created++
		return t.created - 1
	}
	r := int64(t.zipf.Uint64() % uint64(t.created))
	return t.created - 1 - r
}

func (g *generator) appendClient(b []byte) []byte {
	c := g.clients.Uint64()
	h := mix64(g.o.seed<<1 ^ c)
	if h%20 == 0 {
		b = append(b, "2001:db8:"...)
		b = strconv.AppendUint(b, h>>8&0xffff, 16)
		b = append(b, ':')
		b = strconv.AppendUint(b, h>>24&0xffff, 16)
		b = append(b, "::"...)
		return strconv.AppendUint(b, h>>40&0xffff, 16)
	}
	a := 1 + (h>>8)%223
	if a == 10 || a == 127 {
		a++
	}
	b = strconv.AppendUint(b, a, 10)
	for i := range 3 {
		b = append(b, '.')
		b = strconv.AppendUint(b, h>>(16+8*i)&0xff, 10)
	}
	return b
}

// size returns bytes_sent for a response.
func (g *generator) size(kind, status int, method string) int64 {
	if method == "HEAD" || status == 304 || status == 204 {
		return 150 + g.r.Int64N(250)
	}
	if status >= 300 && status < 400 {
		return 300 + g.r.Int64N(300)
	}
	if status >= 400 {
		return 400 + g.r.Int64N(1200)
	}
	median := [...]float64{kindPage: 60_000, kindAPI: 3_000, kindStatic: 80_000, kindMedia: 90_000, kindBeacon: 200}[kind]
	return int64(median * math.Exp(g.r.NormFloat64()*0.8))
}

// requestTimeMS returns $request_time in milliseconds.
func (g *generator) requestTimeMS(kind, status int) int64 {
	switch status {
	case 504:
		return 60_000 + g.r.Int64N(50)
	case 499:
		return g.r.Int64N(30_000)
	}
	median := [...]float64{kindPage: 40, kindAPI: 25, kindStatic: 1, kindMedia: 3, kindBeacon: 1}[kind]
	ms := int64(median * math.Exp(g.r.NormFloat64()*1.1))
	return min(ms, 120_000)
}

func (g *generator) write(w *bufio.Writer) error {
	o := g.o
	b := make([]byte, 0, 1024)
	var pathStart int
	lastSec := int64(-1)
	var stamp []byte
	spanNS := o.span.Nanoseconds()
	for i := range o.lines {
		sec := int64(0)
		if o.lines > 1 {
			sec = int64(float64(spanNS)*float64(i)/float64(o.lines-1)) / int64(time.Second)
		}
		if sec != lastSec {
			lastSec = sec
			stamp = o.start.Add(time.Duration(sec)*time.Second).AppendFormat(stamp[:0], "02/Jan/2006:15:04:05 -0700")
		}
		b = b[:0]
		if o.invalid > 0 && g.r.Float64() < o.invalid {
			g.invalid++
			switch i % 3 {
			case 0:
				b = append(b, "garbage line "...)
				b = strconv.AppendInt(b, i, 10)
			case 1:
				b = append(b, `"10.0.0.1" "-" [`...)
				b = append(b, stamp...)
				b = append(b, `] "GET /truncated`...)
			default:
				b = append(b, `"10.0.0.1" "-" [`...)
				b = append(b, stamp...)
				b = append(b, `] "GET / HTTP/1.1" 2x0 512 0.001 "-" "-"`...)
			}
			b = append(b, '\n')
			if _, err := w.Write(b); err != nil {
				return err
			}
			continue
		}
		g.valid++
		ti, t := g.pickTemplate()
		t.lines++
		k := g.object(t)
		status := g.status[t.kind].pick(g.r)
		method := g.method[t.kind].pick(g.r)
		if method == "POST" && status == 200 && t.kind == kindAPI && g.r.IntN(4) == 0 {
			status = 201
		}

		b = append(b, '"')
		b = g.appendClient(b)
		b = append(b, `" "`...)
		if g.r.IntN(200) == 0 {
			b = append(b, "editor"...)
			b = strconv.AppendInt(b, int64(g.r.IntN(20)), 10)
		} else {
			b = append(b, '-')
		}
		b = append(b, `" [`...)
		b = append(b, stamp...)
		b = append(b, `] "`...)
		b = append(b, method...)
		b = append(b, ' ')
		pathStart = len(b)
		b = g.appendPath(b, ti, t, k)
		var qs []string
		switch {
		case t.kind == kindPage && g.r.IntN(5) == 0:
			qs = pageQueries
		case t.kind == kindAPI && g.r.IntN(3) == 0:
			qs = apiQueries
		case t.kind == kindStatic && g.r.IntN(10) == 0:
			qs = staticQueries
		}
		if qs != nil {
			b = append(b, '?')
			b = append(b, qs[g.r.IntN(len(qs))]...)
		}
		g.urls[hashBytes(b[pathStart:])] = struct{}{}
		if g.r.IntN(3) == 0 {
			b = append(b, " HTTP/2.0\" "...)
		} else {
			b = append(b, " HTTP/1.1\" "...)
		}
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, ' ')
		size := g.size(t.kind, status, method)
		b = strconv.AppendInt(b, size, 10)
		b = append(b, ' ')
		ms := g.requestTimeMS(t.kind, status)
		b = strconv.AppendInt(b, ms/1000, 10)
		b = append(b, '.', byte('0'+ms/100%10), byte('0'+ms/10%10), byte('0'+ms%10))
		b = append(b, ` "`...)
		b = append(b, referers[g.referers.Uint64()]...)
		b = append(b, `" "`...)
		b = append(b, userAgents[g.agents.Uint64()]...)
		b = append(b, "\"\n"...)
		if _, err := w.Write(b); err != nil {
			return err
		}
		g.byStatus[status]++
		g.byMethod[method]++
		g.timeMS += ms
		g.bytes += size
	}
	return nil
}

// hashBytes is FNV-1a, enough to count distinct URLs.
func hashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func (g *generator) truth() []byte {
	var b strings.Builder
	var paths int64
	templates := map[string]int64{}
	for _, t := range g.ts {
		paths += t.created
		templates[t.name] += t.lines
	}
	used := 0
	for _, n := range templates {
		if n > 0 {
			used++
		}
	}
	fmt.Fprintf(&b, "lines %d\nvalid %d\ninvalid %d\ntemplates %d\ndistinct_paths %d\ndistinct_urls %d\n",
		g.o.lines, g.valid, g.invalid, used, paths, len(g.urls))
	fmt.Fprintf(&b, "request_time_ms_sum %d\nbytes_sum %d\n", g.timeMS, g.bytes)
	classes := map[string]int64{}
	for _, s := range sortedKeys(g.byStatus) {
		fmt.Fprintf(&b, "status %d %d\n", s, g.byStatus[s])
		classes[fmt.Sprintf("%dxx", s/100)] += g.byStatus[s]
	}
	for _, c := range sortedKeys(classes) {
		fmt.Fprintf(&b, "class %s %d\n", c, classes[c])
	}
	for _, m := range sortedKeys(g.byMethod) {
		fmt.Fprintf(&b, "method %s %d\n", m, g.byMethod[m])
	}
	for _, n := range sortedKeys(templates) {
		if templates[n] > 0 {
			fmt.Fprintf(&b, "template %s %d\n", n, templates[n])
		}
	}
	return []byte(b.String())
}

func sortedKeys[K interface{ ~int | ~string }, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
