package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// testPart is a part section for the loader tests.
type testPart struct {
	URL     string   `yaml:"url"`
	Retries int      `yaml:"retries"`
	Every   Duration `yaml:"every"`
}

func (p *testPart) Validate() error {
	var errs Errors
	if p.URL == "" {
		errs.Add("url", "required")
	}
	if p.Retries < 0 || p.Retries > 10 {
		errs.Add("retries", "%d is out of range: want 0 to 10", p.Retries)
	}
	return errs.Err()
}

var testOpts = Options{
	Parts: []PartSchema{{Name: "relay", NewConfig: func() Validator { return &testPart{Retries: 3} }}},
	Env: func(name string) (string, bool) {
		switch name {
		case "WALL_TOKEN":
			return "wall-token-0123456789abcdef", true
		}
		return "", false
	},
}

func TestGoodConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) == 0 {
		t.Fatal("no good configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := LoadFile(f, testOpts); err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
		})
	}
}

func TestFullConfigValues(t *testing.T) {
	c, err := LoadFile("testdata/full.good.yaml", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"listen", c.Server.Listen, "[::]:8443"},
		{"idle", c.Server.IdleTimeout.String(), "1h"},
		{"header bytes", c.Server.MaxHeaderBytes.String(), "32KiB"},
		{"merge role", c.Auth.Tokens[0].Role, "viewer"},
		{"env token", c.Auth.Tokens[0].Token.Reveal(), "wall-token-0123456789abcdef"},
		{"file token", c.Auth.Tokens[1].Token.Reveal(), "ops-token-0123456789abcdef"},
		{"literal dollar", c.Auth.Tokens[2].Token.Reveal(), "${literal}-dollar-0123456789"},
		{"default", c.Store.SQL.URL.Reveal(), "postgres://dandan:changeme@db.internal:5432/dandan"},
		{"ttl", c.Auth.SessionTTL.String(), "1w"},
	}
	for _, tc := range checks {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if c.Server.AccessLog {
		t.Error("access_log: false was not applied")
	}
}

// TestBadConfigs holds the one table of expected messages for testdata/*.bad.yaml.
func TestBadConfigs(t *testing.T) {
	expected := map[string][]string{
		"unknown-key.bad.yaml": {
			`testdata/unknown-key.bad.yaml:2:3: server.listn: unknown key (did you mean "listen"?)`,
		},
		"wrong-type.bad.yaml": {
			`testdata/wrong-type.bad.yaml:2:15: server.access_log: expected true or false, got "sometimes"`,
			`testdata/wrong-type.bad.yaml:3:21: server.max_header_bytes: expected a size such as 1MiB, got a list`,
		},
		"bad-url.bad.yaml": {
			`testdata/bad-url.bad.yaml:2:17: server.external_url: not a URL: want http(s)://host[:port][/path]`,
		},
		"bad-duration.bad.yaml": {
			`testdata/bad-duration.bad.yaml:2:17: server.read_timeout: not a duration "10 secs": use a number with a unit, e.g. 30s, 5m, 1h, 7d`,
		},
		"missing-required.bad.yaml": {
			`testdata/missing-required.bad.yaml:3:7: auth.tokens[0].token: required`,
		},
		"unset-env.bad.yaml": {
			`testdata/unset-env.bad.yaml:5:14: auth.tokens[0].token: environment variable DANDAN_TEST_UNSET_TOKEN is not set (write ${DANDAN_TEST_UNSET_TOKEN:-default} for a default)`,
		},
		"unreadable-file.bad.yaml": {
			`testdata/unreadable-file.bad.yaml:5:14: auth.tokens[0].token: read ${file:testdata/does-not-exist.token}: no such file or directory`,
		},
		"duplicate-key.bad.yaml": {
			`testdata/duplicate-key.bad.yaml:3:3: server.listen: duplicate key, first set at 2:3`,
		},
		"bad-enum.bad.yaml": {
			`testdata/bad-enum.bad.yaml:2:10: log.level: "verbose" is not one of debug, info, warn, error`,
		},
		"out-of-range.bad.yaml": {
			`testdata/out-of-range.bad.yaml:2:11: server.listen: port 70000 is out of range: want 0 to 65535`,
			`testdata/out-of-range.bad.yaml:3:19: server.max_body_bytes: 2GiB is out of range: want 1KiB to 1GiB`,
		},
		"many.bad.yaml": {
			`testdata/many.bad.yaml:2:11: data_dir: required`,
			`testdata/many.bad.yaml:4:10: log.level: "loud" is not one of debug, info, warn, error`,
			`testdata/many.bad.yaml:5:11: log.format: "xml" is not one of text, json`,
			`testdata/many.bad.yaml:8:21: server.shutdown_timeout: must be more than 0`,
			`testdata/many.bad.yaml:12:13: auth.tokens[0].role: "superuser" is not one of tv, viewer, operator, admin`,
			"testdata/many.bad.yaml:13:14: auth.tokens[0].token: too short: use at least 16 characters (e.g. `openssl rand -hex 24`)",
			`testdata/many.bad.yaml:14:13: auth.tokens[1].name: "a" is already the name of tokens[0]`,
			`testdata/many.bad.yaml:17:16: auth.session_ttl: 10s is too short: want at least 1m`,
			`testdata/many.bad.yaml:20:10: store.sql.url: unsupported scheme "mysql": want sqlite or postgres`,
			`testdata/many.bad.yaml:21:1: bogus: unknown key`,
		},
		"public-no-token.bad.yaml": {
			`testdata/public-no-token.bad.yaml:2:11: server.listen: 0.0.0.0 is not a loopback address and auth.tokens is empty: anybody who can reach it would get in; add a token or listen on 127.0.0.1:8080`,
		},
		"syntax.bad.yaml": {
			`testdata/syntax.bad.yaml:2:1: invalid YAML: found unexpected end of stream`,
		},
		"not-mapping.bad.yaml": {
			`testdata/not-mapping.bad.yaml:1:1: expected a mapping of sections at the top level, got a list`,
		},
		"section-type.bad.yaml": {
			`testdata/section-type.bad.yaml:1:9: server: expected a mapping, got an integer`,
			`testdata/section-type.bad.yaml:3:11: auth.tokens: expected a list, got a string`,
		},
	}
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) != len(expected) {
		t.Errorf("%d bad configs in testdata, %d in the table", len(files), len(expected))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, ok := expected[filepath.Base(f)]
			if !ok {
				t.Fatalf("no expected messages for %s", f)
			}
			_, err := LoadFile(f, testOpts)
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("want a *LoadError, got %v", err)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestPartSections(t *testing.T) {
	cases := []struct {
		name, yaml, wantErr string
		enabled             bool
	}{
		{name: "enabled by presence", yaml: "relay:\n  url: http://x\n", enabled: true},
		{name: "enabled false", yaml: "relay:\n  enabled: false\n  url: http://x\n", enabled: false},
		{name: "defaults kept", yaml: "relay:\n  url: http://x\n  every: 30s\n", enabled: true},
		{name: "validate path", yaml: "relay:\n  url: http://x\n  retries: 11\n", wantErr: "t.yaml:3:12: relay.retries: 11 is out of range: want 0 to 10"},
		{name: "missing in empty section", yaml: "relay:\n", wantErr: "t.yaml:1:7: relay.url: required"},
		{name: "unknown part", yaml: "rellay: {}\n", wantErr: `t.yaml:1:1: rellay: unknown key (did you mean "relay"?)`},
		{name: "bad enabled", yaml: "relay:\n  enabled: maybe\n  url: x\n", wantErr: `t.yaml:2:12: relay.enabled: expected true or false, got "maybe"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load("t.yaml", []byte(tc.yaml), testOpts)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := c.Parts["relay"]
			if s.Enabled != tc.enabled {
				t.Errorf("enabled = %v", s.Enabled)
			}
			if s.Config.(*testPart).Retries != 3 {
				t.Error("default retries lost")
			}
		})
	}
}

func TestSecretsNeverEchoed(t *testing.T) {
	secret := "s3cr3t-value-that-must-not-leak"
	env := func(string) (string, bool) { return secret, true }
	yaml := "server:\n  max_body_bytes: ${X}\n  access_log: ${X}\nauth:\n  tokens:\n    - {name: a, role: ${X}, token: ${X}}\n"
	_, err := Load("t.yaml", []byte(yaml), Options{Env: env})
	if err == nil {
		t.Fatal("want errors")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error echoes the secret:\n%v", err)
	}
	if s := Secret(secret); s.String() != "[redacted]" || strings.Contains(strings.ToLower(string(mustJSON(t, s))), "s3cr3t") {
		t.Fatal("secret prints")
	}
}

func TestDurationsAndSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{{"30s", "30s"}, {"90m", "1h30m"}, {"1d", "1d"}, {"2w", "2w"}, {"1.5h", "1h30m"}, {"250ms", "250ms"}, {"0", "0s"}} {
		d, err := ParseDuration(tc.in)
		if err != nil || d.String() != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %s", tc.in, d, err, tc.want)
		}
	}
	for _, bad := range []string{"", "10", "10 s", "s", "1x", "-", "9999999999999w"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	for _, tc := range []struct{ in, want string }{{"1024", "1KiB"}, {"1MiB", "1MiB"}, {"10MB", "10000000"}, {"1.5KiB", "1536"}} {
		s, err := ParseSize(tc.in)
		if err != nil || s.String() != tc.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %s", tc.in, s, err, tc.want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1 XB", "NaN"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestMain(m *testing.M) {
	os.Unsetenv("DANDAN_TEST_UNSET_TOKEN")
	os.Exit(m.Run())
}

func TestRedacted(t *testing.T) {
	c, err := LoadFile("testdata/full.good.yaml", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	c.Parts["relay"] = PartSection{Enabled: false, Config: &testPart{URL: "http://shadow", Retries: 2}}
	b, err := Redacted(c)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, secret := range []string{"wall-token", "ops-token", "changeme", "literal"} {
		if strings.Contains(out, secret) {
			t.Errorf("redacted config shows %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"  listen: '[::]:8443'\n", "      token: '[redacted]'\n", "relay:\n  enabled: false\n  url: http://shadow\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("redacted config lacks %q:\n%s", want, out)
		}
	}
}

// TestExampleIsComplete: every key of the shared sections appears in the
// example config, so `dandan config example` documents all of them.
func TestExampleIsComplete(t *testing.T) {
	ex := Example()
	var walk func(prefix string, rt reflect.Type)
	walk = func(prefix string, rt reflect.Type) {
		for name, idx := range yamlFields(rt) {
			f := rt.FieldByIndex(idx)
			if !strings.Contains(ex, name+":") {
				t.Errorf("example config lacks %s%s", prefix, name)
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft.PkgPath() == rt.PkgPath() {
				walk(prefix+name+".", ft)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
	if _, err := Load("example.yaml", []byte(ex), Options{}); err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
}
