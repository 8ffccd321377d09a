package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// Names of the static files pages refer to, relative to static/; templates
// write them as {{asset "vendor/htmx-2.0.11.min.js"}}. Bumping a vendored
// version (vendor.sh) renames its file: update it here and in the templates.
const (
	HTMXJS   = "vendor/htmx-2.0.11.min.js"
	UPlotJS  = "vendor/uplot-1.6.32.min.js"
	UPlotCSS = "vendor/uplot-1.6.32.min.css"
	AppJS    = "js/app.js"
	ChartJS  = "js/chart.js"
)

// staticPrefix is the URL path under which Assets serves files; the server
// mounts Assets at "GET /static/".
const staticPrefix = "/static/"

// Assets serves the embedded static files at checksummed URLs,
// /static/<hash>/<name>, where hash is the first 10 hex digits of the file's
// SHA-256. A URL with the current hash is cacheable forever; a URL with a
// stale or malformed hash for a file that exists redirects (302) to the
// current URL, so a page cached from before an upgrade still loads; a name
// that is not a file under static/ is 404. Assets is safe for concurrent use.
type Assets struct {
	fsys  fs.FS
	files map[string]assetFile // by name relative to static/
}

type assetFile struct {
	hash string // first 10 hex digits of the SHA-256
	etag string // quoted full SHA-256
}

// NewAssets hashes every embedded static file once.
func NewAssets() (*Assets, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	return newAssets(sub)
}

func newAssets(fsys fs.FS) (*Assets, error) {
	a := &Assets{fsys: fsys, files: make(map[string]assetFile)}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := fsys.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("hash static file %s: %w", name, err)
		}
		sum := hex.EncodeToString(h.Sum(nil))
		a.files[name] = assetFile{hash: sum[:10], etag: `"` + sum + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	return a, nil
}

// Path returns the checksummed URL path of the static file name, given
// relative to static/. It panics if there is no such file: names come from
// templates and code, which are checked when the server starts.
func (a *Assets) Path(name string) string {
	f, ok := a.files[name]
	if !ok {
		panic(fmt.Sprintf("ui: unknown static asset %q", name))
	}
	return staticPrefix + f.hash + "/" + name
}

// ServeHTTP serves GET and HEAD requests for /static/<hash>/<name>; see Assets.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, staticPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	hash, name, ok := strings.Cut(rest, "/")
	// fs.ValidPath rejects "..", ".", empty elements and leading or trailing
	// slashes; the map holds only files, so directories are never listed.
	f, known := a.files[name]
	if !ok || !fs.ValidPath(name) || !known {
		http.NotFound(w, r)
		return
	}
	if hash != f.hash {
		w.Header().Set("Cache-Control", "no-cache")
		http.Redirect(w, r, staticPrefix+f.hash+"/"+name, http.StatusFound)
		return
	}
	file, err := a.fsys.Open(name)
	if err != nil {
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	defer file.Close()
	content, ok := file.(io.ReadSeeker)
	if !ok {
		// embed.FS files are seekable; this is only for other file systems.
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType(name))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	// ServeContent answers HEAD, Range and If-None-Match (304).
	http.ServeContent(w, r, name, time.Time{}, content)
}

// contentType is fixed here rather than left to mime.TypeByExtension, which
// also reads the host's MIME database and so varies between machines.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".webp":
		return "image/webp"
	case ".woff2":
		return "font/woff2"
	case ".txt", ".license", ".sum":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
