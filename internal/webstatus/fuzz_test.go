package webstatus

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The seeds of the fuzz tests are in testdata/fuzz/<FuzzName>/.

func FuzzParseNginx(f *testing.F) {
	f.Fuzz(func(t *testing.T, page []byte) {
		st, err := ParseNginx(page)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error %q does not give the line", err)
			}
			return
		}
		samples := st.Samples("fuzz", time.Unix(0, 0))
		checkDocumented(t, samples)
		values(t, samples)
		// The status printed as nginx prints it parses to the same.
		again, err := ParseNginx(fmt.Appendf(nil, "Active connections: %d \nserver accepts handled requests\n %d %d %d \nReading: %d Writing: %d Waiting: %d \n",
			st.Active, st.Accepts, st.Handled, st.Requests, st.Reading, st.Writing, st.Waiting))
		if err != nil || again != st {
			t.Errorf("printed and parsed again: %+v, %v; want %+v", again, err, st)
		}
	})
}

func FuzzParseApache(f *testing.F) {
	f.Fuzz(func(t *testing.T, page []byte) {
		st, err := ParseApache(page)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "line ") && !strings.HasPrefix(msg, "no status fields") {
				t.Errorf("error %q does not give the line", err)
			}
			return
		}
		samples := st.Samples("fuzz", time.Unix(0, 0))
		checkDocumented(t, samples)
		values(t, samples) // fails on a duplicate series
		unknown := map[string]bool{}
		for _, name := range st.Unknown {
			unknown[name] = true
		}
		for name := range st.Values {
			if _, known := lookupApacheField(name); !known && !unknown[name] {
				t.Errorf("field %q neither known nor in Unknown", name)
			}
		}
	})
}
