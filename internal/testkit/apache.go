package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
)

// Apache is an Apache httpd (apache2) started by StartApache.
type Apache struct {
	// Addr is the "127.0.0.1:PORT" it listens on.
	Addr string
	// Dir is the server root: it holds apache2.conf, the logs and the pid file.
	Dir string
	// AccessLog is the file the configuration should give CustomLog.
	AccessLog string
	// ErrorLog is the error log.
	ErrorLog string
}

// URL returns the http URL of path on the server; path starts with "/".
func (a *Apache) URL(path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "http://" + a.Addr + path
}

// apacheData is what the configuration template of StartApache sees.
type apacheData struct {
	Listen    string // "127.0.0.1:PORT"
	Dir       string
	AccessLog string
	ErrorLog  string
	Modules   string // the directory of the shared modules
}

// apacheModules is where Debian keeps Apache's shared modules.
const apacheModules = "/usr/lib/apache2/modules"

// apacheConf is the apache2.conf around the body given to StartApache.
const apacheConf = `# Written by testkit.StartApache.
ServerRoot "%[1]s"
DefaultRuntimeDir "%[1]s"
Mutex file:%[1]s default
PidFile "%[1]s/apache.pid"
ServerName 127.0.0.1
Listen %[2]s
ErrorLog "%[3]s"
LogLevel warn
%[4]sLoadModule mpm_event_module %[5]s/mod_mpm_event.so
LoadModule authz_core_module %[5]s/mod_authz_core.so
StartServers 1
ServerLimit 1
ThreadsPerChild 32
MaxRequestWorkers 32
KeepAlive Off
<Directory />
	Require all denied
</Directory>

%[6]s
`

// StartApache starts Debian's apache2 in the foreground in a temporary
// directory and returns once it accepts connections. conf is a
// text/template of the rest of the configuration: modules beyond the MPM
// and authz_core, the log format and CustomLog, the handlers. It sees
// .Listen, .Dir, .AccessLog, .ErrorLog and .Modules (where the shared
// modules are):
//
//	LoadModule proxy_module {{.Modules}}/mod_proxy.so
//	LogFormat "%h %t \"%r\" %>s %b %D" timed
//	CustomLog {{.AccessLog}} timed
//
// StartApache writes ServerRoot, the runtime dir, PidFile, Listen and
// ErrorLog so that nothing outside Dir is used, and User www-data when the
// test runs as root (Apache will not serve as root). The server gets
// SIGTERM, then SIGKILL, when the test ends.
func StartApache(t testing.TB, conf string) *Apache {
	t.Helper()
	bin := lookPath(t, "apache2", "apache2", "/usr/sbin")
	tmpl, err := template.New("apache").Option("missingkey=error").Parse(conf)
	if err != nil {
		t.Fatalf("start apache: parse configuration template: %v", err)
	}
	dir := t.TempDir()
	a := &Apache{
		Dir:       dir,
		AccessLog: filepath.Join(dir, "access.log"),
		ErrorLog:  filepath.Join(dir, "error.log"),
	}
	var userLines string
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("www-data"); err == nil {
			userLines = "User www-data\nGroup www-data\n"
		}
		// The children, as www-data, use the runtime files in dir.
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatalf("start apache: %v", err)
		}
	}
	confPath := filepath.Join(dir, "apache2.conf")
	pidPath := filepath.Join(dir, "apache.pid")
	log := filepath.Join(dir, "apache.log")
	for attempt := 1; ; attempt++ {
		a.Addr = FreeAddr(t)
		var body bytes.Buffer
		data := apacheData{Listen: a.Addr, Dir: dir, AccessLog: a.AccessLog, ErrorLog: a.ErrorLog, Modules: apacheModules}
		if err := tmpl.Execute(&body, data); err != nil {
			t.Fatalf("start apache: execute configuration template: %v", err)
		}
		full := fmt.Sprintf(apacheConf, dir, a.Addr, a.ErrorLog, userLines, apacheModules, body.String())
		if err := os.WriteFile(confPath, []byte(full), 0o644); err != nil {
			t.Fatalf("start apache: %v", err)
		}
		removeFiles(t, "start apache", log, a.ErrorLog, pidPath)
		p, err := start(t, procOpts{dir: dir, log: log, stopSig: syscall.SIGTERM},
			bin, "-f", confPath, "-d", dir, "-D", "FOREGROUND")
		if err != nil {
			t.Fatalf("start apache: %v", err)
		}
		// Apache writes its pid file after it has bound its ports.
		err = waitReady(p, func() error {
			if err := ownsPidFile(pidPath, p.pid); err != nil {
				return err
			}
			return dialable(a.Addr)
		})
		if err == nil {
			return a
		}
		p.stop()
		if attempt < startAttempts && (addrInUse(log) || addrInUse(a.ErrorLog)) {
			continue
		}
		t.Fatalf("start apache in %s: %v\n%s\n%s", dir, err, tail(log), tail(a.ErrorLog))
	}
}
