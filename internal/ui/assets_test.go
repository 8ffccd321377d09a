package ui

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// TestVendorSum checks that static/vendor holds exactly the files listed in
// vendor.sum, with those hashes: nobody edited a vendored file by hand, and
// vendor.sh was run after every version change.
func TestVendorSum(t *testing.T) {
	sum, err := fs.ReadFile(staticFS, "static/vendor/vendor.sum")
	if err != nil {
		t.Fatal(err)
	}
	listed := make(map[string]bool)
	sc := bufio.NewScanner(strings.NewReader(string(sum)))
	for line := 1; sc.Scan(); line++ {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(want) != 64 || name == "" {
			t.Fatalf("vendor.sum:%d: not in sha256sum format: %q", line, sc.Text())
		}
		listed[name] = true
		data, err := fs.ReadFile(staticFS, "static/vendor/"+name)
		if err != nil {
			t.Errorf("vendor.sum:%d: %v", line, err)
			continue
		}
		h := sha256.Sum256(data)
		if got := hex.EncodeToString(h[:]); got != want {
			t.Errorf("vendor.sum:%d: %s has sha256 %s, want %s; run go generate ./internal/ui", line, name, got, want)
		}
	}
	entries, err := fs.ReadDir(staticFS, "static/vendor")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "vendor.sum" && !listed[e.Name()] {
			t.Errorf("static/vendor/%s is not listed in vendor.sum", e.Name())
		}
	}
	for _, name := range []string{HTMXJS, UPlotJS, UPlotCSS} {
		if !listed[path.Base(name)] {
			t.Errorf("%s is not listed in vendor.sum", name)
		}
	}
	for _, name := range []string{"htmx.LICENSE", "uplot.LICENSE"} {
		if !listed[name] {
			t.Errorf("%s is not listed in vendor.sum", name)
		}
	}
}

func newTestAssets(t *testing.T) *Assets {
	t.Helper()
	a, err := NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAssetsServe(t *testing.T) {
	a := newTestAssets(t)
	tests := []struct {
		name        string
		contentType string
	}{
		{HTMXJS, "text/javascript; charset=utf-8"},
		{UPlotJS, "text/javascript; charset=utf-8"},
		{UPlotCSS, "text/css; charset=utf-8"},
		{AppJS, "text/javascript; charset=utf-8"},
		{ChartJS, "text/javascript; charset=utf-8"},
		{"vendor/htmx.LICENSE", "text/plain; charset=utf-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := fs.ReadFile(staticFS, "static/"+tc.name)
			if err != nil {
				t.Fatal(err)
			}
			p := a.Path(tc.name)
			sum := sha256.Sum256(want)
			if wantPath := "/static/" + hex.EncodeToString(sum[:])[:10] + "/" + tc.name; p != wantPath {
				t.Fatalf("Path(%q) = %q, want %q", tc.name, p, wantPath)
			}
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				rec := httptest.NewRecorder()
				a.ServeHTTP(rec, httptest.NewRequest(method, p, nil))
				res := rec.Result()
				if res.StatusCode != http.StatusOK {
					t.Fatalf("%s %s: status %d, want 200", method, p, res.StatusCode)
				}
				if got := res.Header.Get("Content-Type"); got != tc.contentType {
					t.Errorf("%s %s: Content-Type %q, want %q", method, p, got, tc.contentType)
				}
				if got, want := res.Header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
					t.Errorf("%s %s: Cache-Control %q, want %q", method, p, got, want)
				}
				if got := res.Header.Get("Content-Length"); got != fmt.Sprint(len(want)) {
					t.Errorf("%s %s: Content-Length %q, want %d", method, p, got, len(want))
				}
				body := rec.Body.String()
				if method == http.MethodHead {
					if body != "" {
						t.Errorf("HEAD %s: got a body of %d bytes", p, len(body))
					}
				} else if body != string(want) {
					t.Errorf("GET %s: body differs from static/%s", p, tc.name)
				}
			}

			// A revalidation with the ETag is answered 304.
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
			etag := rec.Result().Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			req := httptest.NewRequest(http.MethodGet, p, nil)
			req.Header.Set("If-None-Match", etag)
			rec = httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match %s: status %d, want 304", p, etag, rec.Code)
			}
		})
	}
}

func TestAssetsNotServed(t *testing.T) {
	a := newTestAssets(t)
	cur := a.Path(AppJS)
	hash := strings.Split(cur, "/")[2]
	tests := []struct {
		name     string
		method   string
		path     string
		status   int
		location string // for redirects
	}{
		{"stale hash redirects", "GET", "/static/0123456789/js/app.js", http.StatusFound, cur},
		{"stale hash HEAD redirects", "HEAD", "/static/0123456789/js/app.js", http.StatusFound, cur},
		{"no hash", "GET", "/static/js/app.js", http.StatusNotFound, ""},
		{"empty hash", "GET", "/static//js/app.js", http.StatusFound, cur},
		{"unknown file", "GET", "/static/" + hash + "/js/nope.js", http.StatusNotFound, ""},
		{"unknown file, other hash", "GET", "/static/0123456789/js/nope.js", http.StatusNotFound, ""},
		{"directory", "GET", "/static/" + hash + "/js", http.StatusNotFound, ""},
		{"directory slash", "GET", "/static/" + hash + "/js/", http.StatusNotFound, ""},
		{"root", "GET", "/static/", http.StatusNotFound, ""},
		{"hash only", "GET", "/static/" + hash + "/", http.StatusNotFound, ""},
		{"dot", "GET", "/static/" + hash + "/./js/app.js", http.StatusNotFound, ""},
		{"dotdot inside", "GET", "/static/" + hash + "/vendor/../js/app.js", http.StatusNotFound, ""},
		{"dotdot out", "GET", "/static/" + hash + "/../assets.go", http.StatusNotFound, ""},
		{"dotdot encoded", "GET", "/static/" + hash + "/%2e%2e/%2e%2e/go.mod", http.StatusNotFound, ""},
		{"dotdot as hash", "GET", "/static/../static/" + hash + "/js/app.js", http.StatusNotFound, ""},
		{"double slash", "GET", "/static/" + hash + "//js/app.js", http.StatusNotFound, ""},
		{"backslash", "GET", "/static/" + hash + "/js\\app.js", http.StatusNotFound, ""},
		{"other prefix", "GET", "/js/app.js", http.StatusNotFound, ""},
		{"post", "POST", cur, http.StatusMethodNotAllowed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			}
			if got := rec.Header().Get("Location"); got != tc.location {
				t.Errorf("%s %s: Location %q, want %q", tc.method, tc.path, got, tc.location)
			}
			if cc := rec.Header().Get("Cache-Control"); strings.Contains(cc, "immutable") {
				t.Errorf("%s %s: status %d with Cache-Control %q", tc.method, tc.path, rec.Code, cc)
			}
		})
	}
}

func TestAssetsPathUnknown(t *testing.T) {
	a := newTestAssets(t)
	for _, name := range []string{"js/nope.js", "", "js", "/js/app.js", "static/js/app.js"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Path(%q) did not panic", name)
				}
			}()
			a.Path(name)
		}()
	}
}

// TestAssetsHashChange checks that a changed file gets a new URL and that the
// old URL redirects to it.
func TestAssetsHashChange(t *testing.T) {
	fsys := fstest.MapFS{"js/app.js": {Data: []byte("v1")}}
	old, err := newAssets(fsys)
	if err != nil {
		t.Fatal(err)
	}
	fsys["js/app.js"] = &fstest.MapFile{Data: []byte("v2")}
	cur, err := newAssets(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if old.Path("js/app.js") == cur.Path("js/app.js") {
		t.Fatalf("Path did not change with the content: %s", cur.Path("js/app.js"))
	}
	rec := httptest.NewRecorder()
	cur.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, old.Path("js/app.js"), nil))
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != cur.Path("js/app.js") {
		t.Fatalf("old URL: status %d Location %q, want 302 to %s", rec.Code, rec.Header().Get("Location"), cur.Path("js/app.js"))
	}
	rec = httptest.NewRecorder()
	cur.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, cur.Path("js/app.js"), nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "v2" {
		t.Fatalf("new URL: status %d body %q, want 200 v2", rec.Code, rec.Body.String())
	}
}

// A template refers to a static file through the "asset" function; the
// URL's hash segment changes with the file's content.
func ExampleAssets_Path() {
	a, err := NewAssets()
	if err != nil {
		panic(err)
	}
	t := template.Must(template.New("head").Funcs(template.FuncMap{"asset": a.Path}).
		Parse(`<script defer src="{{asset "vendor/htmx-2.0.11.min.js"}}"></script>`))
	var b strings.Builder
	if err := t.Execute(&b, nil); err != nil {
		panic(err)
	}
	fmt.Println(regexp.MustCompile(`/static/[0-9a-f]{10}/`).ReplaceAllString(b.String(), "/static/HASH/"))
	// Output: <script defer src="/static/HASH/vendor/htmx-2.0.11.min.js"></script>
}
