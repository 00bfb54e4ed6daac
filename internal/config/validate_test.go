package config

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// orders is a valid backends section; cases put it after their routes.
const orders = `backends:
  - name: orders
    match_labels: [app_name=orders]
`

// TestParseProblems has one case per class of problem, each asserting the
// whole message: file, line, field path and text.
func TestParseProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		// Decoding.
		{"unknown key", "routes:\n  - path_prefx: /a\n    backend: orders\n" + orders,
			`t.yml:2: routes[0].path_prefx: unknown key "path_prefx" (did you mean "path_prefix"?)`},
		{"unknown top-level key", "rotues: []\n" + orders,
			`t.yml:1: rotues: unknown key "rotues" (did you mean "routes"?)`},
		{"unknown key far from any", "default_response:\n  colour: red\n",
			`t.yml:2: default_response.colour: unknown key "colour"`},
		{"type error", "default_response:\n  status_code: \"abc\"\n",
			`t.yml:2: default_response.status_code: expected an integer, got string "abc"`},
		{"list where a string goes", "routes:\n  - path_prefix: [/a]\n    backend: orders\n" + orders,
			`t.yml:2: routes[0].path_prefix: expected a string, got a list`},
		{"duplicate key", "routes:\n  - path_prefix: /a\n    path_prefix: /b\n    backend: orders\n" + orders,
			`t.yml:3: routes[0].path_prefix: duplicate key (first at line 2)`},
		{"garbage duration", "routes:\n  - path_prefix: /a\n    backend: orders\n    timeout: soon\n" + orders,
			`t.yml:4: routes[0].timeout: invalid duration "soon": want a number with a unit, such as "30s", "1m" or "1h30m"`},
		{"negative duration", "server:\n  idle_timeout: -5s\n",
			`t.yml:2: server.idle_timeout: duration "-5s" must not be negative`},
		// Routes.
		{"path_prefix missing", "routes:\n  - backend: orders\n" + orders,
			`t.yml:2: routes[0].path_prefix: required, such as "/api"`},
		{"path_prefix without slash", "routes:\n  - path_prefix: api\n    backend: orders\n" + orders,
			`t.yml:2: routes[0].path_prefix: must start with "/", got "api"`},
		{"duplicate path_prefix", "routes:\n  - path_prefix: /a\n    backend: orders\n  - path_prefix: /a\n    backend: orders\n" + orders,
			`t.yml:4: routes[1].path_prefix: duplicate path_prefix "/a" (also routes[0])`},
		{"duplicate path_prefix on one host", "routes:\n  - path_prefix: /a\n    host: a.example.com\n    backend: orders\n" +
			"  - path_prefix: /a\n    host: A.Example.com.\n    backend: orders\n" + orders,
			`t.yml:5: routes[1].path_prefix: duplicate path_prefix "/a" for host "a.example.com" (also routes[0])`},
		{"host wildcard of two labels", hostRoute("*.*.example.com"),
			`t.yml:3: routes[0].host: "*.*.example.com": a wildcard covers exactly one label, like "*.example.com"`},
		{"host wildcard inside a label", hostRoute("api*.example.com"),
			`t.yml:3: routes[0].host: "api*.example.com": a wildcard covers exactly one label, like "*.example.com"`},
		{"host wildcard not first", hostRoute("api.*.com"),
			`t.yml:3: routes[0].host: "api.*.com": a wildcard covers exactly one label, like "*.example.com"`},
		{"host wildcard not quoted", "routes:\n  - path_prefix: /a\n    host: *.example.com\n    backend: orders\n" + orders,
			`t.yml:3: invalid YAML: did not find expected alphabetic or numeric character; a wildcard host must be quoted, like host: "*.example.com" (YAML reads * as an alias)`},
		{"host wildcard not quoted, flow style", "routes:\n  - {path_prefix: /a, host: *.example.com, backend: orders}\n" + orders,
			`t.yml:2: invalid YAML: did not find expected alphabetic or numeric character; a wildcard host must be quoted, like host: "*.example.com" (YAML reads * as an alias)`},
		{"host wildcard alone", hostRoute("*"),
			`t.yml:3: routes[0].host: "*": a wildcard alone would match every host; leave host out instead`},
		{"host with port", hostRoute("api.example.com:8080"),
			`t.yml:3: routes[0].host: "api.example.com:8080": leave the port out (the request's port is ignored)`},
		{"host with scheme", hostRoute("https://api.example.com"),
			`t.yml:3: routes[0].host: "https://api.example.com": a host name, not a URL: drop the scheme, like "api.example.com"`},
		{"host with path", hostRoute("api.example.com/v1"),
			`t.yml:3: routes[0].host: "api.example.com/v1": a host name has no path; match paths with path_prefix`},
		{"host IPv6", hostRoute("[::1]"),
			`t.yml:3: routes[0].host: "[::1]": an IPv6 address is not a host name; route by name`},
		{"host empty label", hostRoute("api..example.com"),
			`t.yml:3: routes[0].host: "api..example.com": empty label (a leading dot, or two dots in a row)`},
		{"host leading dot", hostRoute(".example.com"),
			`t.yml:3: routes[0].host: ".example.com": empty label (a leading dot, or two dots in a row)`},
		{"host two trailing dots", hostRoute("example.com.."),
			`t.yml:3: routes[0].host: "example.com..": empty label (a leading dot, or two dots in a row)`},
		{"host IDN not in punycode", hostRoute("bücher.example"),
			`t.yml:3: routes[0].host: "bücher.example": write an internationalised name in its ASCII (punycode) form, such as "xn--bcher-kva.example" for "bücher.example"`},
		{"host bad character", hostRoute("api example.com"),
			`t.yml:3: routes[0].host: "api example.com": " " is not allowed in a host name (letters, digits, "-" and "_")`},
		{"host label with a hyphen at its end", hostRoute("api-.example.com"),
			`t.yml:3: routes[0].host: "api-.example.com": label "api-" starts or ends with "-"`},
		{"host label too long", hostRoute(strings.Repeat("a", 64) + ".example.com"),
			`t.yml:3: routes[0].host: "` + strings.Repeat("a", 64) + `.example.com": label "` + strings.Repeat("a", 64) + `" is longer than 63 characters`},
		{"host too long", hostRoute(strings.Repeat("abcdefghi.", 26) + "com"),
			`t.yml:3: routes[0].host: "` + strings.Repeat("abcdefghi.", 26) + `com": longer than 253 characters`},
		{"backend missing", "routes:\n  - path_prefix: /a\n" + orders,
			`t.yml:2: routes[0].backend: required: the name of one of the backends`},
		{"unknown backend, near", "routes:\n  - path_prefix: /a\n    backend: orders\n  - path_prefix: /b\n    backend: order\n" + orders,
			`t.yml:5: routes[1].backend: unknown backend "order" (did you mean "orders"?)`},
		{"unknown backend, far", "routes:\n  - path_prefix: /a\n    backend: payment\n" + orders,
			`t.yml:3: routes[0].backend: unknown backend "payment"`},
		// Backends.
		{"backend name missing", "backends:\n  - match_labels: [a=b]\n",
			`t.yml:2: backends[0].name: required`},
		{"duplicate backend name", orders + "  - name: orders\n    urls: [http://o:80]\n",
			`t.yml:4: backends[1].name: duplicate backend name "orders" (also backends[0])`},
		{"no labels and no urls", "backends:\n  - name: orders\n    port: 80\n",
			`t.yml:2: backends[0]: needs match_labels or urls (or both)`},
		{"label without =", "backends:\n  - name: orders\n    match_labels:\n      - app_name\n",
			`t.yml:4: backends[0].match_labels[0]: label "app_name" is not key=value`},
		{"label with empty key", "backends:\n  - name: orders\n    match_labels:\n      - a=b\n      - =orders\n",
			`t.yml:5: backends[0].match_labels[1]: label "=orders" has an empty key`},
		{"label key with spaces", "backends:\n  - name: orders\n    match_labels: [\"app = orders\"]\n",
			`t.yml:3: backends[0].match_labels[0]: label "app = orders" has spaces around its key`},
		{"label key repeated", "backends:\n  - name: orders\n    match_labels: [env=a, env=b]\n",
			`t.yml:3: backends[0].match_labels[1]: repeats label key "env" (also match_labels[0])`},
		{"url without scheme", "backends:\n  - name: orders\n    urls:\n      - orders:8080\n",
			`t.yml:4: backends[0].urls[0]: url "orders:8080" must start with http://, h2c:// or https://, such as "http://host:8080"`},
		{"url unparsable", "backends:\n  - name: orders\n    urls: [\"http://orders:80x\"]\n",
			`t.yml:3: backends[0].urls[0]: invalid url "http://orders:80x": invalid port ":80x" after host`},
		{"url without host", "backends:\n  - name: orders\n    urls: [\"http://:80\"]\n",
			`t.yml:3: backends[0].urls[0]: url "http://:80" has no host, want "http://host:port"`},
		{"url port out of range", "backends:\n  - name: orders\n    urls: [\"http://orders:70000\"]\n",
			`t.yml:3: backends[0].urls[0]: url "http://orders:70000": port must be in 1..65535, got 70000`},
		{"url with path", "backends:\n  - name: orders\n    urls: [\"http://orders/api\"]\n",
			`t.yml:3: backends[0].urls[0]: url "http://orders/api" must not have a path ("/api"); routes pass the request path through`},
		{"url with query", "backends:\n  - name: orders\n    urls: [\"http://orders/?a=1\"]\n",
			`t.yml:3: backends[0].urls[0]: url "http://orders/?a=1" must not have a query`},
		{"backend port out of range", "backends:\n  - name: orders\n    match_labels: [a=b]\n    port: 65536\n",
			`t.yml:4: backends[0].port: must be in 0..65535, got 65536`},
		// Default response and server.
		{"status_code too low", "default_response:\n  body: nope\n  status_code: 99\n",
			`t.yml:3: default_response.status_code: must be in 100..599, got 99`},
		{"status_code too high", "default_response:\n  status_code: 600\n",
			`t.yml:2: default_response.status_code: must be in 100..599, got 600`},
		{"admin_port out of range", "server:\n  admin_port: -1\n",
			`t.yml:2: server.admin_port: must be in 0..65535, got -1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse([]byte(tc.in), "t.yml")
			wantProblems(t, cfg, err, tc.want)
		})
	}
}

// hostRoute is a config with one route for host h.
func hostRoute(h string) string {
	return "routes:\n  - path_prefix: /a\n    host: " + strconv.Quote(h) + "\n    backend: orders\n" + orders
}

// TestParseValidHosts checks the host forms that are accepted, and that a
// prefix may repeat on different hosts (and once without a host).
func TestParseValidHosts(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"api.example.com", "API.Example.COM", "api.example.com.", "*.example.com", "*.com",
		"localhost", "xn--bcher-kva.example", "10.0.0.1", "my_service", "a-b.c-d.e", strings.Repeat("a", 63) + ".com"} {
		if _, err := Parse([]byte(hostRoute(h)), "t.yml"); err != nil {
			t.Errorf("host %q: Parse = %v, want no error", h, err)
		}
	}
	in := "routes:\n" +
		"  - {path_prefix: /, host: a.example.com, backend: orders}\n" +
		"  - {path_prefix: /, host: \"*.example.com\", backend: orders}\n" +
		"  - {path_prefix: /, host: b.example.com, backend: orders}\n" +
		"  - {path_prefix: /, backend: orders}\n" + orders
	cfg, err := Parse([]byte(in), "t.yml")
	if err != nil {
		t.Fatalf("Parse = %v, want no error", err)
	}
	var names []string
	for _, r := range cfg.Routes {
		names = append(names, r.Name())
	}
	if want := []string{"a.example.com/", "*.example.com/", "b.example.com/", "/"}; !reflect.DeepEqual(names, want) {
		t.Errorf("route names = %q, want %q", names, want)
	}
}

// TestParseValidURLs checks the url forms that are accepted.
func TestParseValidURLs(t *testing.T) {
	t.Parallel()
	in := "backends:\n  - name: o\n    urls: [http://o:80, http://o, https://o:8443/, \"http://[::1]:80\", HTTP://o:81]\n"
	if _, err := Parse([]byte(in), "t.yml"); err != nil {
		t.Errorf("Parse = %v, want no error", err)
	}
}

// TestParseAllProblems checks that problems anywhere are all reported, in
// file order, and that a decode problem is not repeated by validation.
func TestParseAllProblems(t *testing.T) {
	t.Parallel()
	in := `routes:
  - path_prefx: /a
    backend: nope
  - path_prefix: b
    backend: orders
default_response:
  status_code: abc
backends:
  - name: orders
    match_labels: [x]
server:
  admin_port: 70000
`
	want := `t.yml:2: routes[0].path_prefx: unknown key "path_prefx" (did you mean "path_prefix"?)
t.yml:4: routes[1].path_prefix: must start with "/", got "b"
t.yml:7: default_response.status_code: expected an integer, got string "abc"
t.yml:10: backends[0].match_labels[0]: label "x" is not key=value
t.yml:12: server.admin_port: must be in 0..65535, got 70000`
	cfg, err := Parse([]byte(in), "t.yml")
	wantProblems(t, cfg, err, want)
}

// TestValidateBuiltInCode checks Validate on a Config made in code: no file
// or lines, just field paths.
func TestValidateBuiltInCode(t *testing.T) {
	t.Parallel()
	cfg := &Config{
		Routes:   []Route{{PathPrefix: "/a", Backend: "ordres", Timeout: Duration(-time.Second)}},
		Backends: []Backend{{Name: "orders", URLs: []string{"http://o:80"}}},
	}
	want := `routes[0].backend: unknown backend "ordres" (did you mean "orders"?)
routes[0].timeout: must not be negative, got -1s
default_response.status_code: must be in 100..599, got 0`
	err := cfg.Validate()
	if err == nil || err.Error() != want {
		t.Errorf("Validate() =\n%v\nwant\n%s", err, want)
	}
	cfg.ApplyDefaults()
	cfg.Routes[0].Backend = "orders"
	cfg.Routes[0].Timeout = 0
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() after fixes = %v, want nil", err)
	}
}

func TestApplyDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   DefaultResponse
		want DefaultResponse
	}{
		{"absent", DefaultResponse{}, DefaultResponse{Body: DefaultBody, StatusCode: DefaultStatusCode}},
		{"status without body keeps empty body", DefaultResponse{StatusCode: 403}, DefaultResponse{StatusCode: 403}},
		{"body without status", DefaultResponse{Body: "gone"}, DefaultResponse{Body: "gone", StatusCode: DefaultStatusCode}},
		{"both set", DefaultResponse{Body: "x", StatusCode: 418}, DefaultResponse{Body: "x", StatusCode: 418}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := &Config{
				DefaultResponse: tc.in,
				Routes:          []Route{{}, {Timeout: Duration(time.Second)}},
				Server:          Server{IdleTimeout: Duration(time.Minute)},
			}
			cfg.ApplyDefaults()
			if cfg.DefaultResponse != tc.want {
				t.Errorf("default_response = %+v, want %+v", cfg.DefaultResponse, tc.want)
			}
			if cfg.Routes[0].Timeout.D() != DefaultRouteTimeout || cfg.Routes[1].Timeout.D() != time.Second {
				t.Errorf("route timeouts = %v, %v", cfg.Routes[0].Timeout, cfg.Routes[1].Timeout)
			}
			want := Server{
				ReadHeaderTimeout: Duration(DefaultReadHeaderTimeout),
				IdleTimeout:       Duration(time.Minute),
				ShutdownGrace:     Duration(DefaultShutdownGrace),
				MaxHeaderBytes:    DefaultMaxHeaderBytes,
			}
			if !reflect.DeepEqual(cfg.Server, want) {
				t.Errorf("server = %+v, want %+v", cfg.Server, want)
			}
		})
	}
}

func TestParseStatusWithoutBody(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte("default_response:\n  status_code: 403\n"), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultResponse != (DefaultResponse{StatusCode: 403}) {
		t.Errorf("default_response = %+v, want status 403 with an empty body", cfg.DefaultResponse)
	}
}

func TestSelector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		labels  []string
		want    map[string]string
		wantErr string
	}{
		{"none", nil, nil, ""},
		{"pairs", []string{"app_name=orders", "env=production"}, map[string]string{"app_name": "orders", "env": "production"}, ""},
		{"empty value", []string{"canary="}, map[string]string{"canary": ""}, ""},
		{"split on first =", []string{"expr=a=b"}, map[string]string{"expr": "a=b"}, ""},
		{"no =", []string{"app"}, nil, `parsing match_labels of backend "b": label "app" is not key=value`},
		{"empty key", []string{"=x"}, nil, `label "=x" has an empty key`},
		{"repeated key", []string{"a=1", "a=2"}, nil, `label key "a" repeated`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Backend{Name: "b", MatchLabels: tc.labels}.Selector()
			checkErr(t, err, tc.wantErr)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Selector() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"orders", "orders", 0}, {"order", "orders", 1}, {"ordres", "orders", 2},
		{"", "abc", 3}, {"payment", "orders", 6}, {"zähler", "zahler", 1},
	}
	for _, tc := range tests {
		t.Run(tc.a+"/"+tc.b, func(t *testing.T) {
			t.Parallel()
			if got := editDistance(tc.a, tc.b); got != tc.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
	if got := suggest("x", nil); got != "" || strings.Contains(suggest("orders", []string{"orders"}), "mean") {
		t.Errorf("suggest must say nothing without a near, different candidate")
	}
}
