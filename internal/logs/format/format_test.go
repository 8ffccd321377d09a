package format

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// got is Fields with strings, for comparing.
type got struct {
	Time                            string
	Client, Method, Target, Referer string
	Status                          int
	Bytes, Duration                 int64
}

func view(f Fields) got {
	return got{
		Time:   time.Unix(f.Time, 0).UTC().Format(time.RFC3339),
		Client: string(f.Client), Method: string(f.Method), Target: string(f.Target), Referer: string(f.Referer),
		Status: f.Status, Bytes: f.Bytes, Duration: f.Duration,
	}
}

const (
	ts  = "2021-10-10T04:55:36Z" // 10/Oct/2021:13:55:36 +0900
	ua  = "Mozilla/5.0 (X11; Linux x86_64)"
	ua2 = `curl/8.0 \"quoted\" \\ end`
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		json    map[string]string
		line    string
		want    got
		wantErr string
	}{
		{name: "media-nginx", format: "media-nginx",
			line: `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET /home?x=1 HTTP/1.1" 200 5120 0.005 "https://www.google.com/" "` + ua + `"`,
			want: got{Time: ts, Client: "192.0.2.1", Method: "GET", Target: "/home?x=1", Status: 200, Bytes: 5120, Duration: 5000, Referer: "https://www.google.com/"}},
		{name: "media-nginx IPv6 and HTTP/2", format: "media-nginx",
			line: `"2001:db8::1" "alice" [10/Oct/2021:13:55:36 +0900] "POST /api/v1/items HTTP/2.0" 201 88 1.250 "-" "okhttp/4.12.0"`,
			want: got{Time: ts, Client: "2001:db8::1", Method: "POST", Target: "/api/v1/items", Status: 201, Bytes: 88, Duration: 1250000, Referer: "-"}},
		{name: "media-nginx \\x22 escapes", format: "media-nginx",
			line: `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET /q?a=\x22b\x22 HTTP/1.1" 404 0 0.000 "-" "say \x22hi\x22"`,
			want: got{Time: ts, Client: "192.0.2.1", Method: "GET", Target: `/q?a=\x22b\x22`, Status: 404, Duration: 0, Referer: "-"}},
		{name: "media-nginx dash fields", format: "media-nginx",
			line: `"-" "-" [10/Oct/2021:13:55:36 +0900] "-" 400 0 - "-" "-"`,
			want: got{Time: ts, Status: 400, Duration: -1, Referer: "-"}},
		{name: "media-nginx binary request", format: "media-nginx",
			line: `"192.0.2.9" "-" [10/Oct/2021:13:55:36 +0900] "\x16\x03\x01\x02\x00\x01" 400 150 0.001 "-" "-"`,
			want: got{Time: ts, Client: "192.0.2.9", Status: 400, Bytes: 150, Duration: 1000, Referer: "-"}},
		{name: "media-nginx very long line", format: "media-nginx",
			line: `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET /long/` + strings.Repeat("x", 60000) + ` HTTP/1.1" 414 0 0.000 "-" "-"`,
			want: got{Time: ts, Client: "192.0.2.1", Method: "GET", Target: "/long/" + strings.Repeat("x", 60000), Status: 414, Duration: 0, Referer: "-"}},
		{name: "media-nginx bad status", format: "media-nginx",
			line:    `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 2x0 1 0.1 "-" "-"`,
			wantErr: `bad status "2x0"`},
		{name: "media-nginx bad time", format: "media-nginx",
			line:    `"192.0.2.1" "-" [10/Foo/2021:13:55:36 +0900] "GET / HTTP/1.1" 200 1 0.1 "-" "-"`,
			wantErr: `bad time "10/Foo/2021:13:55:36 +0900"`},
		{name: "media-nginx bad duration", format: "media-nginx",
			line:    `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 200 1 abc "-" "-"`,
			wantErr: `bad duration "abc"`},
		{name: "media-nginx truncated", format: "media-nginx",
			line:    `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 200`,
			wantErr: `line ends inside $status: no " " after it`},
		{name: "media-nginx garbage", format: "media-nginx",
			line:    `garbage line 12 ~~~`,
			wantErr: `expected "\"" before $remote_addr at column 1, found "g"`},
		{name: "media-nginx trailing text", format: "media-nginx",
			line:    `"192.0.2.1" "-" [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 200 1 0.1 "-" "-" extra`,
			wantErr: `unexpected text after the last field at column 80: " extra"`},
		{name: "empty", format: "media-nginx", line: "", wantErr: "empty line"},
		{name: "media-apache", format: "media-apache",
			line: `192.0.2.1 "-" [10/Oct/2021:13:55:36 +0900] "GET /a/b HTTP/1.1" 200 1024 153000 "-" "` + ua + `"`,
			want: got{Time: ts, Client: "192.0.2.1", Method: "GET", Target: "/a/b", Status: 200, Bytes: 1024, Duration: 153000, Referer: "-"}},
		{name: "media-apache escapes", format: "media-apache",
			line: `::1 "bob" [10/Oct/2021:13:55:36 +0900] "GET /x\"y HTTP/1.1" 304 - 12 "http://a.example/\\" "` + ua2 + `"`,
			want: got{Time: ts, Client: "::1", Method: "GET", Target: `/x\"y`, Status: 304, Duration: 12, Referer: `http://a.example/\\`}},
		{name: "combined from nginx", format: "combined",
			line: `192.0.2.1 - - [10/Oct/2021:13:55:36 +0900] "GET /index.html HTTP/1.0" 200 2326 "http://www.example.com/start.html" "` + ua + `"`,
			want: got{Time: ts, Client: "192.0.2.1", Method: "GET", Target: "/index.html", Status: 200, Bytes: 2326, Duration: -1, Referer: "http://www.example.com/start.html"}},
		{name: "common from the Apache docs", format: "common",
			line: `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`,
			want: got{Time: "2000-10-10T20:55:36Z", Client: "127.0.0.1", Method: "GET", Target: "/apache_pb.gif", Status: 200, Bytes: 2326, Duration: -1}},
		{name: "nginx docs compression format", format: `log_format compression '$remote_addr - $remote_user [$time_local] '
                       '"$request" $status $bytes_sent '
                       '"$http_referer" "$http_user_agent" "$gzip_ratio"';`,
			line: `192.0.2.1 - - [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 200 612 "-" "curl/8" "2.75"`,
			want: got{Time: ts, Client: "192.0.2.1", Method: "GET", Target: "/", Status: 200, Bytes: 612, Duration: -1, Referer: "-"}},
		{name: "nginx upstream lists", format: `$remote_addr [$time_local] "$request" $status $body_bytes_sent $upstream_response_time $upstream_addr "$http_referer"`,
			line: `192.0.2.1 [10/Oct/2021:13:55:36 +0900] "GET /u HTTP/1.1" 502 0 0.010, 0.020 : 0.005 10.0.0.1:80, 10.0.0.2:80 : 10.0.1.1:80 "-"`,
			want: got{Time: ts, Client: "192.0.2.1", Method: "GET", Target: "/u", Status: 502, Duration: 35000, Referer: "-"}},
		{name: "nginx upstream dash", format: `$remote_addr [$time_local] "$request" $status $body_bytes_sent $upstream_response_time`,
			line: `192.0.2.1 [10/Oct/2021:13:55:36 +0900] "GET /u HTTP/1.1" 499 0 -`,
			want: got{Time: ts, Client: "192.0.2.1", Method: "GET", Target: "/u", Status: 499, Duration: -1}},
		{name: "nginx request_time wins over upstream", format: `$time_iso8601 $request_method $request_uri $status $upstream_response_time $request_time`,
			line: `2021-10-10T13:55:36+09:00 GET /r?x 200 0.001 0.002`,
			want: got{Time: ts, Method: "GET", Target: "/r?x", Status: 200, Duration: 2000}},
		{name: "nginx msec and braces", format: `${msec} ${status} "${request}"`,
			line: `1633841736.123 200 "HEAD / HTTP/1.1"`,
			want: got{Time: ts, Method: "HEAD", Target: "/", Status: 200, Duration: -1}},
		{name: "apache %T and %{ms}T", format: `apache:%h %t "%r" %>s %{ms}T %T`,
			line: `192.0.2.1 [10/Oct/2021:13:55:36 +0900] "GET / HTTP/1.1" 200 153 0`,
			want: got{Time: ts, Client: "192.0.2.1", Method: "GET", Target: "/", Status: 200, Duration: 153000}},
		{name: "apache LogFormat directive with %{sec}t", format: `LogFormat "%{sec}t %m %U%q %s %B" secs`,
			line: `1633841736 GET /p?q=1 200 0`,
			want: got{Time: ts, Method: "GET", Target: "/p?q=1", Status: 200, Duration: -1}},
		{name: "json default keys", format: "json",
			line: `{"time_iso8601":"2021-10-10T13:55:36+09:00","remote_addr":"192.0.2.1","request":"GET /j\/k?x HTTP/1.1","status":200,"body_bytes_sent":"12","request_time":0.042,"http_referer":"-","nested":{"a":[1,"}"]}}`,
			want: got{Time: ts, Client: "192.0.2.1", Method: "GET", Target: "/j/k?x", Status: 200, Bytes: 12, Duration: 42000, Referer: "-"}},
		{name: "json mapped keys", format: "json", json: map[string]string{"time_unix_ms": "ts", "request_uri": "url", "request_method": "verb", "status": "code", "duration_ms": "took"},
			line: `{"ts": 1633841736123, "verb": "PUT", "url": "/v", "code": "204", "took": 7.5}`,
			want: got{Time: ts, Method: "PUT", Target: "/v", Status: 204, Duration: 7500}},
		{name: "json missing status", format: "json",
			line:    `{"time_iso8601":"2021-10-10T13:55:36+09:00","request":"GET / HTTP/1.1"}`,
			wantErr: "no status field (keys status)"},
		{name: "json not json", format: "json", line: `hello`, wantErr: "bad JSON at column 1: not an object"},
		{name: "json bad status", format: "json",
			line:    `{"time_iso8601":"2021-10-10T13:55:36+09:00","request":"GET / HTTP/1.1","status":"2x0"}`,
			wantErr: `bad status "2x0"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.format, Options{JSONFields: tc.json})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			p := f.NewParser()
			var out Fields
			// Twice: the second parse goes through the time cache.
			for range 2 {
				ok := p.Parse([]byte(tc.line), &out)
				if tc.wantErr != "" {
					if ok {
						t.Fatalf("parsed %+v, want error %q", view(out), tc.wantErr)
					}
					if got := p.Err().Error(); got != tc.wantErr {
						t.Fatalf("error %q, want %q", got, tc.wantErr)
					}
					continue
				}
				if !ok {
					t.Fatalf("parse: %v", p.Err())
				}
				if got := view(out); got != tc.want {
					t.Fatalf("got  %+v\nwant %+v", got, tc.want)
				}
				if p.Err() != nil {
					t.Fatalf("Err after success: %v", p.Err())
				}
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, format, want string
	}{
		{"unknown word", "fancy", `unknown format "fancy": not a preset (media-nginx, media-apache, combined, common, json), and no $variable or %directive in it`},
		{"empty", "  ", "empty format"},
		{"both syntaxes", `$remote_addr %h`, "format has both $variables and %directives: start it with nginx: or apache: to say which"},
		{"nginx dollar alone", `nginx:$status $ [$time_local] "$request"`, "position 9: $ without a variable name (write $$ as a literal? nginx has no escape for $)"},
		{"nginx open brace", `$status [$time_local] "$request" ${http_referer`, "position 34: ${ without a closing }"},
		{"nginx bad brace name", `$status [$time_local] "$request" ${a-b}`, `position 34: ${a-b}: '-' is not allowed in a variable name`},
		{"nginx adjacent", `$remote_addr$status [$time_local] "$request"`, "position 13: $status follows $remote_addr with nothing between them, so they cannot be told apart"},
		{"nginx no status", `$remote_addr [$time_local] "$request"`, "format has no the status ($status, %s, %>s)"},
		{"nginx nothing", `$remote_addr`, "format has no a time ($time_local, $time_iso8601, $msec, %t), no the status ($status, %s, %>s), no the request ($request, $request_uri, %r, %U)"},
		{"apache unknown directive", `%h %t "%r" %s %Q`, "position 15: %Q: unknown directive"},
		{"apache header without name", `%h %t "%r" %s %i`, "position 15: %i: needs a header name: %{Referer}i"},
		{"apache open brace", `%h %t "%r" %s %{Referer`, "position 15: %{Referer: %{ without a closing }"},
		{"apache bad T unit", `%h %t "%r" %s %{h}T`, `position 15: %{h}T: unknown unit "h" (use s, ms or us)`},
		{"apache dangling percent", `apache:%h %t "%r" %s %`, "position 15: %: directive without a letter"},
		{"apache adjacent", `apache:%h%u %t "%r" %s`, "position 3: %u follows %h with nothing between them, so they cannot be told apart"},
		{"apache unterminated directive", `LogFormat "%h %t`, "LogFormat: unterminated \" string"},
		{"json unknown var", "json", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.format, Options{})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	_, err := Compile("json", Options{JSONFields: map[string]string{"latency": "took"}})
	if err == nil || !strings.HasPrefix(err.Error(), `json field latency=took: unknown variable "latency"`) {
		t.Fatalf("json mapping error %v", err)
	}
}

func TestPresetsCompile(t *testing.T) {
	for _, p := range Presets() {
		f, err := Compile(p.Name, Options{})
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if f.Name() != p.Name {
			t.Errorf("%s: name %q", p.Name, f.Name())
		}
	}
}

func TestTimes(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
		want string
	}{
		{"29/Feb/2024:23:59:59 -0130", KindTimeLocal, "2024-03-01T01:29:59Z"},
		{"01/Jan/1970:00:00:00 +0000", KindTimeLocal, "1970-01-01T00:00:00Z"},
		{"31/Dec/2099:12:00:00 +1400", KindTimeLocal, "2099-12-30T22:00:00Z"},
		{"2021-10-10T13:55:36Z", KindTimeISO, "2021-10-10T13:55:36Z"},
		{"2021-10-10T13:55:36.250+09:00", KindTimeISO, "2021-10-10T04:55:36Z"},
		{"2021-10-10T13:55:36-0230", KindTimeISO, "2021-10-10T16:25:36Z"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p := (&Format{}).NewParser()
			var f Fields
			if !p.value(tc.kind, []byte(tc.in), &f) {
				t.Fatal("not parsed")
			}
			if got := time.Unix(f.Time, 0).UTC().Format(time.RFC3339); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// BenchmarkParse measures the parser alone over media-nginx lines.
func BenchmarkParse(b *testing.B) {
	f, err := Compile("media-nginx", Options{})
	if err != nil {
		b.Fatal(err)
	}
	var lines [][]byte
	for i := range 1024 {
		lines = append(lines, []byte(`"192.0.2.`+strconv.Itoa(i%250)+`" "-" [10/Oct/2021:13:55:`+strconv.Itoa(10+i%50)+` +0900] "GET /news/article/`+strconv.Itoa(100000+i)+`?utm=x HTTP/1.1" 200 `+strconv.Itoa(1000+i)+` 0.0`+strconv.Itoa(10+i%90)+` "https://www.google.com/" "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"`))
	}
	p := f.NewParser()
	var out Fields
	b.SetBytes(int64(len(lines[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !p.Parse(lines[i%len(lines)], &out) {
			b.Fatal(p.Err())
		}
	}
}
