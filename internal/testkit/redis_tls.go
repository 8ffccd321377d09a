package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TLSFiles are the PEM files StartRedisTLS writes into the server's Dir: a
// CA, the server's certificate (for 127.0.0.1 and localhost) and a client
// certificate, each signed by the CA.
type TLSFiles struct {
	CA         string // ca.crt
	ServerCert string // server.crt
	ServerKey  string // server.key
	ClientCert string // client.crt
	ClientKey  string // client.key
}

// TLS returns the paths of the TLS files of a server started by
// StartRedisTLS (they are in r.Dir).
func (r *Redis) TLS() TLSFiles {
	return TLSFiles{
		CA:         filepath.Join(r.Dir, "ca.crt"),
		ServerCert: filepath.Join(r.Dir, "server.crt"),
		ServerKey:  filepath.Join(r.Dir, "server.key"),
		ClientCert: filepath.Join(r.Dir, "client.crt"),
		ClientKey:  filepath.Join(r.Dir, "client.key"),
	}
}

// ClientConfig returns a TLS client configuration that trusts the CA and
// presents the client certificate.
func (f TLSFiles) ClientConfig(t testing.TB) *tls.Config {
	t.Helper()
	cfg, err := f.clientConfig()
	if err != nil {
		t.Fatalf("redis TLS client config: %v", err)
	}
	return cfg
}

func (f TLSFiles) clientConfig() (*tls.Config, error) {
	ca, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s: no certificate", f.CA)
	}
	cert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// StartRedisTLS starts redis-server that accepts only TLS connections
// (`port 0`, `tls-port` on a free loopback port), with a CA, a server and a
// client certificate generated for the test (see Redis.TLS). Client
// certificates are optional (`tls-auth-clients optional`); an arg such as
// "tls-auth-clients yes" requires them. Args are more config lines, as for
// StartRedis. Addr is the TLS address. The server is stopped when the test
// ends.
func StartRedisTLS(t testing.TB, args ...string) *Redis {
	t.Helper()
	bin := lookPath(t, "redis-server", "redis-server")
	dir := t.TempDir()
	r := &Redis{Dir: dir}
	files := r.TLS()
	if err := writeTLSFiles(files); err != nil {
		t.Fatalf("start TLS redis-server: %v", err)
	}
	clientCfg, err := files.clientConfig()
	if err != nil {
		t.Fatalf("start TLS redis-server: %v", err)
	}
	conf := filepath.Join(dir, "redis.conf")
	log := filepath.Join(dir, "redis.log")
	for attempt := 1; ; attempt++ {
		addr, err := freeAddr()
		if err != nil {
			t.Fatalf("find free port: %v", err)
		}
		_, port, _ := net.SplitHostPort(addr)
		var b strings.Builder
		fmt.Fprintf(&b, "port 0\ntls-port %s\nbind 127.0.0.1\ndir %s\nlogfile \"\"\ndaemonize no\n", port, strconv.Quote(dir))
		b.WriteString("protected-mode no\nsave \"\"\nappendonly no\n")
		fmt.Fprintf(&b, "tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients optional\n",
			strconv.Quote(files.ServerCert), strconv.Quote(files.ServerKey), strconv.Quote(files.CA))
		for _, l := range args {
			b.WriteString(strings.TrimPrefix(l, "--") + "\n")
		}
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			t.Fatalf("start TLS redis-server: %v", err)
		}
		if err := os.Remove(log); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("start TLS redis-server: %v", err)
		}
		p, err := start(t, procOpts{dir: dir, log: log}, bin, conf)
		if err != nil {
			t.Fatalf("start TLS redis-server: %v", err)
		}
		err = waitReady(p, func() error {
			reply, err := redisDoTLS(addr, clientCfg, "PING")
			if err != nil {
				return err
			}
			if reply != "PONG" {
				return fmt.Errorf("PING answered %q", reply)
			}
			return nil
		})
		if err == nil {
			r.Addr = addr
			return r
		}
		p.stop()
		if attempt < startAttempts && addrInUse(log) {
			continue
		}
		t.Fatalf("start TLS redis-server in %s: %v\n%s", dir, err, tail(log))
	}
}

// redisDoTLS is redisDo over TLS.
func redisDoTLS(addr string, cfg *tls.Config, args ...string) (string, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	return exchange(c, addr, args)
}

// writeTLSFiles generates a CA and a server and a client certificate
// signed by it, valid for a day, and writes them as PEM.
func writeTLSFiles(f TLSFiles) error {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dandan test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	if err := writePEM(f.CA, "CERTIFICATE", caDER); err != nil {
		return err
	}
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage, certFile, keyFile string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
			return err
		}
		kb, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		return writePEM(keyFile, "PRIVATE KEY", kb)
	}
	if err := leaf(2, "localhost", x509.ExtKeyUsageServerAuth, f.ServerCert, f.ServerKey); err != nil {
		return err
	}
	return leaf(3, "dandan test client", x509.ExtKeyUsageClientAuth, f.ClientCert, f.ClientKey)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
