package testkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
)

// Nginx is an nginx server started by StartNginx.
type Nginx struct {
	// Addr is the "127.0.0.1:PORT" the configuration listens on.
	Addr string
	// Dir is nginx's prefix: it holds nginx.conf, the logs, the pid file
	// and the temporary files.
	Dir string
	// AccessLog is the access log of the http block.
	AccessLog string
	// ErrorLog is the error log.
	ErrorLog string
}

// URL returns the http URL of path on the server; path starts with "/".
func (n *Nginx) URL(path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "http://" + n.Addr + path
}

// nginxData is what the configuration template of StartNginx sees.
type nginxData struct {
	Listen    string // "127.0.0.1:PORT"
	Dir       string
	AccessLog string
	ErrorLog  string
}

// nginxConf is the nginx.conf around the body given to StartNginx. It keeps
// every path inside the server's directory.
const nginxConf = `# Written by testkit.StartNginx.
daemon off;
master_process on;
worker_processes 1;
%[1]spid %[2]s;
error_log %[3]s notice;
events {
	worker_connections 256;
}
http {
	access_log %[4]s;
	client_body_temp_path %[5]s/client_body;
	proxy_temp_path %[5]s/proxy;
	fastcgi_temp_path %[5]s/fastcgi;
	uwsgi_temp_path %[5]s/uwsgi;
	scgi_temp_path %[5]s/scgi;
	types {
		text/html html htm;
		text/css css;
		text/plain txt;
		application/javascript js;
		application/json json;
		image/png png;
		image/svg+xml svg;
	}
	default_type application/octet-stream;

%[6]s
}
`

// StartNginx starts nginx in the foreground in a temporary directory and
// returns once it accepts connections. conf is a text/template of the body of
// the http block, usually one or more server blocks; it sees .Listen (the
// "127.0.0.1:PORT" to listen on), .Dir, .AccessLog and .ErrorLog:
//
//	server {
//		listen {{.Listen}};
//		location / { return 200 "ok\n"; }
//	}
//
// StartNginx writes the rest of nginx.conf so that nothing outside Dir is
// used: pid file, logs and temporary paths, and `user root;` when the test
// runs as root. The server gets SIGQUIT, then SIGKILL, when the test ends.
func StartNginx(t testing.TB, conf string) *Nginx {
	t.Helper()
	bin := lookPath(t, "nginx", "nginx", "/usr/sbin")
	tmpl, err := template.New("nginx").Option("missingkey=error").Parse(conf)
	if err != nil {
		t.Fatalf("start nginx: parse configuration template: %v", err)
	}
	dir := t.TempDir()
	n := &Nginx{
		Dir:       dir,
		AccessLog: filepath.Join(dir, "access.log"),
		ErrorLog:  filepath.Join(dir, "error.log"),
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	pidPath := filepath.Join(dir, "nginx.pid")
	log := filepath.Join(dir, "nginx.log")
	var user string
	if os.Geteuid() == 0 {
		user = "user root;\n"
	}
	for attempt := 1; ; attempt++ {
		n.Addr = FreeAddr(t)
		var body bytes.Buffer
		data := nginxData{Listen: n.Addr, Dir: dir, AccessLog: n.AccessLog, ErrorLog: n.ErrorLog}
		if err := tmpl.Execute(&body, data); err != nil {
			t.Fatalf("start nginx: execute configuration template: %v", err)
		}
		full := fmt.Sprintf(nginxConf, user, pidPath, n.ErrorLog, n.AccessLog, tmp, body.String())
		if err := os.WriteFile(confPath, []byte(full), 0o644); err != nil {
			t.Fatalf("start nginx: %v", err)
		}
		removeFiles(t, "start nginx", log, n.ErrorLog, pidPath)
		p, err := start(t, procOpts{dir: dir, log: log, stopSig: syscall.SIGQUIT},
			bin, "-p", dir+"/", "-c", confPath, "-e", n.ErrorLog)
		if err != nil {
			t.Fatalf("start nginx: %v", err)
		}
		// nginx writes its pid file after it has bound its ports, so a
		// port that answers before that belongs to someone else, and one
		// that does not answer after that is not in the configuration.
		err = waitReady(p, func() error {
			if err := ownsPidFile(pidPath, p.pid); err != nil {
				return err
			}
			if err := dialable(n.Addr); err != nil {
				return giveUp(fmt.Errorf("%w (does the configuration listen on {{.Listen}}?)", err))
			}
			return nil
		})
		if err == nil {
			return n
		}
		p.stop()
		if attempt < startAttempts && (addrInUse(log) || addrInUse(n.ErrorLog)) {
			continue
		}
		t.Fatalf("start nginx in %s: %v\n%s\n%s", dir, err, tail(log), tail(n.ErrorLog))
	}
}
