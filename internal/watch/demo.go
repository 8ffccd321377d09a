package watch

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// demo writes a synthetic access log in nginx's media format, tailed as
// job "demo", so that a new install shows moving numbers at once. Traffic
// follows a daily shape (quiet at dawn, a peak in the evening) with a
// spike now and then, when errors and latency rise. It is clearly labelled
// demo everywhere and off unless watch.demo.enabled is set.
type demo struct {
	path string
	rate int // mean lines per second at the daily peak
	rnd  *rand.Rand
	buf  []byte
}

// demoMaxBytes is the size at which the demo log is rotated (renamed to
// .1, replacing the previous one).
const demoMaxBytes = 32 << 20

func newDemo(path string, rate int) *demo {
	return &demo{path: path, rate: rate, rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
}

func (d *demo) prepare() error {
	if err := os.MkdirAll(filepath.Dir(d.path), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	return f.Close()
}

// shape is the share of the peak rate at t: 0.25 at 5 in the morning, 1 at
// 9 in the evening, with a lunch bump.
func shape(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	base := 0.625 - 0.375*math.Cos((h-5)/24*2*math.Pi)
	lunch := 0.12 * math.Exp(-math.Pow(h-12.5, 2)/2)
	return math.Min(1, base+lunch)
}

// spike says whether t is in a spike: 90 seconds every 15 minutes.
func spike(t time.Time) bool { return t.Unix()%900 < 90 }

func (d *demo) run(ctx context.Context) {
	const tick = 100 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return
	}
	defer func() { f.Close() }()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	carry := 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			want := float64(d.rate) * shape(now) * tick.Seconds()
			if spike(now) {
				want *= 2.5
			}
			want = want*(0.8+0.4*d.rnd.Float64()) + carry
			n := int(want)
			carry = want - float64(n)
			d.buf = d.buf[:0]
			for range n {
				d.buf = d.line(d.buf, now, spike(now))
			}
			if len(d.buf) == 0 {
				continue
			}
			if _, err := f.Write(d.buf); err != nil {
				return
			}
			size += int64(len(d.buf))
			if size > demoMaxBytes {
				f.Close()
				_ = os.Rename(d.path, d.path+".1")
				if f, err = os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640); err != nil {
					return
				}
				size = 0
			}
		}
	}
}

var demoAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
	"ExoPlayerLib/2.19.1",
	"AppleCoreMedia/1.0.0.22B83 (iPhone; U; CPU OS 18_1 like Mac OS X)",
}

var demoChannels = []string{"news", "sports", "drama", "kids", "music", "docu"}

// line appends one synthetic request.
func (d *demo) line(b []byte, now time.Time, spiking bool) []byte {
	r := d.rnd
	var path string
	var bytes int
	latency := math.Exp(r.NormFloat64()*0.6 - 3.6) // median ≈ 27 ms
	switch p := r.IntN(100); {
	case p < 55:
		ch := demoChannels[min(len(demoChannels)-1, int(r.ExpFloat64()*1.2))]
		path = "/live/" + ch + "/" + strconv.Itoa(int(now.Unix()/4)%100000) + ".ts"
		bytes = 400_000 + r.IntN(600_000)
		latency *= 2
	case p < 75:
		path = "/vod/" + strconv.Itoa(1000+int(r.ExpFloat64()*300)) + "/seg-" + strconv.Itoa(r.IntN(720)) + ".m4s"
		bytes = 200_000 + r.IntN(1_500_000)
		latency *= 2.5
	case p < 88:
		path = "/api/v1/programs/" + strconv.Itoa(r.IntN(5000)) + "?lang=ko"
		bytes = 800 + r.IntN(6000)
	case p < 95:
		path = "/article/" + strconv.Itoa(100000+r.IntN(90000))
		bytes = 20_000 + r.IntN(60_000)
	case p < 98:
		path = "/"
		bytes = 45_000 + r.IntN(5000)
	default:
		path = "/static/app." + strconv.FormatUint(r.Uint64()%0xffffff, 16) + ".js"
		bytes = 120_000
		latency /= 3
	}
	status := 200
	switch e := r.Float64(); {
	case spiking && e < 0.06:
		status = 502 + r.IntN(3)
	case e < 0.004:
		status = 500
	case e < 0.02:
		status = 404
	case e < 0.05:
		status = 304
		bytes = 0
	}
	if spiking {
		latency *= 4
	}
	ip := fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), 1+r.IntN(254))
	if r.IntN(10) == 0 {
		ip = "203.0.113." + strconv.Itoa(1+r.IntN(8)) // a few heavy clients
	}
	b = append(b, '"')
	b = append(b, ip...)
	b = append(b, `" "-" [`...)
	b = now.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "GET `...)
	b = append(b, path...)
	b = append(b, ` HTTP/1.1" `...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(bytes), 10)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, latency, 'f', 3, 64)
	b = append(b, ` "https://demo.example/" "`...)
	b = append(b, demoAgents[r.IntN(len(demoAgents))]...)
	return append(b, "\"\n"...)
}
