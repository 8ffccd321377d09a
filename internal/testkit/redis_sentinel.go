package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Sentinel is a master, one replica and one Redis Sentinel monitoring them,
// started by StartRedisSentinel.
type Sentinel struct {
	// MasterName is the name the sentinel monitors the master as.
	MasterName string
	// Addrs are the sentinels' addresses (one).
	Addrs []string
	// Master and Replica are the data servers' addresses as started;
	// Failover swaps their roles.
	Master, Replica string
}

// sentinelMasterName is the master name StartRedisSentinel uses.
const sentinelMasterName = "mymaster"

// StartRedisSentinel starts a master, a replica of it and a sentinel
// (redis-sentinel when installed, else redis-server in sentinel mode)
// monitoring the master with quorum 1, and returns once the replica's link
// is up and the sentinel knows the replica, so that a failover can pick it.
// Args are more config lines for both data servers. Everything is stopped
// when the test ends.
func StartRedisSentinel(t testing.TB, args ...string) *Sentinel {
	t.Helper()
	bin := lookPath(t, "redis-server", "redis-server")
	root := t.TempDir()
	// Both may become the master, and a replica's first sync must not wait
	// out the default 5s diskless-sync delay.
	data := append([]string{"repl-diskless-sync-delay 0"}, args...)
	dir := func(name string) string {
		d := filepath.Join(root, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("start redis sentinel: %v", err)
		}
		return d
	}
	master, err := startRedis(t, bin, dir("master"), data)
	if err != nil {
		t.Fatalf("start redis sentinel: master: %v", err)
	}
	host, port, _ := net.SplitHostPort(master.Addr)
	replica, err := startRedis(t, bin, dir("replica"), append(data, "replicaof "+host+" "+port))
	if err != nil {
		t.Fatalf("start redis sentinel: replica: %v", err)
	}
	sdir := dir("sentinel")
	sbin, err := sentinelBinary(bin, sdir)
	if err != nil {
		t.Fatalf("start redis sentinel: %v", err)
	}
	sentinel, err := startRedis(t, sbin, sdir, []string{
		fmt.Sprintf("sentinel monitor %s %s %s 1", sentinelMasterName, host, port),
		"sentinel down-after-milliseconds " + sentinelMasterName + " 5000",
		"sentinel failover-timeout " + sentinelMasterName + " 10000",
	})
	if err != nil {
		t.Fatalf("start redis sentinel: sentinel: %v", err)
	}
	s := &Sentinel{MasterName: sentinelMasterName, Addrs: []string{sentinel.Addr}, Master: master.Addr, Replica: replica.Addr}
	err = poll(startTimeout, func() error {
		if err := linkUp(replica.Addr); err != nil {
			return err
		}
		return s.knowsReplica(replica.Addr)
	})
	if err != nil {
		t.Fatalf("start redis sentinel in %s: %v\n%s", root, err, tail(filepath.Join(sdir, "redis.log")))
	}
	return s
}

// sentinelBinary returns redis-sentinel from PATH, else a link to
// redis-server named redis-sentinel in dir: redis-server runs as a
// sentinel when its program name says so, as Debian's redis-sentinel does.
func sentinelBinary(server, dir string) (string, error) {
	if p, err := exec.LookPath("redis-sentinel"); err == nil {
		return p, nil
	}
	link := filepath.Join(dir, "redis-sentinel")
	if err := os.Symlink(server, link); err != nil {
		return "", err
	}
	return link, nil
}

// linkUp returns nil once the replica at addr has its master link up.
func linkUp(addr string) error {
	info, err := redisDo(addr, "INFO", "replication")
	if err != nil {
		return err
	}
	if !strings.Contains(info, "master_link_status:up\r\n") {
		return fmt.Errorf("replica %s: master link not up", addr)
	}
	return nil
}

// knowsReplica returns nil once the sentinel lists addr as a replica that
// is neither down nor disconnected and sees its master link up.
func (s *Sentinel) knowsReplica(addr string) error {
	out, err := redisDo(s.Addrs[0], "SENTINEL", "REPLICAS", s.MasterName)
	if err != nil {
		return err
	}
	// The reply is flattened one element a line: name, value, name, ….
	f := strings.Split(out, "\n")
	var name, flags, link string
	check := func() bool {
		return name == addr && flags == "slave" && link == "ok"
	}
	for i := 0; i+1 < len(f); i += 2 {
		switch f[i] {
		case "name":
			if check() {
				return nil
			}
			name, flags, link = f[i+1], "", ""
		case "flags":
			flags = f[i+1]
		case "master-link-status":
			link = f[i+1]
		}
	}
	if check() {
		return nil
	}
	return fmt.Errorf("sentinel %s does not list %s as a healthy replica yet: %q", s.Addrs[0], addr, out)
}

// MasterAddr returns the master's address as the sentinel reports it now.
func (s *Sentinel) MasterAddr(t testing.TB) string {
	t.Helper()
	a, err := s.masterAddr()
	if err != nil {
		t.Fatalf("sentinel master address: %v", err)
	}
	return a
}

func (s *Sentinel) masterAddr() (string, error) {
	out, err := redisDo(s.Addrs[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName)
	if err != nil {
		return "", err
	}
	host, port, ok := strings.Cut(out, "\n")
	if !ok {
		return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME answered %q", out)
	}
	return net.JoinHostPort(host, port), nil
}

// Failover makes the sentinel promote the replica (SENTINEL FAILOVER) and
// returns once the sentinel names it as the master and it says it is one;
// Master and Replica are swapped. The former master is turned into a
// replica by the sentinel some seconds later; Failover does not wait for it.
func (s *Sentinel) Failover(t testing.TB) {
	t.Helper()
	if _, err := redisDo(s.Addrs[0], "SENTINEL", "FAILOVER", s.MasterName); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	want := s.Replica
	err := poll(30*time.Second, func() error {
		got, err := s.masterAddr()
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("sentinel names %s as the master, not %s yet", got, want)
		}
		info, err := redisDo(want, "INFO", "replication")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:master\r\n") {
			return fmt.Errorf("%s is not a master yet", want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("sentinel failover: %v", err)
	}
	s.Master, s.Replica = s.Replica, s.Master
}
