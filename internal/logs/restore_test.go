package logs

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/dandan-sre/dandan/internal/logs/format"
)

// TestRestore: an Aggregator restored from another's Families counts on
// from the same totals, as the watchdog does after a restart.
func TestRestore(t *testing.T) {
	f, err := format.Compile("media-nginx", format.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Format, cfg.Job, cfg.Referers = f, "web", true
	line := func(i int) []byte {
		return fmt.Appendf(nil, `"10.0.0.%d" "-" [10/Oct/2021:13:55:%02d +0900] "GET /article/%d HTTP/1.1" %d 512 0.%03d "https://ref%d.example/" "ua"`,
			i%7, i%60, i, 200+i%3*100, i%900, i%4)
	}
	a, _ := New(cfg)
	for i := range 500 {
		a.Line(line(i))
	}
	a.Line([]byte("garbage"))
	b, _ := New(cfg)
	if err := b.Restore(a.Families()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Families(), b.Families()) {
		t.Fatalf("restored families differ:\n%v\n%v", a.Families(), b.Families())
	}
	for i := 500; i < 800; i++ {
		a.Line(line(i))
		b.Line(line(i))
	}
	if !reflect.DeepEqual(a.Families(), b.Families()) {
		t.Fatal("families differ after counting on")
	}

	// Other jobs are ignored; changed buckets restart the histogram only.
	other := cfg
	other.Job = "other"
	c, _ := New(other)
	if err := c.Restore(a.Families()); err != nil {
		t.Fatal(err)
	}
	if got := len(c.Families()[0].Series); got != 0 {
		t.Fatalf("restored %d series of another job", got)
	}
	nb := cfg
	nb.Buckets = []float64{0.1, 1}
	d, _ := New(nb)
	if err := d.Restore(a.Families()); err == nil {
		t.Fatal("no error for changed buckets")
	}
	if !reflect.DeepEqual(d.Families()[0], a.Families()[0]) {
		t.Fatal("requests not restored when buckets changed")
	}
}
