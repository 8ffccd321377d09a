package webstatus

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dandan-sre/dandan/internal/metricstore"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// updating reports whether the tests run with -update (testkit's flag),
// when the tests against real servers also rewrite the pages captured in
// testdata.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// capture writes a page captured from a real server to path when the
// tests run with -update.
func capture(t *testing.T, path string, body []byte) {
	t.Helper()
	if !updating() {
		return
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatalf("capture: %v", err)
	}
}

// render writes s as an exposition line without its timestamp:
// name{label="value",…} value.
func render(s metricstore.Sample) string {
	var b strings.Builder
	b.WriteString(s.Labels.Get("__name__"))
	var labels []string
	s.Labels.Range(func(l metricstore.Label) {
		if l.Name != "__name__" {
			labels = append(labels, l.Name+"="+strconv.Quote(l.Value))
		}
	})
	fmt.Fprintf(&b, "{%s} %s", strings.Join(labels, ","), strconv.FormatFloat(s.V, 'g', -1, 64))
	return b.String()
}

// values maps the samples to their values by their rendered series,
// name{label="value",…}, and fails the test on a duplicate series.
func values(t testing.TB, samples []metricstore.Sample) map[string]float64 {
	t.Helper()
	m := make(map[string]float64, len(samples))
	for _, s := range samples {
		series, v, _ := strings.Cut(render(s), "} ")
		series += "}"
		if _, dup := m[series]; dup {
			t.Errorf("duplicate series %s", series)
		}
		f, _ := strconv.ParseFloat(v, 64)
		m[series] = f
	}
	return m
}

// checkDocumented fails the test when a sample has a name Docs does not
// list, or labels its Doc does not list.
func checkDocumented(t testing.TB, samples []metricstore.Sample) {
	t.Helper()
	docs := map[string]Doc{}
	for _, d := range Docs() {
		docs[d.Name] = d
	}
	for _, s := range samples {
		d, ok := docs[s.Labels.Get("__name__")]
		if !ok {
			t.Errorf("sample %s: metric not in Docs", render(s))
			continue
		}
		s.Labels.Range(func(l metricstore.Label) {
			if l.Name != "__name__" && !slices.Contains(d.Labels, l.Name) {
				t.Errorf("sample %s: label %s not in Docs", render(s), l.Name)
			}
		})
	}
}
