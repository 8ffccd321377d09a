package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/parts"
	"github.com/dandan-sre/dandan/internal/testkit"
)

const testViewerToken = "reload-test-viewer-token-0123456789"

// reloadConfig is the config of TestReloadOnSIGHUP: boards with a board of
// its own, a boards folder and a rule file, in dir. extra is added to the
// boards section; readTimeout is server.read_timeout.
func reloadConfig(dir, level, readTimeout, extra string) string {
	return `data_dir: {{.DataDir}}
log: {level: ` + level + `}
server:
  listen: {{.Listen}}
  read_timeout: ` + readTimeout + `
auth:
  tokens:
    - {name: root, role: admin, token: "${ADMIN_TOKEN}"}
    - {name: wall, role: viewer, token: "${VIEWER_TOKEN}"}
boards:
  folder: ` + filepath.Join(dir, "boards") + `
  alerting:
    rule_files: [` + filepath.Join(dir, "rules.yml") + `]
    interval: 1s
  boards:
    - name: edge
      panels: [{title: Up, kind: stat, queries: [{expr: 'sum(up)'}]}]
` + extra
}

const extraBoard = `    - name: extra
      panels: [{title: Up, kind: stat, queries: [{expr: 'count(up)'}]}]
`

func ruleFile(alert string) string {
	return "groups:\n  - name: reload\n    rules:\n      - alert: " + alert + "\n        expr: vector(1) > 2\n"
}

// call sends a request with token and returns the status and body.
func call(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type reloadEvent struct {
	Severity string `json:"severity"`
	Text     string `json:"text"`
}

// reloadEvents returns dandan's reload events, oldest first.
func reloadEvents(t *testing.T, d *testkit.Dandan) []reloadEvent {
	t.Helper()
	code, body := call(t, "GET", d.URL+"/api/events?part=dandan&kind=reload", testAdminToken)
	if code != http.StatusOK {
		t.Fatalf("events: %d %s", code, body)
	}
	var out struct{ Events []reloadEvent }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	return out.Events
}

// waitReload waits for the n-th reload event and returns it.
func waitReload(t *testing.T, d *testkit.Dandan, n int) reloadEvent {
	t.Helper()
	var evs []reloadEvent
	testkit.Eventually(t, 10*time.Second, func() error {
		if evs = reloadEvents(t, d); len(evs) < n {
			return fmt.Errorf("%d reload events, want %d", len(evs), n)
		}
		return nil
	})
	if len(evs) != n {
		t.Fatalf("%d reload events, want %d: %+v", len(evs), n, evs)
	}
	return evs[n-1]
}

func ruleNames(t *testing.T, d *testkit.Dandan) []string {
	t.Helper()
	code, body := call(t, "GET", d.URL+"/api/alerts/rules", testAdminToken)
	if code != http.StatusOK {
		t.Fatalf("rules: %d %s", code, body)
	}
	var out struct {
		Groups []struct{ Rules []struct{ Name string } }
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range out.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Name)
		}
	}
	return names
}

func writeConfig(t *testing.T, d *testkit.Dandan, text string) {
	t.Helper()
	text = strings.NewReplacer("{{.DataDir}}", filepath.Join(d.Dir, "data"), "{{.Listen}}", strings.TrimPrefix(d.URL, "http://")).Replace(text)
	if err := os.WriteFile(d.Config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloadOnSIGHUP runs a real `dandan up` and changes its config, its
// boards folder and its rule file: SIGHUP applies the boards section (a
// new board, the folder's board, the new rules) and log.level, names the
// server change as needing a restart, and records it; a broken config or
// rule file changes nothing and is recorded as an error naming the file
// and line. POST /api/config/reload does the same for admins only.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(ruleFile("First")), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"ADMIN_TOKEN=" + testAdminToken, "VIEWER_TOKEN=" + testViewerToken}
	d := testkit.StartDandan(t, reloadConfig(dir, "info", "60s", ""), env...)
	if code, body := call(t, "GET", d.URL+"/api/boards/edge", testAdminToken); code != http.StatusOK {
		t.Fatalf("edge: %d %s", code, body)
	}
	if got := ruleNames(t, d); !slices.Equal(got, []string{"First"}) {
		t.Fatalf("rules at start: %v", got)
	}

	// A new board in the config, one in the folder, a new rule file,
	// log.level, and a change that needs a restart.
	if err := os.WriteFile(rules, []byte(ruleFile("Second")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "boards"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "boards", "shelf.yaml"), []byte("name: shelf\npanels: [{title: Up, kind: stat, queries: [{expr: 'max(up)'}]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, d, reloadConfig(dir, "warn", "30s", extraBoard))
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	ev := waitReload(t, d, 1)
	if want := "config reloaded: log.level, boards; needs a restart: server.read_timeout"; ev.Severity != "warning" || ev.Text != want {
		t.Errorf("reload event %+v, want a warning %q", ev, want)
	}
	for _, name := range []string{"edge", "extra", "shelf"} {
		if code, body := call(t, "GET", d.URL+"/api/boards/"+name, testAdminToken); code != http.StatusOK {
			t.Errorf("board %s after the reload: %d %s", name, code, body)
		}
	}
	if code, _ := call(t, "GET", d.URL+"/boards/extra", testAdminToken); code != http.StatusOK {
		t.Errorf("/boards/extra: %d", code)
	}
	if got := ruleNames(t, d); !slices.Equal(got, []string{"Second"}) {
		t.Errorf("rules after the reload: %v, want [Second]", got)
	}

	// A broken config changes nothing.
	writeConfig(t, d, reloadConfig(dir, "warn", "30s", extraBoard+"  refresh: 1s\n"))
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	ev = waitReload(t, d, 2)
	if want := "config not reloaded: " + d.Config + ":20:12: boards.refresh: at least 2s"; ev.Severity != "critical" || ev.Text != want {
		t.Errorf("reload event %+v, want a critical %q", ev, want)
	}
	if code, _ := call(t, "GET", d.URL+"/api/boards/extra", testAdminToken); code != http.StatusOK {
		t.Errorf("board extra after a broken config: %d", code)
	}

	// So does a broken rule file; the rules in force stay.
	writeConfig(t, d, reloadConfig(dir, "warn", "30s", extraBoard))
	if err := os.WriteFile(rules, []byte("groups:\n  - name: reload\n    rules:\n      - alert: Third\n        expr: vector(1) >\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	ev = waitReload(t, d, 3)
	if prefix := "config not reloaded: " + d.Config + ":13:18: boards.alerting.rule_files[0]: " + rules + ":5:"; ev.Severity != "critical" || !strings.HasPrefix(ev.Text, prefix) {
		t.Errorf("reload event %+v, want a critical one starting %q", ev, prefix)
	}
	if got := ruleNames(t, d); !slices.Equal(got, []string{"Second"}) {
		t.Errorf("rules after a broken rule file: %v, want [Second]", got)
	}

	// The route: admins only; 400 with the problem; then the config as
	// it runs: no changes.
	if code, body := call(t, "POST", d.URL+"/api/config/reload", testViewerToken); code != http.StatusForbidden {
		t.Errorf("reload as a viewer: %d %s", code, body)
	}
	code, body := call(t, "POST", d.URL+"/api/config/reload", testAdminToken)
	if code != http.StatusBadRequest || !strings.Contains(body, rules+":5:") {
		t.Errorf("reload with a broken rule file: %d %s", code, body)
	}
	if err := os.WriteFile(rules, []byte(ruleFile("Second")), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, d, reloadConfig(dir, "warn", "60s", extraBoard))
	code, body = call(t, "POST", d.URL+"/api/config/reload", testAdminToken)
	if want := `{"reloaded":[],"restart":[],"failed":[],"text":"config reloaded: no changes"}`; code != http.StatusOK || strings.TrimSpace(body) != want {
		t.Errorf("reload of the config in force: %d %s, want %s", code, body, want)
	}
	if ev := waitReload(t, d, 5); ev.Severity != "info" || ev.Text != "config reloaded: no changes" {
		t.Errorf("reload event %+v", ev)
	}
}

// reloadPart is a part that takes its new section while running.
type reloadPart struct {
	demoPart
	mu       sync.Mutex // guards greeting
	greeting string
}

func (p *reloadPart) Reload(_ context.Context, c component.Config) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.greeting = c.(*demoConfig).Greeting
	return nil, nil
}

func (p *reloadPart) current() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.greeting
}

var _ component.Reloader = (*reloadPart)(nil)

// TestReloadAlone: `dandan alpha` reloads alpha's section; the sections of
// parts it does not run are no changes, and one of a running part without
// Reload needs a restart.
func TestReloadAlone(t *testing.T) {
	alpha, beta := &reloadPart{demoPart: demoPart{name: "alpha"}}, &demoPart{name: "beta"}
	parts := []component.Part{demo("alpha", &alpha.demoPart), demo("beta", beta)}
	parts[0].New = func(_ component.Deps, c component.Config) (component.Component, error) {
		alpha.greeting = c.(*demoConfig).Greeting
		return alpha, nil
	}
	app := New(parts, &bytes.Buffer{}, &bytes.Buffer{})
	dir := t.TempDir()
	addr := testkit.FreeAddr(t)
	cfgPath := filepath.Join(dir, "dandan.yaml")
	head := "data_dir: " + filepath.Join(dir, "data") + "\nserver: {listen: " + addr + "}\nauth: {loopback_role: admin}\n"
	if err := writeFile(cfgPath, head+"alpha: {greeting: hello}\nbeta: {greeting: hi}\n"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- app.Run(ctx, []string{"alpha", "--config", cfgPath}) }()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d", code)
			}
		case <-time.After(15 * time.Second):
			t.Error("did not stop")
		}
	}()
	reload := func() (int, reloadResult) {
		var res reloadResult
		var code int
		testkit.Eventually(t, 10*time.Second, func() error {
			resp, err := http.Post("http://"+addr+"/api/config/reload", "", nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				return errors.New("not up yet")
			}
			code = resp.StatusCode
			return json.NewDecoder(resp.Body).Decode(&res)
		})
		return code, res
	}

	cases := []struct {
		name, conf string
		code       int
		want       reloadResult
		greeting   string
	}{
		{"unchanged", "alpha: {greeting: hello}\nbeta: {greeting: hi}\n", 200,
			reloadResult{Reloaded: []string{}, Restart: []string{}, Failed: []string{}, Text: "config reloaded: no changes"}, "hello"},
		{"other part", "alpha: {greeting: hello}\nbeta: {greeting: hey}\n", 200,
			reloadResult{Reloaded: []string{}, Restart: []string{}, Failed: []string{}, Text: "config reloaded: no changes"}, "hello"},
		{"reloaded", "alpha: {greeting: bonjour}\n", 200,
			reloadResult{Reloaded: []string{"alpha"}, Restart: []string{}, Failed: []string{}, Text: "config reloaded: alpha"}, "bonjour"},
		{"restart", "alpha: {greeting: bonjour}\nlog: {format: json}\n", 200,
			reloadResult{Reloaded: []string{}, Restart: []string{"log.format"}, Failed: []string{}, Text: "config reloaded: no changes applied; needs a restart: log.format"}, "bonjour"},
		{"invalid", "alpha: {greeting: \"\"}\n", 400, reloadResult{}, "bonjour"},
		{"no section", "beta: {greeting: hi}\n", 400, reloadResult{}, "bonjour"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := writeFile(cfgPath, head+tc.conf); err != nil {
				t.Fatal(err)
			}
			code, res := reload()
			if code != tc.code {
				t.Fatalf("status %d, want %d", code, tc.code)
			}
			if tc.code == 200 && fmt.Sprint(res) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v, want %+v", res, tc.want)
			}
			if g := alpha.current(); g != tc.greeting {
				t.Errorf("greeting %q, want %q", g, tc.greeting)
			}
		})
	}
}

// TestDiffKeys: the keys named as changed are the leaves of the shared
// sections, by yaml name; the example config read twice has none.
func TestDiffKeys(t *testing.T) {
	app := New(parts.All(), &bytes.Buffer{}, &bytes.Buffer{})
	ex1, err := app.loadAgain("../../examples/dandan.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	ex2, err := app.loadAgain("../../examples/dandan.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if keys := diffKeys("", reflect.ValueOf(*ex1), reflect.ValueOf(*ex2)); len(keys) > 0 {
		t.Errorf("the example read twice differs in %v", keys)
	}
	for name, sec := range ex1.Parts {
		if keys := diffKeys(name, reflect.ValueOf(sec.Config), reflect.ValueOf(ex2.Parts[name].Config)); len(keys) > 0 {
			t.Errorf("the example read twice differs in %v", keys)
		}
	}

	a := config.Default()
	b := config.Default()
	b.Server.TLS.CertFile = "cert.pem"
	b.Auth.Tokens = []config.Token{{Name: "x", Role: "admin", Token: "0123456789abcdef"}}
	b.Log.Level = "debug"
	b.Parts = map[string]config.PartSection{"alpha": {Enabled: true}}
	got := diffKeys("", reflect.ValueOf(a), reflect.ValueOf(b))
	want := []string{"log.level", "server.tls.cert_file", "auth.tokens"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
