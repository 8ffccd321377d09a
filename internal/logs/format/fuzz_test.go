package format

import (
	"testing"
)

// FuzzCompile: no format string makes Compile panic, and a compiled one
// parses its own kind of junk without panicking.
func FuzzCompile(f *testing.F) {
	for _, p := range Presets() {
		f.Add(p.Name)
		if p.Format != "" {
			f.Add(p.Format)
		}
	}
	f.Fuzz(func(t *testing.T, spec string) {
		fm, err := Compile(spec, Options{})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		p := fm.NewParser()
		var out Fields
		if !p.Parse([]byte(spec), &out) && p.Err() == nil {
			t.Fatal("failed without an error")
		}
	})
}

// FuzzParse: no line makes a parser of the presets or of pasted formats
// panic, and what parses is in range.
func FuzzParse(f *testing.F) {
	specs := []string{"media-nginx", "media-apache", "combined", "json",
		`$remote_addr [$time_local] "$request" $status $body_bytes_sent $upstream_response_time "$http_referer"`,
		`$time_iso8601 $msec $request_method $request_uri $status $request_time`,
		`apache:%h %{sec}t "%r" %>s %{ms}T %O`}
	f.Add(uint8(0), []byte(`"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET /home?x=1 HTTP/1.1" 200 5120 0.005 "-" "ua"`))
	f.Add(uint8(1), []byte(`::1 "-" [10/Oct/2021:13:55:36 +0900] "GET /a\"b HTTP/1.1" 200 - 153 "\\" "ua"`))
	f.Add(uint8(3), []byte(`{"time_iso8601":"2021-10-10T13:55:36+09:00","request":"GET /\u00e9 HTTP/1.1","status":200,"x":{"y":[1,"]"]}}`))
	f.Add(uint8(4), []byte(`1.2.3.4 [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 502 0 0.1, 0.2 : - "-"`))
	f.Add(uint8(5), []byte(`2021-10-10T13:55:36.123Z 1633841736.123 GET / 200 0.001`))
	parsers := make([]*Parser, len(specs))
	for i, s := range specs {
		fm, err := Compile(s, Options{})
		if err != nil {
			f.Fatal(err)
		}
		parsers[i] = fm.NewParser()
	}
	f.Fuzz(func(t *testing.T, which uint8, line []byte) {
		p := parsers[int(which)%len(parsers)]
		var out Fields
		if !p.Parse(line, &out) {
			if p.Err() == nil || p.Err().Error() == "" {
				t.Fatal("failed without an error")
			}
			return
		}
		if out.Status < 0 || out.Status > 999 || out.Duration < -1 || out.Bytes < 0 {
			t.Fatalf("out of range: %+v", out)
		}
	})
}
