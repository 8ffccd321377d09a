package testkit

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// build is the dandan binary built once per test process.
var build struct {
	once sync.Once
	path string
	err  error
}

// DandanBinary builds ./cmd/dandan once per test process and returns its path.
func DandanBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			build.err = err
			return
		}
		dir, err := os.MkdirTemp("", "dandan-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "dandan")
		cmd := exec.Command("go", "build", "-o", build.path, "./cmd/dandan")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/dandan: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Dandan is a `dandan up` process started by StartDandan.
type Dandan struct {
	URL    string // http://127.0.0.1:PORT
	Dir    string // working and data directory
	Config string // the config file
	Log    string // its stdout and stderr
	proc   *process
	env    []string
}

// DandanConfig are the fields a StartDandan config template may use.
type DandanConfig struct {
	Listen  string // 127.0.0.1:PORT
	DataDir string
}

// StartDandan writes conf (a text/template over DandanConfig; it should set
// server.listen to {{.Listen}} and data_dir to {{.DataDir}}) and runs
// `dandan up` with it until every component has started. Stopped with SIGTERM in Cleanup.
func StartDandan(t testing.TB, conf string, env ...string) *Dandan {
	t.Helper()
	bin := DandanBinary(t)
	dir := t.TempDir()
	tmpl, err := template.New("dandan.yaml").Option("missingkey=error").Parse(conf)
	if err != nil {
		t.Fatalf("dandan config template: %v", err)
	}
	for attempt := 1; ; attempt++ {
		d := &Dandan{Dir: dir, Config: filepath.Join(dir, "dandan.yaml"), Log: filepath.Join(dir, "dandan.log"), env: env}
		v := DandanConfig{Listen: FreeAddr(t), DataDir: filepath.Join(dir, "data")}
		var b strings.Builder
		if err := tmpl.Execute(&b, v); err != nil {
			t.Fatalf("dandan config template: %v", err)
		}
		if err := os.WriteFile(d.Config, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		d.URL = "http://" + v.Listen
		d.proc, err = start(t, procOpts{dir: dir, log: d.Log, env: env, stopSig: syscall.SIGTERM}, bin, "up", "--config", d.Config)
		if err != nil {
			t.Fatal(err)
		}
		err = d.waitReady()
		if err == nil {
			return d
		}
		d.proc.stop()
		if attempt < startAttempts && addrInUse(d.Log) {
			continue
		}
		t.Fatalf("dandan up did not start: %v\n%s", err, tail(d.Log))
	}
}

// waitReady waits until every component has started.
func (d *Dandan) waitReady() error {
	return waitReady(d.proc, func() error {
		resp, err := http.Get(d.URL + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz: %s", resp.Status)
		}
		// Every route but health answers 503 until all components
		// have started; any other answer means the server is open.
		resp, err = http.Get(d.URL + "/api/whoami")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			return fmt.Errorf("dandan is starting")
		}
		return nil
	})
}

// Restart stops dandan with SIGTERM and starts it again with the same
// config, address and data, returning once it serves again.
func (d *Dandan) Restart(t testing.TB) {
	t.Helper()
	d.proc.stop()
	var err error
	d.proc, err = start(t, procOpts{dir: d.Dir, log: d.Log, env: d.env, stopSig: syscall.SIGTERM}, DandanBinary(t), "up", "--config", d.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.waitReady(); err != nil {
		t.Fatalf("dandan up did not start again: %v\n%s", err, tail(d.Log))
	}
}

// Signal sends sig to the dandan process.
func (d *Dandan) Signal(sig syscall.Signal) error { return syscall.Kill(d.proc.pid, sig) }

// Wait waits up to timeout for the process to exit and returns its exit
// code, or -1 when it is still running.
func (d *Dandan) Wait(timeout time.Duration) int {
	select {
	case <-d.proc.done:
		if ee, ok := d.proc.err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if d.proc.err != nil {
			return -1
		}
		return 0
	case <-time.After(timeout):
		return -1
	}
}

// Output returns what the process has printed so far.
func (d *Dandan) Output() string {
	b, _ := os.ReadFile(d.Log)
	return string(b)
}
