package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/testkit"
	"github.com/dandan-sre/dandan/internal/ui"
)

// testServer serves a Reporter's routes; the X-Test-Role header picks
// the caller's role (viewer by default).
type testServer struct {
	*httptest.Server
	r        *Reporter
	out      string
	operator atomic.Bool // callers without X-Test-Role are operators
}

func startReporter(t *testing.T, cfg *Config, now time.Time) *testServer {
	t.Helper()
	f := loadFixture(t)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.loc = kst
	assets, err := ui.NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	u, err := ui.New(assets, ui.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	r, err := New(component.Deps{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		DataDir: filepath.Join(data, "report"), Registerer: prometheus.NewRegistry(), Query: f.svc, Events: f.events, UI: u}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.now = func() time.Time { return now }
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := httpapi.NewMux(httpapi.Options{Pages: u})
	mux.Handle("GET /static/", httpapi.Public, assets)
	r.Mount(mux)
	s := &testServer{r: r, out: r.Out()}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		role := httpapi.Viewer
		if req.Header.Get("X-Test-Role") == "operator" || req.Header.Get("X-Test-Role") == "" && s.operator.Load() {
			role = httpapi.Operator
		}
		mux.ServeHTTP(w, req.WithContext(httpapi.WithIdentity(req.Context(), &httpapi.Identity{Name: "tester", Role: role})))
	}))
	t.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

func (s *testServer) do(t *testing.T, method, path, role string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if role != "" {
		req.Header.Set("X-Test-Role", role)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestPages: the schedule makes up a missed run at start; the page lists
// the files, serves them and refuses every other path; an operator builds
// another week from the page.
func TestPages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds PDFs with Chromium")
	}
	cfg := DefaultConfig()
	cfg.Schedule = "mon 09:00"
	cfg.Jobs = []string{"web"}
	cfg.Keep = 2
	monday := weekTo.Add(10 * time.Hour) // Mon 16 Mar 10:00, after the 09:00 run
	s := startReporter(t, cfg, monday)

	// The missed run of this morning is made at start.
	testkit.Eventually(t, 3*time.Minute, func() error {
		if st := s.r.State(); st.Running || st.Started.IsZero() {
			return fmt.Errorf("catch-up run not done: %+v", st)
		}
		return nil
	})
	if st := s.r.State(); st.Err != "" || st.Reason != "catch-up" || !st.From.Equal(weekFrom) {
		t.Fatalf("catch-up run: %+v", st)
	}
	t.Logf("catch-up run (overall and web, HTML and PDF) took %s", s.r.State().Took.Round(time.Millisecond))
	wantFiles := []string{"weekly-all-2026-03-09.html", "weekly-all-2026-03-09.pdf", "weekly-web-2026-03-09.html", "weekly-web-2026-03-09.pdf"}
	if got := names(t, s.out); !slices.Equal(got, wantFiles) {
		t.Fatalf("files %v, want %v", got, wantFiles)
	}
	evs, err := loadFixture(t).events.List(context.Background(), events.Filter{Part: "report"})
	if err != nil || len(evs) != 1 || evs[0].Link != "/reports/weekly-all-2026-03-09.html" {
		t.Errorf("report events %+v, %v", evs, err)
	}

	// The page, as a viewer: the files, no button.
	resp, body := s.do(t, "GET", "/reports", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /reports: %d\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{`href="/reports/weekly-all-2026-03-09.html"`, `href="/reports/weekly-web-2026-03-09.pdf"`, "All jobs", "Mon 9 Mar – Sun 15 Mar 2026", "every Monday at 09:00"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, `hx-post="/reports/run"`) {
		t.Error("a viewer sees the build button")
	}
	resp, _ = s.do(t, "GET", "/report", "", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reports" {
		t.Errorf("GET /report: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// The files.
	resp, body = s.do(t, "GET", "/reports/weekly-web-2026-03-09.html", "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(body, "<h1>web</h1>") {
		t.Errorf("HTML file: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
	}
	resp, body = s.do(t, "GET", "/reports/weekly-all-2026-03-09.pdf", "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(body, "%PDF-") {
		t.Errorf("PDF file: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// The API.
	resp, body = s.do(t, "GET", "/api/reports", "", nil)
	var list struct{ Files []File }
	if err := json.Unmarshal([]byte(body), &list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/reports: %d %v\n%s", resp.StatusCode, err, body)
	}
	if len(list.Files) != 4 || list.Files[0].Name != "weekly-all-2026-03-09.html" || list.Files[0].Job != "all" ||
		!list.Files[0].From.Equal(weekFrom) || !list.Files[0].To.Equal(weekTo) || list.Files[0].Size == 0 || list.Files[3].Job != "web" {
		t.Errorf("GET /api/reports: %+v", list.Files)
	}

	// Traversal: nothing but report files in the out dir is served.
	secret := filepath.Join(filepath.Dir(s.out), "secret.txt")
	if err := os.WriteFile(secret, []byte("top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.out, "notes.txt"), []byte("top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(s.out, "weekly-evil-2026-03-09.html")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(s.out, "weekly-dir-2026-03-09.html"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/reports/..%2fsecret.txt",
		"/reports/%2e%2e%2fsecret.txt",
		"/reports/..%5csecret.txt",
		"/reports/../secret.txt",
		"/reports/notes.txt",
		"/reports/" + strings.Repeat("..%2f", 8) + "etc%2fpasswd",
		"/reports/weekly-evil-2026-03-09.html", // a symlink out of the dir
		"/reports/weekly-dir-2026-03-09.html",  // a directory
		"/reports/weekly-web-2026-03-09.html%2f..%2f..%2fsecret.txt",
		"/reports/weekly-web-2026-03-09.html.bak",
		"/reports/weekly-web-2026-03-09.htm",
		"/reports/weekly-nothing-2026-03-09.html",
		"/reports/%00weekly-web-2026-03-09.html",
	} {
		t.Run(path, func(t *testing.T) {
			resp, body := s.do(t, "GET", path, "", nil)
			if resp.StatusCode == http.StatusOK || strings.Contains(body, "top secret") {
				t.Errorf("%s: %d\n%s", path, resp.StatusCode, body)
			}
		})
	}

	// Building: operators only.
	form := url.Values{"week": {"2026-03-02"}}
	if resp, _ := s.do(t, "POST", "/reports/run", "", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /reports/run as a viewer: %d, want 403", resp.StatusCode)
	}
	if resp, _ := s.do(t, "POST", "/reports/run", "operator", url.Values{"week": {"2026-03-16"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST /reports/run for a week not ended: %d, want 400", resp.StatusCode)
	}
	resp, body = s.do(t, "POST", "/reports/run", "operator", form)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(body, "building") || !strings.Contains(body, `hx-trigger="every 2s"`) {
		t.Fatalf("POST /reports/run: %d\n%s", resp.StatusCode, body)
	}
	testkit.Eventually(t, 3*time.Minute, func() error {
		if st := s.r.State(); st.Running {
			return fmt.Errorf("page run not done")
		}
		return nil
	})
	if st := s.r.State(); st.Err != "" || st.Reason != "page" || !st.From.Equal(prevFrom) {
		t.Fatalf("page run: %+v", st)
	}
	if got := len(names(t, s.out)); got != 8 {
		t.Errorf("%d report files after the second week, want 8", got)
	}
	_, body = s.do(t, "GET", "/reports", "operator", nil)
	if !strings.Contains(body, "✓ built") || !strings.Contains(body, `hx-post="/reports/run"`) || strings.Index(body, "2026-03-09.html") > strings.Index(body, "2026-03-02.html") {
		t.Errorf("page after the run lacks the state or the button, or is out of order")
	}

	// Screenshots of the page.
	s.operator.Store(true)
	browser := testkit.StartChromium(t)
	for _, dev := range []testkit.Device{testkit.Desktop(), testkit.Phone()} {
		ctx := browser.NewTab(t, 60*time.Second)
		if err := chromedp.Do(ctx, dev.Emulate(), chromedp.Navigate(s.URL+"/reports"), chromedp.WaitVisible(chromedp.CSS(`main table`))); err != nil {
			t.Fatal(err)
		}
		browser.Screenshot(t, ctx, "reports-"+dev.Name)
	}
}

// names returns the report files in dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if fileRE.MatchString(e.Name()) && e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}

// TestNoStore: without the metric store the part starts, and its
// readiness and runs say what to set.
func TestNoStore(t *testing.T) {
	r, err := New(component.Deps{DataDir: filepath.Join(t.TempDir(), "report")}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "store.metrics.enabled") {
		t.Errorf("Ready: %v", err)
	}
	if err := r.Run(context.Background(), weekFrom, weekTo, "test"); err == nil || !strings.Contains(err.Error(), "store.metrics.enabled") {
		t.Errorf("Run: %v", err)
	}
}

// TestRunOneAtATime: a second run waits for none; it is refused.
func TestRunOneAtATime(t *testing.T) {
	r := &Reporter{now: time.Now}
	if err := r.begin(weekFrom, weekTo, "test"); err != nil {
		t.Fatal(err)
	}
	if err := r.begin(weekFrom, weekTo, "test"); err != errRunning {
		t.Fatalf("second run: %v, want errRunning", err)
	}
}
