package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateLoadsCertificates: validate names a certificate file that
// does not load, and exits 1.
func TestValidateLoadsCertificates(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rgate.yml")
	bad := filepath.Join(dir, "missing.pem")
	body := "server:\n  tls:\n    port: 8443\n    certificates:\n      - {cert_file: " + bad + ", key_file: " + bad + "}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"validate", "--config", cfg}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "missing.pem") {
		t.Errorf("validate: exit %d, stderr %q; want 1 naming missing.pem", code, errOut.String())
	}
}

// TestValidateDockerEndpoints: validate loads each engine's TLS files and
// names one that does not load (exit 1), and warns about a plain tcp://
// engine off loopback (exit 0).
func TestValidateDockerEndpoints(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		cfg := filepath.Join(dir, "rgate.yml")
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	missing := filepath.Join(dir, "missing-ca.pem")
	cfg := write("docker:\n  endpoints:\n    - name: b\n      host: tcp://10.0.0.12:2376\n      tls: {ca_file: " + missing + "}\n")
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "--config", cfg}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "docker.endpoints[0]") || !strings.Contains(errOut.String(), "missing-ca.pem") {
		t.Errorf("validate: exit %d, stderr %q; want 1 naming docker.endpoints[0] and missing-ca.pem", code, errOut.String())
	}
	cfg = write("docker:\n  endpoints:\n    - {name: a, host: \"unix:///var/run/docker.sock\"}\n    - {name: b, host: \"tcp://10.0.0.12:2375\"}\n")
	out.Reset()
	errOut.Reset()
	if code := run([]string{"validate", "--config", cfg}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "warning: "+cfg+":4: docker.endpoints[1].host: \"tcp://10.0.0.12:2375\" without tls") {
		t.Errorf("validate: exit %d, stdout %q, stderr %q; want 0 with a warning for the plain tcp engine", code, out.String(), errOut.String())
	}
}
