package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/testkit"
)

// demoPart is a part for testing the command plumbing: it records starts
// and serves one API route.
type demoPart struct {
	name    string
	mu      sync.Mutex // guards started
	started bool
}

type demoConfig struct {
	Greeting string `yaml:"greeting"`
}

func (c *demoConfig) Validate() error {
	var errs config.Errors
	if c.Greeting == "" {
		errs.Add("greeting", "required")
	}
	return errs.Err()
}

func (d *demoPart) Name() string { return d.name }
func (d *demoPart) Start(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.started = true
	return nil
}
func (d *demoPart) Stop(context.Context) error { return nil }
func (d *demoPart) Mount(m *httpapi.Mux) {
	m.API("GET /api/"+d.name+"/hello", httpapi.Viewer, func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.JSON(w, http.StatusOK, map[string]string{"part": d.name})
	})
}
func (d *demoPart) isStarted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.started
}

func demo(name string, comp *demoPart) component.Part {
	return component.Part{
		Name: name, Summary: "a demo part", Example: name + ":\n  greeting: hi\n",
		NewConfig: func() component.Config { return &demoConfig{} },
		New: func(_ component.Deps, c component.Config) (component.Component, error) {
			return comp, nil
		},
	}
}

// TestRunAlone: `dandan alpha` runs only alpha, even when the config
// enables beta too, and stops cleanly when its context ends.
func TestRunAlone(t *testing.T) {
	alpha, beta := &demoPart{name: "alpha"}, &demoPart{name: "beta"}
	app := New([]component.Part{demo("alpha", alpha), demo("beta", beta)}, &bytes.Buffer{}, &bytes.Buffer{})
	dir := t.TempDir()
	addr := testkit.FreeAddr(t)
	cfgPath := filepath.Join(dir, "dandan.yaml")
	if err := writeFile(cfgPath, "data_dir: "+filepath.Join(dir, "data")+"\nserver: {listen: "+addr+"}\nauth: {loopback_role: viewer}\n"+
		"alpha: {greeting: hello}\nbeta: {greeting: hi}\n"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- app.Run(ctx, []string{"alpha", "--config", cfgPath}) }()
	testkit.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get("http://" + addr + "/api/alpha/hello")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	if !alpha.isStarted() || beta.isStarted() {
		t.Errorf("alpha started %v, beta started %v; want only alpha", alpha.isStarted(), beta.isStarted())
	}
	resp, err := http.Get("http://" + addr + "/api/beta/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("beta's route answered %d, want 404", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop")
	}

	// Without its section the part cannot run alone.
	var errOut bytes.Buffer
	app = New([]component.Part{demo("alpha", alpha)}, &bytes.Buffer{}, &errOut)
	if err := writeFile(cfgPath, "server: {listen: "+addr+"}\n"); err != nil {
		t.Fatal(err)
	}
	if code := app.Run(context.Background(), []string{"alpha", "--config", cfgPath}); code != 2 || !strings.Contains(errOut.String(), "has no alpha section") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
}
