package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestDockerConfig(t *testing.T) {
	t.Parallel()
	ep := func(body string) string { return "docker:\n  endpoints:\n" + body }
	for _, tc := range []struct {
		name, in string
		want     string // a problem's whole text; "" for a valid block
	}{
		{"two engines", ep("    - {name: host-a, host: \"unix:///var/run/docker.sock\"}\n" +
			"    - name: host-b\n      host: tcp://10.0.0.12:2376\n      tls: {ca_file: ca.pem, cert_file: cert.pem, key_file: key.pem}\n      address: 10.0.0.12\n"), ""},
		{"empty block", "docker: {}\n", ""},
		{"name missing", ep("    - {host: \"unix:///a.sock\"}\n"),
			`t.yml:3: docker.endpoints[0].name: required: a name for this engine, such as "host-a"`},
		{"bad name", ep("    - {name: \"host a\", host: \"unix:///a.sock\"}\n"),
			`t.yml:3: docker.endpoints[0].name: must be 1-63 letters, digits, '.', '_' or '-', got "host a"`},
		{"duplicate name", ep("    - {name: a, host: \"unix:///a.sock\"}\n    - {name: a, host: \"unix:///b.sock\"}\n"),
			`t.yml:4: docker.endpoints[1].name: duplicate endpoint name "a" (also docker.endpoints[0])`},
		{"host missing", ep("    - {name: a}\n"),
			`t.yml:3: docker.endpoints[0].host: required: unix:///path/to/docker.sock or tcp://host:port`},
		{"ssh host", ep("    - {name: a, host: \"ssh://me@h\"}\n"),
			`t.yml:3: docker.endpoints[0].host: "ssh://me@h": the scheme must be unix:// or tcp:// (reach an ssh-only engine through a socket proxy or TLS)`},
		{"unix with two slashes", ep("    - {name: a, host: \"unix://var/run/docker.sock\"}\n"),
			`t.yml:3: docker.endpoints[0].host: "unix://var/run/docker.sock": a unix socket is unix:///absolute/path (three slashes)`},
		{"tcp without port", ep("    - {name: a, host: \"tcp://10.0.0.12\"}\n"),
			`t.yml:3: docker.endpoints[0].host: "tcp://10.0.0.12": want tcp://host:port (2376 is the usual TLS port)`},
		{"tcp with path", ep("    - {name: a, host: \"tcp://10.0.0.12:2376/x\"}\n"),
			`t.yml:3: docker.endpoints[0].host: "tcp://10.0.0.12:2376/x": want tcp://host:port, with no path, user or query`},
		{"same engine twice", ep("    - {name: a, host: \"unix:///a.sock\"}\n    - {name: b, host: \"unix:///a.sock\"}\n"),
			`t.yml:4: docker.endpoints[1].host: the same engine as docker.endpoints[0] ("unix:///a.sock"): its containers would be counted twice`},
		{"tls on a socket", ep("    - {name: a, host: \"unix:///a.sock\", tls: {ca_file: ca.pem}}\n"),
			`t.yml:3: docker.endpoints[0].tls: only for tcp:// hosts (a unix socket is not TLS)`},
		{"empty tls", ep("    - {name: a, host: \"tcp://h:2376\", tls: {}}\n"),
			`t.yml:3: docker.endpoints[0].tls: needs ca_file, or cert_file and key_file, or all three`},
		{"cert without key", ep("    - {name: a, host: \"tcp://h:2376\", tls: {cert_file: c.pem}}\n"),
			`t.yml:3: docker.endpoints[0].tls.key_file: required with cert_file: the client certificate's PEM private key`},
		{"key without cert", ep("    - {name: a, host: \"tcp://h:2376\", tls: {key_file: k.pem}}\n"),
			`t.yml:3: docker.endpoints[0].tls.cert_file: required with key_file: the PEM client certificate`},
		{"address with port", ep("    - {name: a, host: \"tcp://h:2376\", address: \"10.0.0.1:80\"}\n"),
			`t.yml:3: docker.endpoints[0].address: must be an IP address or a host name, without scheme or port, got "10.0.0.1:80"`},
		{"unknown key", ep("    - {name: a, host: \"unix:///a.sock\", adress: x}\n"),
			`t.yml:3: docker.endpoints[0].adress: unknown key "adress" (did you mean "address"?)`},
	} {
		_, err := Parse([]byte(tc.in), "t.yml")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s: error\n %v\nwant\n %s", tc.name, err, tc.want)
		}
	}
}

func TestDockerDefaultsAndWarnings(t *testing.T) {
	t.Parallel()
	in := "docker:\n  endpoints:\n" +
		"    - {name: local, host: \"unix:///var/run/docker.sock\"}\n" +
		"    - {name: tls, host: \"tcp://b.example:2376\", tls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}}\n" +
		"    - {name: plain, host: \"tcp://10.0.0.13:2375\"}\n" +
		"    - {name: proxy, host: \"tcp://127.0.0.1:2375\", address: 10.0.0.14}\n"
	cfg, err := Parse([]byte(in), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, e := range cfg.Docker.Endpoints {
		addrs = append(addrs, e.Address)
	}
	if want := []string{"", "b.example", "10.0.0.13", "10.0.0.14"}; !reflect.DeepEqual(addrs, want) {
		t.Errorf("addresses = %q, want %q (a socket's stays empty: loopback)", addrs, want)
	}
	ws := cfg.DockerWarnings()
	if len(ws) != 1 || !strings.HasPrefix(ws[0].String(), `t.yml:5: docker.endpoints[2].host: "tcp://10.0.0.13:2375" without tls: `) {
		t.Errorf("warnings = %v, want one for the plain tcp engine off loopback", ws)
	}
	seed, err := Parse([]byte("routes: []\n"), "t.yml")
	if err != nil || len(seed.Docker.Endpoints) != 0 || len(seed.DockerWarnings()) != 0 {
		t.Errorf("no docker block: %v, %+v", err, seed.Docker)
	}
}
