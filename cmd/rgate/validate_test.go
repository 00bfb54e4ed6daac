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
