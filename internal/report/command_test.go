package report

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/dandan-sre/dandan/internal/component"
	"github.com/dandan-sre/dandan/internal/httpapi"
	"github.com/dandan-sre/dandan/internal/metricstore"
)

// apiServer serves the fixture's metric store and event log as dandan
// does, for callers with the bearer token "sekret".
func apiServer(t *testing.T) *httptest.Server {
	t.Helper()
	f := loadFixture(t)
	mux := httpapi.NewMux(httpapi.Options{})
	f.svc.Mount(mux)
	f.events.Mount(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sekret" {
			httpapi.WriteError(w, r, &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeUnauthorized, Msg: "a token is required"})
			return
		}
		mux.ServeHTTP(w, r.WithContext(httpapi.WithIdentity(r.Context(), &httpapi.Identity{Name: "viewer", Role: httpapi.Viewer})))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRemote: the report built over dandan's HTTP API has the figures of
// the report built on the store itself.
func TestRemote(t *testing.T) {
	f := loadFixture(t)
	srv := apiServer(t)
	ctx := context.Background()
	opts := Options{Job: "web", From: weekFrom, To: weekTo, Location: kst}
	local, err := Build(ctx, f.svc, f.events, opts)
	if err != nil {
		t.Fatal(err)
	}
	rem := &Remote{URL: srv.URL + "/", Token: "sekret"}
	remote, err := Build(ctx, rem, rem, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"requests", remote.Cur.Requests, local.Cur.Requests},
		{"previous requests", remote.Prev.Requests, local.Prev.Requests},
		{"5xx", remote.Cur.Errors5xx, local.Cur.Errors5xx},
		{"peak", remote.Cur.PeakRPS, local.Cur.PeakRPS},
		{"p95", remote.Cur.Latency[1], local.Cur.Latency[1]},
		{"p99", remote.Cur.Latency[2], local.Cur.Latency[2]},
		{"alerts", float64(remote.Alerts.Fired), float64(local.Alerts.Fired)},
		{"CPU peak", remote.Hosts[0].Cur.CPU, local.Hosts[0].Cur.CPU},
		{"top failing path", remote.FailingPaths[0].Cur.Errors5xx, local.FailingPaths[0].Cur.Errors5xx},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s over HTTP: %v, want %v", c.what, c.got, c.want)
		}
	}
	if !remote.Cur.PeakAt.Equal(local.Cur.PeakAt) || len(remote.Days) != 7 || remote.Days[2].Requests != local.Days[2].Requests {
		t.Errorf("peak at %s, days %+v", remote.Cur.PeakAt, remote.Days)
	}

	// A wrong token says what to give.
	_, err = Build(ctx, &Remote{URL: srv.URL, Token: "wrong"}, nil, opts)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "--token-file") {
		t.Errorf("wrong token: %v", err)
	}
}

// runCmd runs `dandan report args…` with env and returns stdout, stderr
// and the error.
func runCmd(t *testing.T, env component.Env, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "dandan", SilenceErrors: true, SilenceUsage: true}
	root.PersistentFlags().String("config", "dandan.yaml", "")
	root.AddCommand(command(env))
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"report"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestCommand(t *testing.T) {
	f := loadFixture(t)
	noConfig := component.Env{Section: func(*cobra.Command) (component.Config, string, error) {
		t.Fatal("the config was read")
		return nil, "", nil
	}}

	t.Run("url", func(t *testing.T) {
		srv := apiServer(t)
		out := t.TempDir()
		token := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(token, []byte("sekret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, err := runCmd(t, noConfig, "weekly", "--job", "web", "--from", "2026-03-09", "--to", "2026-03-16",
			"--timezone", "Asia/Seoul", "--url", srv.URL, "--token-file", token, "--out", out, "--no-pdf")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		want := filepath.Join(out, "weekly-web-2026-03-09.html")
		if strings.TrimSpace(stdout) != want || !strings.Contains(stderr, "weekly report of Mon 9 Mar – Sun 15 Mar 2026 built in") {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
		html, err := os.ReadFile(want)
		if err != nil || !bytes.Contains(html, []byte(fmtCount(f.want[1].req["web"]))) {
			t.Errorf("report lacks the week's requests: %v", err)
		}
	})

	t.Run("store in use", func(t *testing.T) {
		_, _, err := runCmd(t, noConfig, "weekly", "--store-dir", filepath.Join(f.dir, "metrics"), "--out", t.TempDir(), "--no-pdf")
		if err == nil || !strings.Contains(err.Error(), "dandan is running") || !strings.Contains(err.Error(), "--url") {
			t.Errorf("error %v, want one pointing to --url", err)
		}
	})

	t.Run("config", func(t *testing.T) {
		// A small store of its own, closed as a stopped dandan leaves it.
		data := t.TempDir()
		st, err := metricstore.Open(context.Background(), filepath.Join(data, "metrics"), metricstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		app := st.Appender(context.Background())
		ls := metricstore.FromStrings("__name__", "http_requests_total", "job", "api", "path", "/", "method", "GET", "status", "200")
		for i := range 7 * 24 * 60 {
			at := prevFrom.Add(time.Duration(i) * time.Minute)
			if _, err := app.Append(0, ls, at.UnixMilli(), float64(i*60)); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		st.Close()
		cfg := DefaultConfig()
		cfg.Timezone = "Asia/Seoul"
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		env := component.Env{Section: func(*cobra.Command) (component.Config, string, error) { return cfg, data, nil }}
		stdout, stderr, err := runCmd(t, env, "weekly", "--from", "2026-03-02", "--no-pdf")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		want := filepath.Join(data, "reports", "weekly-all-2026-03-02.html")
		if strings.TrimSpace(stdout) != want {
			t.Errorf("stdout %q, want %q", stdout, want)
		}
		if !strings.Contains(stderr, "alerts left out: no event log at") {
			t.Errorf("stderr %q", stderr)
		}
		html, _ := os.ReadFile(want)
		// 60 requests a minute, counted from the sample at the week's
		// start to the last one, a minute before its end.
		if !bytes.Contains(html, []byte(fmtCount(60*(7*24*60-1)))) {
			t.Errorf("report lacks the week's requests")
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"url and store", []string{"weekly", "--url", "http://x", "--store-dir", "y", "--out", "z"}, "not both"},
		{"token without url", []string{"weekly", "--store-dir", "y", "--token-file", "t"}, "--token-file goes with --url"},
		{"no store", []string{"weekly", "--store-dir", "/nonexistent/metrics", "--out", "z"}, "no metric store at /nonexistent/metrics"},
		{"bad job", []string{"weekly", "--job", "a b", "--url", "http://x", "--out", "z"}, `--job "a b" is not a job name`},
		{"no out", []string{"weekly", "--url", "http://127.0.0.1:1"}, "--out is required"},
		{"bad from", []string{"weekly", "--url", "http://127.0.0.1:1", "--out", "z", "--from", "last week"}, `--from: "last week": want YYYY-MM-DD or RFC 3339`},
		{"to before from", []string{"weekly", "--url", "http://127.0.0.1:1", "--out", "z", "--from", "2026-03-09", "--to", "2026-03-02"}, "is not after --from"},
		{"bad zone", []string{"weekly", "--url", "http://127.0.0.1:1", "--out", "z", "--timezone", "Nowhere/Land"}, `--timezone: unknown time zone "Nowhere/Land"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmd(t, noConfig, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPeriod(t *testing.T) {
	now := weekTo.Add(50 * time.Hour)
	tests := []struct {
		from, to string
		wantFrom time.Time
		wantTo   time.Time
	}{
		{"", "", weekFrom, weekTo},
		{"2026-03-02", "", prevFrom, weekFrom},
		{"", "2026-03-09", prevFrom, weekFrom},
		{"2026-03-09T12:00:00+09:00", "2026-03-10T00:00:00Z", weekFrom.Add(12 * time.Hour), time.Date(2026, 3, 10, 9, 0, 0, 0, kst)},
	}
	for _, tc := range tests {
		from, to, err := period(tc.from, tc.to, now, kst)
		if err != nil || !from.Equal(tc.wantFrom) || !to.Equal(tc.wantTo) {
			t.Errorf("period(%q, %q) = %s, %s, %v; want %s, %s", tc.from, tc.to, from, to, err, tc.wantFrom, tc.wantTo)
		}
	}
}
