package testkit

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
)

func TestStartRedisTLS(t *testing.T) {
	t.Parallel()
	r := StartRedisTLS(t, "tls-auth-clients yes")
	files := r.TLS()
	cfg := files.ClientConfig(t)
	if got, err := redisDoTLS(r.Addr, cfg, "SET", "k", "v"); err != nil || got != "OK" {
		t.Fatalf("SET over TLS = %q, %v", got, err)
	}
	if got, err := redisDoTLS(r.Addr, cfg, "CONFIG", "GET", "port"); err != nil || got != "port\n0" {
		t.Errorf("CONFIG GET port = %q, %v; want no plain-text port", got, err)
	}
	// Plain text is refused, and so is TLS without the client certificate.
	if got, err := redisDo(r.Addr, "PING"); err == nil {
		t.Errorf("plain-text PING answered %q", got)
	}
	noCert := &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	if got, err := redisDoTLS(r.Addr, noCert, "PING"); err == nil {
		t.Errorf("PING without a client certificate answered %q", got)
	}
}

func TestStartRedisSentinel(t *testing.T) {
	t.Parallel()
	s := StartRedisSentinel(t)
	if got := s.MasterAddr(t); got != s.Master {
		t.Fatalf("sentinel names %s as the master, want %s", got, s.Master)
	}
	if got := redisCLI(t, s.Master, "SET", "k", "v"); got != "OK" {
		t.Fatalf("SET = %q", got)
	}
	Eventually(t, startTimeout, func() error {
		got, err := redisDo(s.Replica, "GET", "k")
		if err == nil && got != "v" {
			err = fmt.Errorf("replica: GET k = %q", got)
		}
		return err
	})
	old := s.Master
	s.Failover(t)
	if s.Replica != old || s.MasterAddr(t) != s.Master || s.Master == old {
		t.Fatalf("after failover: %+v", s)
	}
	if info := redisCLI(t, s.Master, "INFO", "replication"); !strings.Contains(info, "role:master") {
		t.Errorf("new master: %s", info)
	}
}
