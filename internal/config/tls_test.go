package config

import (
	"strings"
	"testing"
)

func TestTLSConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     string // a problem's text; "" for a valid block
	}{
		{"files", "server:\n  tls:\n    port: 8443\n    certificates:\n      - {cert_file: a.pem, key_file: a-key.pem}\n", ""},
		{"acme", "server:\n  tls:\n    port: 8443\n    acme: {email: ops@example.com, domains: [api.example.com]}\n", ""},
		{"nothing to serve", "server:\n  tls: {port: 8443}\n", "t.yml:2: server.tls: needs certificates, acme, or both"},
		{"missing key file", "server:\n  tls:\n    port: 8443\n    certificates:\n      - {cert_file: a.pem}\n",
			"server.tls.certificates[0].key_file: required"},
		{"bad version", "server:\n  tls:\n    port: 8443\n    min_version: \"1.1\"\n    certificates: [{cert_file: a, key_file: b}]\n",
			`server.tls.min_version: must be "1.2" or "1.3", got "1.1"`},
		{"bad port", "server:\n  tls:\n    port: 70000\n    certificates: [{cert_file: a, key_file: b}]\n", "server.tls.port: must be in 0..65535"},
		{"bad domain", "server:\n  tls:\n    port: 8443\n    acme: {domains: [\"*.example.com\"]}\n",
			`server.tls.acme.domains[0]: must be a DNS name such as "api.example.com", got "*.example.com"`},
		{"bad challenge", "server:\n  tls:\n    port: 8443\n    acme: {domains: [a.example.com], challenges: [dns-01]}\n",
			`server.tls.acme.challenges[0]: must be http-01 or tls-alpn-01, got "dns-01"`},
		{"plain directory", "server:\n  tls:\n    port: 8443\n    acme: {domains: [a.example.com], directory: \"http://ca.test/dir\"}\n",
			`server.tls.acme.directory: must be an https:// URL, got "http://ca.test/dir"`},
		{"unknown key", "server:\n  tls:\n    port: 8443\n    cert_file: a.pem\n", `unknown key "cert_file"`},
	} {
		cfg, err := Parse([]byte(tc.in), "t.yml")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		case tc.want == "" && cfg.Server.TLS.MinVersion != "1.2":
			t.Errorf("%s: min_version default %q", tc.name, cfg.Server.TLS.MinVersion)
		}
	}
	cfg, err := Parse([]byte("server:\n  tls:\n    port: 8443\n    acme: {domains: [api.example.com]}\n"), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Server.TLS.ACME
	if a.Directory != DefaultACMEDirectory || a.Storage != DefaultACMEStorage || len(a.Challenges) != 2 || !cfg.Server.HTTP2On() || cfg.Server.H2C {
		t.Errorf("defaults: %+v http2 %v h2c %v", a, cfg.Server.HTTP2On(), cfg.Server.H2C)
	}
}
