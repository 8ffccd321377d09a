package webstatus

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/testkit"
)

func TestParseApache(t *testing.T) {
	tests := []struct {
		name, page string
		want       ApacheStatus
		err        string
	}{
		{
			name: "apache 2.2 without ExtendedStatus",
			page: "BusyWorkers: 1\nIdleWorkers: 4\nScoreboard: W____....\n",
			want: ApacheStatus{
				Values: map[string]float64{"BusyWorkers": 1, "IdleWorkers": 4},
				Text:   map[string]string{"Scoreboard": "W____...."},
			},
		},
		{
			name: "server name, crlf, empty value, percent",
			page: "www.example.com\r\nServerVersion: Apache/2.4.62 (Unix)\r\nServer Built: Jul 1 2024 10:00:00\r\nCacheUsage: 12%\r\nServerMPM:\r\n",
			want: ApacheStatus{
				ServerName: "www.example.com",
				Values:     map[string]float64{"CacheUsage": 12},
				Text:       map[string]string{"ServerVersion": "Apache/2.4.62 (Unix)", "Server Built": "Jul 1 2024 10:00:00", "ServerMPM": ""},
			},
		},
		{
			name: "ipv6 server name and %g numbers",
			page: "::1\nCPULoad: 1.5e-05\nDurationPerReq: .166667\n",
			want: ApacheStatus{
				ServerName: "::1",
				Values:     map[string]float64{"CPULoad": 1.5e-05, "DurationPerReq": 0.166667},
				Text:       map[string]string{},
			},
		},
		{
			name: "unknown fields",
			page: "Total Accesses: 1\nNewCounter: 5\nNewText: hello world\n",
			want: ApacheStatus{
				Values:  map[string]float64{"Total Accesses": 1, "NewCounter": 5},
				Text:    map[string]string{"NewText": "hello world"},
				Unknown: []string{"NewCounter", "NewText"},
			},
		},
		{
			name: "html in a module's section",
			page: "BusyWorkers: 1\nTLSSessionCacheStatus\n<b>General::</b> Version: <i>7.0.0</i> [64 bits]<br />\n<hr><br />\nCacheStoreCount: 2\n",
			want: ApacheStatus{
				Values:   map[string]float64{"BusyWorkers": 1, "CacheStoreCount": 2},
				Text:     map[string]string{},
				Sections: []string{"TLSSessionCacheStatus"},
			},
		},
		{
			name: "balancers",
			page: "ProxyBalancer[0]Name: balancer://a\n" +
				"ProxyBalancer[0]Worker[0]Name: http://a1\nProxyBalancer[0]Worker[0]Status: Init Ok \nProxyBalancer[0]Worker[0]Elected: 3\nProxyBalancer[0]Worker[0]Sent: 2K\nProxyBalancer[0]Worker[0]Rcvd: 5K\n" +
				"ProxyBalancer[0]Worker[1]Name: http://a2\nProxyBalancer[0]Worker[1]Busy: 1\nProxyBalancer[0]Worker[1]Weight: 7\n" +
				"ProxyBalancer[1]Name: balancer://b\nProxyBalancer[1]Sticky: x\n",
			want: ApacheStatus{
				Values: map[string]float64{},
				Text:   map[string]string{},
				Balancers: []Balancer{
					{Name: "balancer://a", Workers: []BalancerWorker{
						{Name: "http://a1", Status: "Init Ok", Values: map[string]float64{"Elected": 3, "Sent": 2, "Rcvd": 5}},
						{Name: "http://a2", Values: map[string]float64{"Busy": 1, "Weight": 7}},
					}},
					{Name: "balancer://b"},
				},
				Unknown: []string{"ProxyBalancer[0]Worker[1]Weight", "ProxyBalancer[1]Sticky"},
			},
		},
		{name: "empty", page: "\n\n", err: "no status fields: not the ?auto form of a mod_status page"},
		{name: "only a server name", page: "localhost\n", err: "no status fields: not the ?auto form of a mod_status page"},
		{name: "html", page: "<html>\n", err: `line 1: want "Name: value", got "<html>"`},
		{name: "text", page: "BusyWorkers: 1\nsome text\n", err: `line 2: want "Name: value", got "some text"`},
		{name: "bad name", page: "BusyWorkers: 1\n<b>Busy</b>: 1\n", err: `line 2: want "Name: value", got "<b>Busy</b>: 1"`},
		{name: "bad number", page: "\nTotal Accesses: many\n", err: `line 2: Total Accesses: "many" is not a number`},
		{name: "empty number", page: "IdleWorkers:\n", err: `line 1: IdleWorkers: end of page is not a number`},
		{name: "bad percent", page: "CacheUsage: %\n", err: `line 1: CacheUsage: "%" is not a number`},
		{name: "balancer out of order", page: "ProxyBalancer[1]Name: b\n", err: "line 1: ProxyBalancer[1]Name: bad balancer index"},
		{name: "worker out of order", page: "ProxyBalancer[0]Worker[2]Name: w\n", err: "line 1: ProxyBalancer[0]Worker[2]Name: bad worker index"},
		{name: "huge index", page: "ProxyBalancer[99999999999]Name: b\n", err: "line 1: ProxyBalancer[99999999999]Name: bad balancer index"},
		{name: "bad kbytes", page: "ProxyBalancer[0]Worker[0]Sent: 2M\n", err: `line 1: ProxyBalancer[0]Worker[0]Sent: "2M" is not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseApache([]byte(tc.page))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got error %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestApacheSamples(t *testing.T) {
	st, err := ParseApache([]byte("ServerMPM: worker\nUptime: 20\nTotal kBytes: 3\nCPULoad: 12.5\nScoreboard: W_K.?\n" +
		"ProxyBalancer[0]Name: balancer://a\nProxyBalancer[0]Worker[0]Name: http://a1\nProxyBalancer[0]Worker[0]Sent: 2K\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range st.Samples("web", time.Unix(1, 0)) {
		if s.T != 1000 {
			t.Errorf("%s at %d", render(s), s.T)
		}
		got = append(got, render(s))
	}
	want := []string{
		`webserver_info{job="web",mpm="worker"} 1`,
		`webserver_transferred_bytes_total{job="web"} 3072`,
		`apache_cpu_load_ratio{job="web"} 0.125`,
		`webserver_uptime_seconds{job="web"} 20`, // Uptime, as ServerUptimeSeconds is missing
		`webserver_scoreboard{job="web",state="waiting"} 1`,
		`webserver_scoreboard{job="web",state="starting"} 0`,
		`webserver_scoreboard{job="web",state="reading"} 0`,
		`webserver_scoreboard{job="web",state="sending"} 1`,
		`webserver_scoreboard{job="web",state="keepalive"} 1`,
		`webserver_scoreboard{job="web",state="dns"} 0`,
		`webserver_scoreboard{job="web",state="closing"} 0`,
		`webserver_scoreboard{job="web",state="logging"} 0`,
		`webserver_scoreboard{job="web",state="graceful"} 0`,
		`webserver_scoreboard{job="web",state="idle_cleanup"} 0`,
		`webserver_scoreboard{job="web",state="open"} 1`,
		`webserver_scoreboard{job="web",state="unknown"} 1`,
		`apache_proxy_balancer_worker_sent_bytes_total{balancer="balancer://a",job="web",worker="http://a1"} 2048`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// annotate writes page with, under each line, the samples it gives or why
// it gives none. It returns the names of the fields it could not account
// for: fields no metric maps.
func annotate(t testing.TB, page []byte, job string) (string, []string) {
	t.Helper()
	st, err := ParseApache(page)
	if err != nil {
		t.Fatal(err)
	}
	samples := st.Samples(job, time.Unix(1700000000, 0))
	checkDocumented(t, samples)
	from := map[string][]metricstore.Sample{}
	st.emit(job, 0, func(field string, s metricstore.Sample) {
		first, _, _ := strings.Cut(field, ", ")
		from[first] = append(from[first], s)
	})
	var b strings.Builder
	var unmapped []string
	l := lines{b: page}
	for {
		n, line, ok := l.next()
		if !ok {
			break
		}
		fmt.Fprintf(&b, "%s\n", line)
		name, _, ok := cutField(line)
		f, known := lookupApacheField(name)
		switch {
		case len(from[name]) > 0:
			for _, s := range from[name] {
				fmt.Fprintf(&b, "\t%s\n", render(s))
			}
		case !ok && n == 1:
			b.WriteString("\t(the server name)\n")
		case !ok:
			b.WriteString("\t(the header of a module's section)\n")
		case known && f.label != "":
			fmt.Fprintf(&b, "\t(label %s of %s)\n", f.label, f.metric)
		case known && f.why != "":
			fmt.Fprintf(&b, "\t(not exported: %s)\n", f.why)
		case known && f.unless != "":
			fmt.Fprintf(&b, "\t(not exported: %s says the same)\n", f.unless)
		case strings.HasPrefix(name, "ProxyBalancer[") && strings.Contains(name, "]Worker[") && strings.HasSuffix(name, "]Name"):
			b.WriteString("\t(label worker of apache_proxy_balancer_worker_*)\n")
		case strings.HasPrefix(name, "ProxyBalancer[") && strings.HasSuffix(name, "]Name"):
			b.WriteString("\t(label balancer of apache_proxy_balancer_worker_*)\n")
		default:
			b.WriteString("\tUNMAPPED\n")
			unmapped = append(unmapped, name)
		}
	}
	return b.String(), unmapped
}

// TestApacheCaptured checks the samples of a page captured from a real
// Apache with mod_status, mod_ssl and mod_proxy_balancer (rewritten by
// TestApacheReal with -update) against a golden file that holds each line
// of the page and its samples: every field is checked.
func TestApacheCaptured(t *testing.T) {
	page, err := os.ReadFile("testdata/apache-auto.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, unmapped := annotate(t, page, "apache")
	if len(unmapped) > 0 {
		t.Errorf("fields no metric maps: %q", unmapped)
	}
	testkit.Golden(t, "testdata/apache-auto.golden", []byte("# testdata/apache-auto.txt, each line with its samples\n"+got))
}

// apacheConf is the configuration of TestApacheReal: mod_status with
// ExtendedStatus, mod_ssl with an shmcb session cache on a TLS listener,
// and mod_proxy with a balancer, all in front of the backend %[1]s.
// %[2]s is the TLS listener, %[3]s and %[4]s the certificate and key.
const apacheConf = `
LoadModule status_module {{.Modules}}/mod_status.so
LoadModule socache_shmcb_module {{.Modules}}/mod_socache_shmcb.so
LoadModule ssl_module {{.Modules}}/mod_ssl.so
LoadModule slotmem_shm_module {{.Modules}}/mod_slotmem_shm.so
LoadModule proxy_module {{.Modules}}/mod_proxy.so
LoadModule proxy_http_module {{.Modules}}/mod_proxy_http.so
LoadModule proxy_balancer_module {{.Modules}}/mod_proxy_balancer.so
LoadModule lbmethod_byrequests_module {{.Modules}}/mod_lbmethod_byrequests.so

ExtendedStatus On
<Location /server-status>
	SetHandler server-status
	Require all granted
</Location>

SSLSessionCache shmcb:{{.Dir}}/ssl_scache(512000)
SSLSessionTickets off
Listen %[2]s
<VirtualHost %[2]s>
	SSLEngine on
	SSLCertificateFile %[3]s
	SSLCertificateKeyFile %[4]s
	ProxyPass /direct/ http://%[1]s/
</VirtualHost>

ProxyPass /direct/ http://%[1]s/
<Proxy balancer://back>
	BalancerMember http://%[1]s
</Proxy>
ProxyPass /lb/ balancer://back/
ProxyStatus On
`

// TestApacheReal scrapes a real Apache after known requests, checks the
// counts, and checks that every field this Apache prints is mapped.
func TestApacheReal(t *testing.T) {
	// The backend answers /k/N with N KiB.
	backend := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/k/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n<<10))
		w.Write(bytes.Repeat([]byte("x"), n<<10))
	})
	tlsAddr := testkit.FreeAddr(t)
	cert, key := selfSigned(t)
	a := testkit.StartApache(t, fmt.Sprintf(apacheConf, backend.Listener.Addr(), tlsAddr, cert, key))

	// One connection per request, its bytes counted both ways.
	var wire atomic.Int64
	client := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(4)},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, n: &wire}, nil
		},
	}}
	t.Cleanup(client.CloseIdleConnections)
	get := func(url string) []byte {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", url, resp.Status)
		}
		return body
	}
	// The known requests: 8, 2 of them through the balancer and 2 over
	// TLS.
	for range 4 {
		get(a.URL("/direct/k/10"))
	}
	for range 2 {
		get(a.URL("/lb/k/4"))
	}
	for range 2 { // the second resumes the TLS session of the first
		get("https://" + tlsAddr + "/direct/k/2")
	}
	const known = 8

	// Apache counts a request once it is logged, after the client has its
	// answer: poll until the counts of the known requests and of the
	// status requests before are all there.
	var page []byte
	statusReqs := 0
	testkit.Eventually(t, 10*time.Second, func() error {
		wireBefore := wire.Load() // of the requests Apache has counted, if done
		page = get(a.URL("/server-status?auto"))
		defer func() { statusReqs++ }()
		st, err := ParseApache(page)
		if err != nil {
			t.Fatal(err) // a parse error will not go away
		}
		accesses := float64(known + statusReqs)
		v := st.Values
		if v["ServerUptimeSeconds"] < 1 {
			return fmt.Errorf("uptime %vs: ReqPerSec and BytesPerSec come after a second", v["ServerUptimeSeconds"])
		}
		want := map[string]float64{
			"Total Accesses":               accesses,
			"BusyWorkers":                  1, // this request
			"IdleWorkers":                  31,
			"GracefulWorkers":              0,
			"Processes":                    1,
			"Stopping":                     0,
			"ParentServerConfigGeneration": 1,
			"ParentServerMPMGeneration":    0,
			"ConnsAsyncWriting":            0,
			"ConnsAsyncKeepAlive":          0,
			"ConnsAsyncClosing":            0,
			"CacheSharedMemory":            512000,
			"CacheRetrieveHitCount":        1,
			"CacheRetrieveMissCount":       0,
		}
		for k, w := range want {
			if got, ok := v[k]; !ok || got != w {
				return fmt.Errorf("%s = %v (printed %t), want %v\n%s", k, got, ok, w, page)
			}
		}
		// With mod_logio, built into Debian's Apache, Apache counts the
		// bytes of each connection both ways on the wire, TLS records
		// included.
		kb := v["Total kBytes"]
		if want := math.Floor(float64(wireBefore) / 1024); kb != want {
			return fmt.Errorf("Total kBytes = %v, want %v: the bytes both ways on the wire", kb, want)
		}
		// The averages, as mod_status computes them.
		near := map[string]float64{
			"BytesPerReq":    1024 * kb / accesses,
			"DurationPerReq": v["Total Duration"] / accesses,
		}
		up := v["ServerUptimeSeconds"]
		near["ReqPerSec"] = accesses / up
		near["BytesPerSec"] = 1024 * kb / up
		if _, ok := v["CPULoad"]; ok { // printed once Apache has used CPU time
			near["CPULoad"] = (v["CPUUser"] + v["CPUSystem"] + v["CPUChildrenUser"] + v["CPUChildrenSystem"]) / up * 100
		}
		for k, w := range near {
			if got := v[k]; math.Abs(got-w) > 1e-5*w {
				return fmt.Errorf("%s = %v, want %v\n%s", k, got, w, page)
			}
		}
		if v["ServerUptimeSeconds"] != v["Uptime"] {
			return fmt.Errorf("ServerUptimeSeconds %v, Uptime %v", v["ServerUptimeSeconds"], v["Uptime"])
		}
		if sb := st.Text["Scoreboard"]; strings.Count(sb, "W") != 1 || strings.Count(sb, "_") != len(sb)-1 {
			return fmt.Errorf("scoreboard %q: want one W and the rest _", sb)
		}
		if st.Text["ServerMPM"] != "event" || !strings.HasPrefix(st.Text["ServerVersion"], "Apache/2.4.") {
			return fmt.Errorf("ServerMPM %q, ServerVersion %q", st.Text["ServerMPM"], st.Text["ServerVersion"])
		}
		if st.Text["CacheType"] != "SHMCB" || v["CacheCurrentEntries"] < 1 || v["CacheStoreCount"] < 1 {
			return fmt.Errorf("TLS session cache %s: %v entries, %v stores", st.Text["CacheType"], v["CacheCurrentEntries"], v["CacheStoreCount"])
		}
		wantBalancer := []Balancer{{Name: "balancer://back", Workers: []BalancerWorker{{
			Name:   "http://" + backend.Listener.Addr().String(),
			Status: "Init Ok",
			// Sent: two requests' headers, under 1 KiB; Rcvd: two answers
			// of 4 KiB and their headers.
			Values: map[string]float64{"Elected": 2, "Busy": 0, "Sent": 0, "Rcvd": 8},
		}}}}
		if !reflect.DeepEqual(st.Balancers, wantBalancer) {
			return fmt.Errorf("balancers %+v, want %+v", st.Balancers, wantBalancer)
		}
		for _, name := range []string{"Load1", "Load5", "Load15", "CPUUser", "CPUSystem", "CPUChildrenUser", "CPUChildrenSystem", "Total Duration", "ConnsTotal", "ConnsAsyncWaitIO", "CacheSubcaches", "CacheIndexesPerSubcaches", "CacheIndexUsage", "CacheUsage", "CacheReplaceCount", "CacheExpireCount", "CacheDiscardCount", "CacheRemoveHitCount", "CacheRemoveMissCount", "CacheTimeLeftOldestAvg", "CacheTimeLeftOldestMin", "CacheTimeLeftOldestMax"} {
			if got, ok := v[name]; !ok || got < 0 {
				return fmt.Errorf("%s = %v (printed %t)\n%s", name, got, ok, page)
			}
		}
		return nil
	})
	if updating() {
		// Capture a page with every field: CPULoad comes once Apache has
		// used a clock tick of CPU time, which TLS handshakes spend.
		testkit.Eventually(t, 20*time.Second, func() error {
			get("https://" + tlsAddr + "/direct/k/1")
			page = get(a.URL("/server-status?auto"))
			statusReqs += 2
			if !bytes.Contains(page, []byte("\nCPULoad: ")) {
				return fmt.Errorf("no CPULoad yet")
			}
			return nil
		})
		capture(t, "testdata/apache-auto.txt", page)
	}
	if _, unmapped := annotate(t, page, "apache"); len(unmapped) > 0 || len(mustParseApache(t, page).Unknown) > 0 {
		t.Errorf("fields of this Apache that no metric maps: %q\n%s", unmapped, page)
	}

	// Scrape, with the URL without ?auto: the status requests before
	// count, this one not.
	s := newScraper(t)
	target := Target{Job: "apache", Kind: Apache, URL: a.URL("/server-status")}
	testkit.Eventually(t, 10*time.Second, func() error {
		samples, err := s.Scrape(context.Background(), target, time.Now())
		if err != nil {
			t.Fatal(err) // a parse or scrape error will not go away
		}
		checkDocumented(t, samples)
		v := values(t, samples)
		want := map[string]float64{
			`up{job="apache"}`:                                   1,
			`webserver_requests_total{job="apache"}`:             float64(known + statusReqs),
			`webserver_busy_workers{job="apache"}`:               1,
			`webserver_idle_workers{job="apache"}`:               31,
			`webserver_scoreboard{job="apache",state="sending"}`: 1,
			`webserver_scoreboard{job="apache",state="waiting"}`: 31,
			`apache_proxy_balancer_worker_elected_total{balancer="balancer://back",job="apache",worker="http://` + backend.Listener.Addr().String() + `"}`: 2,
		}
		statusReqs++
		for k, w := range want {
			if v[k] != w {
				return fmt.Errorf("%s = %v, want %v", k, v[k], w)
			}
		}
		return nil
	})
}

// countingConn adds the bytes read from and written to its connection to
// n.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func mustParseApache(t testing.TB, page []byte) ApacheStatus {
	t.Helper()
	st, err := ParseApache(page)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// and returns their paths.
func selfSigned(t *testing.T) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, block := range map[string]*pem.Block{cert: {Type: "CERTIFICATE", Bytes: der}, key: {Type: "PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key
}
