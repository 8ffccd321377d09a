package testkit

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the starters.
const (
	startTimeout = 30 * time.Second // until a server answers
	stopTimeout  = 10 * time.Second // from the stop signal to SIGKILL
)

// FreeAddr returns "127.0.0.1:PORT" for a TCP port that is free now. Another
// process can take the port before the caller binds it; the starters of this
// package retry with a new port when that happens.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	return addr
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", err
	}
	return addr, nil
}

// lookPath finds the program name in PATH and then in dirs, or fails the test
// naming the Debian package that holds it.
func lookPath(t testing.TB, name, pkg string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s not found in PATH: install the Debian package %s (apt-get install -y %s)", name, pkg, pkg)
	return ""
}

// process is a server started by start: its own process group, its output in
// a log file, stopped by stop or by the test's cleanup.
type process struct {
	name    string         // program name, for messages
	log     string         // file with its stdout and stderr
	pid     int            // also the process group id
	stopSig syscall.Signal // asks it to shut down
	done    chan struct{}  // closed when it has exited
	err     error          // how it exited; read after done is closed
	once    sync.Once      // guards the stop
}

// procOpts says how to start a process.
type procOpts struct {
	dir     string              // working directory
	log     string              // log file, appended to
	env     []string            // added to the environment
	stopSig syscall.Signal      // SIGTERM when zero
	cred    *syscall.Credential // run as this user when set
}

// start starts path with args and registers its stop with t.Cleanup.
func start(t testing.TB, o procOpts, path string, args ...string) (*process, error) {
	t.Helper()
	logf, err := os.OpenFile(o.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(path, args...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: o.cred,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	p := &process{
		name:    filepath.Base(path),
		log:     o.log,
		pid:     cmd.Process.Pid,
		stopSig: o.stopSig,
		done:    make(chan struct{}),
	}
	if p.stopSig == 0 {
		p.stopSig = syscall.SIGTERM
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p, nil
}

// exited returns nil while the process runs and an error saying how it ended
// afterwards.
func (p *process) exited() error {
	select {
	case <-p.done:
		if p.err == nil {
			return fmt.Errorf("%s exited", p.name)
		}
		return fmt.Errorf("%s exited: %w", p.name, p.err)
	default:
		return nil
	}
}

// stop sends the stop signal to the process, kills its group after
// stopTimeout, waits for the exit and kills what is left of the group. It is
// safe to call more than once.
func (p *process) stop() {
	p.once.Do(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(p.pid, p.stopSig)
			timer := time.NewTimer(stopTimeout)
			select {
			case <-p.done:
			case <-timer.C:
				_ = syscall.Kill(-p.pid, syscall.SIGKILL)
				<-p.done
			}
			timer.Stop()
		}
		// Children that outlived the leader still hold the group id.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	})
}

// tailBytes is how much of a log a failure message shows.
const tailBytes = 4 << 10

// tail returns the end of the file at path for a failure message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > tailBytes {
		b = b[len(b)-tailBytes:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return fmt.Sprintf("(%s is empty)", path)
	}
	return fmt.Sprintf("--- %s ---\n%s\n---", path, s)
}

// dialable returns nil once addr accepts TCP connections.
func dialable(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// waitReady polls ready until it returns nil, giving up when p exits.
func waitReady(p *process, ready func() error) error {
	return poll(startTimeout, func() error {
		if err := p.exited(); err != nil {
			return giveUp(err)
		}
		return ready()
	})
}

// addrInUse reports whether the log at path says a port was taken.
func addrInUse(path string) bool {
	b, _ := os.ReadFile(path)
	return bytes.Contains(bytes.ToLower(b), []byte("address already in use"))
}

// startAttempts is how often a starter tries a new port when its port was
// taken between FreeAddr and the bind.
const startAttempts = 3

// ownsPidFile returns nil once the pid file at path holds pid: servers
// write it after binding their ports, so it tells our server from another
// one on the same port.
func ownsPidFile(path string, pid int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		return fmt.Errorf("pid file %s holds %q, not %d", path, b, pid)
	}
	return nil
}

// removeFiles removes what a previous start attempt left behind.
func removeFiles(t testing.TB, what string, files ...string) {
	t.Helper()
	for _, f := range files {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			t.Fatalf("%s: %v", what, err)
		}
	}
}
