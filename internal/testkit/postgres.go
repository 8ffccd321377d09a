package testkit

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Postgres is a PostgreSQL server started by StartPostgres.
type Postgres struct {
	// URL connects to the database dandan as the superuser postgres:
	// postgres://postgres@127.0.0.1:PORT/dandan?sslmode=disable.
	URL string
	// Dir holds the cluster in data/, the Unix socket in sock/ and the
	// server's log in postgres.log.
	Dir string
}

// StartPostgres creates a new database cluster with initdb (trust
// authentication, UTF8, no fsync), starts postgres on a free loopback port,
// creates the database dandan and returns once it accepts queries. The server
// gets a fast shutdown and its directory is removed when the test ends.
//
// Dir is a new directory of os.TempDir, not of t.TempDir, to keep the socket
// path short. PostgreSQL refuses to run as root, so when the test runs as
// root, initdb and postgres run as the system user postgres, which owns Dir.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bins := postgresBins()
	initdb := lookPath(t, "initdb", "postgresql", bins...)
	server := lookPath(t, "postgres", "postgresql", bins...)
	// psql and pg_isready from the server's directory match its version.
	tools := []string{filepath.Dir(server)}
	psql := lookPathIn(t, "psql", "postgresql-client", tools)
	isready := lookPathIn(t, "pg_isready", "postgresql-client", tools)

	cred, err := postgresCredential()
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	dir, err := postgresDir(t, cred)
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	data := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "sock")
	log := filepath.Join(dir, "postgres.log")
	if err := os.Mkdir(sock, 0o700); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	if err := chown(sock, cred); err != nil {
		t.Fatalf("start postgres: %v", err)
	}

	initLog := filepath.Join(dir, "initdb.log")
	if err := run(dir, initLog, cred, initdb,
		"-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions"); err != nil {
		t.Fatalf("start postgres: initdb: %v\n%s", err, tail(initLog))
	}

	for attempt := 1; ; attempt++ {
		addr := FreeAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		if err := os.Remove(log); err != nil && !os.IsNotExist(err) {
			t.Fatalf("start postgres: %v", err)
		}
		p, err := start(t, procOpts{dir: dir, log: log, stopSig: syscall.SIGINT, cred: cred},
			server, "-D", data, "-p", port, "-k", sock,
			"-c", "listen_addresses=127.0.0.1",
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "shared_buffers=16MB",
			"-c", "max_connections=50")
		if err != nil {
			t.Fatalf("start postgres: %v", err)
		}
		err = waitReady(p, func() error {
			return exec.Command(isready, "-q", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres").Run()
		})
		if err != nil {
			p.stop()
			if attempt < startAttempts && addrInUse(log) {
				continue
			}
			t.Fatalf("start postgres in %s: pg_isready: %v\n%s", dir, err, tail(log))
		}
		out, err := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1",
			"-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres",
			"-c", "create database dandan").CombinedOutput()
		if err != nil {
			t.Fatalf("start postgres in %s: create database dandan: %v: %s", dir, err, strings.TrimSpace(string(out)))
		}
		return &Postgres{
			URL: "postgres://postgres@" + addr + "/dandan?sslmode=disable",
			Dir: dir,
		}
	}
}

// postgresBins returns the bin directories of the installed PostgreSQL
// versions, newest first.
func postgresBins() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(version(b), version(a)) })
	return dirs
}

// lookPathIn finds name in dirs first and then in PATH, or fails the test
// naming the Debian package pkg.
func lookPathIn(t testing.TB, name, pkg string, dirs []string) string {
	t.Helper()
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return lookPath(t, name, pkg)
}

// postgresCredential returns nil when the test does not run as root, and
// otherwise the user postgres, which initdb and postgres run as.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the system user postgres of the Debian package postgresql: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uid of user postgres: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid of user postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// postgresDir makes the directory of a server, owned by the user of cred, and
// removes it when the test ends. It is not a t.TempDir: that is private to
// root, and its long path could make the socket path too long.
func postgresDir(t testing.TB, cred *syscall.Credential) (string, error) {
	t.Helper()
	base := os.TempDir()
	if cred != nil && !reachable(base) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "testkit-postgres-")
	if err != nil {
		return "", err
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove postgres directory: %v", err)
		}
	})
	if err := chown(dir, cred); err != nil {
		return "", err
	}
	return dir, nil
}

// reachable reports whether every directory from / to dir can be searched by
// any user.
func reachable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" {
			return true
		}
	}
}

// chown gives path to the user of cred; without cred it does nothing.
func chown(path string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	return os.Chown(path, int(cred.Uid), int(cred.Gid))
}

// run runs path with args in dir as the user of cred, its output in the file
// at log, and returns once it exits.
func run(dir, log string, cred *syscall.Credential, path string, args ...string) error {
	logf, err := os.Create(log)
	if err != nil {
		return err
	}
	defer logf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	return cmd.Run()
}
