package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestLoadSeed(t *testing.T) {
	t.Parallel()
	cfg, err := Load("testdata/seed.yml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	timeout := Duration(DefaultRouteTimeout)
	want := &Config{
		Routes: []Route{
			{PathPrefix: "/api/payment", Backend: "payment", Timeout: timeout},
			{PathPrefix: "/api/orders", Backend: "orders", Timeout: timeout},
		},
		DefaultResponse: DefaultResponse{Body: "This is not reachable", StatusCode: 403},
		Backends: []Backend{
			{Name: "payment", MatchLabels: []string{"app_name=payment", "env=production"}, Balance: BalanceRandom},
			{Name: "orders", MatchLabels: []string{"app_name=orders", "env=production"}, Balance: BalanceRandom},
		},
		Server: Server{
			ReadHeaderTimeout: Duration(DefaultReadHeaderTimeout),
			IdleTimeout:       Duration(DefaultIdleTimeout),
			ShutdownGrace:     Duration(DefaultShutdownGrace),
			MaxHeaderBytes:    DefaultMaxHeaderBytes,
		},
		Path: "testdata/seed.yml",
	}
	got := *cfg
	got.lines = nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("Load(seed) =\n%+v\nwant\n%+v", got, *want)
	}
}

func TestLoadFull(t *testing.T) {
	t.Parallel()
	cfg, err := Load("testdata/full.yml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.Routes[1].Timeout.D(); got != 90*time.Second {
		t.Errorf("routes[1].timeout = %v, want 1m30s", got)
	}
	if got := cfg.Routes[0].Host; got != "pay.example.com" {
		t.Errorf("routes[0].host = %q, want pay.example.com", got)
	}
	if got := cfg.Server.IdleTimeout.D(); got != 2*time.Minute {
		t.Errorf("server.idle_timeout = %v, want 2m", got)
	}
	if cfg.Server.AdminPort != 9901 || cfg.Backends[0].Port != 8080 || cfg.Backends[0].Network != "rgate-demo" {
		t.Errorf("server/backends = %+v %+v", cfg.Server, cfg.Backends[0])
	}
	if got := cfg.Backends[1].URLs; len(got) != 2 {
		t.Errorf("backends[1].urls = %q, want 2", got)
	}
}

// TestLoadInvalid checks that every problem in a file is reported, in file
// order, as `rgate validate` prints them.
func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/invalid.yml")
	ps, ok := errors.AsType[Problems](err)
	if !ok {
		t.Fatalf("Load error %v (%T) is not a Problems", err, err)
	}
	want := `testdata/invalid.yml:4: routes[1].path_prefix: must start with "/", got "api/orders"
testdata/invalid.yml:5: routes[1].backend: unknown backend "order" (did you mean "orders"?)
testdata/invalid.yml:6: routes[2].path_prefx: unknown key "path_prefx" (did you mean "path_prefix"?)
testdata/invalid.yml:9: default_response.status_code: must be in 100..599, got 700
testdata/invalid.yml:13: backends[0].match_labels[0]: label "app_name" is not key=value
testdata/invalid.yml:15: backends[1].urls[0]: url "http://orders:80/v1" must not have a path ("/v1"); routes pass the request path through`
	if got := ps.Error(); got != want {
		t.Errorf("Load(invalid) problems:\n%s\nwant:\n%s", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadSetsPath(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rgate.yml")
	if err := os.WriteFile(path, []byte("routes: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Path != path {
		t.Errorf("Path = %q, want %q", cfg.Path, path)
	}
	if cfg.DefaultResponse != (DefaultResponse{Body: DefaultBody, StatusCode: DefaultStatusCode}) {
		t.Errorf("default_response = %+v, want the defaults", cfg.DefaultResponse)
	}
}

// TestParseFileProblems covers problems with the file as a whole: empty,
// not YAML, several documents, not a mapping.
func TestParseFileProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "t.yml: file is empty"},
		{"whitespace", "\n  \n", "t.yml: file is empty"},
		{"comments only", "# nothing yet\n", "t.yml: file is empty"},
		{"document marker only", "---\n", "t.yml: file is empty"},
		{"null", "null\n", "t.yml: file is empty"},
		{"syntax error", "routes:\n  - path_prefix: \"/a\n", "t.yml:2: invalid YAML: found unexpected end of stream"},
		{"two documents", "routes: []\n---\nroutes: []\n", `t.yml:2: found a second YAML document ("---"); a config file holds exactly one`},
		{"root is a list", "- a\n", "t.yml:1: expected a mapping, got a list"},
		{"root is a string", "hello\n", `t.yml:1: expected a mapping, got string "hello"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse([]byte(tc.in), "t.yml")
			wantProblems(t, cfg, err, tc.want)
		})
	}
}

// TestParseEmptyMappingIsValid: no routes and no backends is valid when the
// file says so; every request then gets default_response.
func TestParseEmptyMappingIsValid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"{}\n", "routes: []\nbackends: []\n", "default_response: {status_code: 418}\n"} {
		if _, err := Parse([]byte(in), "t.yml"); err != nil {
			t.Errorf("Parse(%q) = %v, want no error", in, err)
		}
	}
}

// wantProblems fails t unless err is a Problems whose text is exactly want.
func wantProblems(t *testing.T, cfg *Config, err error, want string) {
	t.Helper()
	if cfg != nil {
		t.Errorf("got a config despite problems: %+v", cfg)
	}
	ps, ok := errors.AsType[Problems](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a Problems", err, err)
	}
	if got := ps.Error(); got != want {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

// FuzzParse checks that Parse never panics and that whatever it rejects comes
// back as Problems.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"seed.yml", "full.yml", "invalid.yml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("base: &b {path_prefix: /a}\nroutes:\n  - <<: *b\n    backend: x\n    bogus: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "f.yml")
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without an error")
			}
			return
		}
		if _, ok := errors.AsType[Problems](err); !ok {
			t.Fatalf("error %v (%T) is not a Problems", err, err)
		}
	})
}
