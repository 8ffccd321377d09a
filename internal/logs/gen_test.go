package logs

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// genTemplate is a path template of the generated log and how to fill it.
type genTemplate struct {
	want  string // the template dandan must give
	parts []string
}

// genTemplates cover each automatic collapse; {x} parts are filled by fill.
func genTemplates() []genTemplate {
	t := func(want string, parts ...string) genTemplate { return genTemplate{want, parts} }
	return []genTemplate{
		t("/", "/"),
		t("/home", "/home"),
		t("/news/article/{id}", "/news/article/", "{id}"),
		t("/news/article/{id}/comments", "/news/article/", "{id}", "/comments"),
		t("/api/v1/users/{uuid}/profile", "/api/v1/users/", "{uuid}", "/profile"),
		t("/api/v1/orders/{uuid}", "/api/v1/orders/", "{uuid}"),
		t("/sports/{date}/{slug}", "/sports/", "{date}", "/", "{slug}"),
		t("/static/js/app.{hash}.js", "/static/js/app.", "{hex8}", ".js"),
		t("/static/img/{hash}.jpg", "/static/img/", "{hex32}", ".jpg"),
		t("/images/{id}/thumb.jpg", "/images/", "{id}", "/thumb.jpg"),
		t("/v/{token}", "/v/", "{token}"),
		t("/blob/{hex}", "/blob/", "{hex32}"),
		t("/favicon.ico", "/favicon.ico"),
		t("/api/v2/search", "/api/v2/search"),
		t("/live/{id}/events", "/live/", "{id}", "/events"),
	}
}

const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func fill(b []byte, r *rand.Rand, part string) []byte {
	hex := func(n int) {
		for range n {
			b = append(b, "0123456789abcdef"[r.IntN(16)])
		}
	}
	switch part {
	case "{id}":
		return strconv.AppendInt(b, 1000+r.Int64N(5_000_000), 10)
	case "{uuid}":
		for i, n := range []int{8, 4, 4, 4, 12} {
			if i > 0 {
				b = append(b, '-')
			}
			hex(n)
		}
		return b
	case "{date}":
		return time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(600)).AppendFormat(b, "2006-01-02")
	case "{slug}":
		b = append(b, "storm-hits-coast-"...)
		return strconv.AppendInt(b, 100+r.Int64N(900000), 10)
	case "{hex8}":
		b = append(b, '1')
		hex(7)
		return b
	case "{hex32}":
		b = append(b, 'a', '1')
		hex(30)
		return b
	case "{token}":
		b = append(b, 'A', 'z', '9', '8')
		for range 18 {
			b = append(b, b62[r.IntN(62)])
		}
		return b
	}
	return append(b, part...)
}

// genTruth is what a generated log holds.
type genTruth struct {
	lines, invalid int
	status         map[string]int
	method         map[string]int
	path           map[string]int
	bytes          int64
	durationUS     int64
}

var genStatuses = []int{200, 200, 200, 200, 200, 200, 304, 404, 301, 500, 201, 499}
var genMethods = []string{"GET", "GET", "GET", "GET", "POST", "HEAD", "PUT", "DELETE"}

// genLog writes n lines of the media-nginx format from seed, a fraction
// garbage of them invalid in assorted ways, perSec lines per second of log
// time from start, and returns the truth.
//
// With ids > 0 the IDs in paths follow a Zipf law over ids objects per
// template, so raw paths repeat as in a real log; with 0 they rarely do.
func genLog(w io.Writer, n int, seed uint64, garbage float64, start time.Time, perSec int, ids uint64) genTruth {
	r := rand.New(rand.NewPCG(seed, 42))
	var zipf *rand.Zipf
	if ids > 0 {
		zipf = rand.NewZipf(r, 1.1, 1, ids-1)
	}
	tr := genTruth{status: map[string]int{}, method: map[string]int{}, path: map[string]int{}}
	bw := bufio.NewWriter(w)
	ts := genTemplates()
	var b []byte
	zone := time.FixedZone("KST", 9*3600)
	for i := range n {
		b = b[:0]
		tr.lines++
		if r.Float64() < garbage {
			tr.invalid++
			switch r.IntN(5) {
			case 0:
				b = append(b, "garbage line "...)
				b = strconv.AppendInt(b, int64(i), 10)
			case 1:
				b = append(b, `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 2x0 1 0.1 "-" "-"`...)
			case 2:
				b = append(b, `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET /trunc`...)
			case 3:
				b = append(b, `"192.0.2.1" "-" [99/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 200 1 0.1 "-" "-"`...)
			case 4:
				b = append(b, `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 200 1 0.1 "-" "-" trailing`...)
			}
			bw.Write(append(b, '\n'))
			continue
		}
		t := ts[r.IntN(len(ts))]
		status := genStatuses[r.IntN(len(genStatuses))]
		method := genMethods[r.IntN(len(genMethods))]
		size := r.Int64N(100000)
		dur := r.Int64N(2000) // ms
		tr.status[strconv.Itoa(status)]++
		tr.method[method]++
		tr.path[t.want]++
		tr.bytes += size
		tr.durationUS += dur * 1000
		b = append(b, `"10.`...)
		b = strconv.AppendInt(b, int64(r.IntN(4)), 10)
		b = append(b, '.', '0', '.')
		b = strconv.AppendInt(b, int64(r.IntN(200)), 10)
		b = append(b, `" "-" [`...)
		b = start.Add(time.Duration(i/perSec)*time.Second).In(zone).AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
		b = append(b, `] "`...)
		b = append(b, method...)
		b = append(b, ' ')
		pr := r
		if zipf != nil {
			pr = rand.New(rand.NewPCG(zipf.Uint64(), uint64(len(t.want))))
		}
		for _, p := range t.parts {
			b = fill(b, pr, p)
		}
		if r.IntN(4) == 0 {
			b = append(b, "?utm_source=x&id="...)
			b = strconv.AppendInt(b, r.Int64N(1000), 10)
		}
		b = fmt.Appendf(b, ` HTTP/1.1" %d %d %d.%03d "https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64)"`,
			status, size, dur/1000, dur%1000)
		bw.Write(append(b, '\n'))
	}
	bw.Flush()
	return tr
}
