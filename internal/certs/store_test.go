package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePair writes a self-signed ECDSA P-256 certificate for names (with
// serial as its serial number) and its key under dir, and returns them.
func writePair(t *testing.T, dir, base string, serial int64, names ...string) Pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Duration(serial) * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := Pair{CertFile: filepath.Join(dir, base+".pem"), KeyFile: filepath.Join(dir, base+"-key.pem")}
	writeAtomically(t, p.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeAtomically(t, p.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	return p
}

// writeAtomically replaces path as an editor or a certificate tool does:
// a temporary file renamed over it.
func writeAtomically(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func served(t *testing.T, s *Store, sni string) *x509.Certificate {
	t.Helper()
	c, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: sni})
	if err != nil {
		t.Fatalf("SNI %q: %v", sni, err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestChoiceBySNI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	api := writePair(t, dir, "api", 10, "api.example.com")
	wild := writePair(t, dir, "wild", 20, "*.example.com", "example.com")
	other := writePair(t, dir, "other", 30, "other.test")
	s, err := New(Options{Files: []Pair{api, wild, other}})
	if err != nil {
		t.Fatal(err)
	}
	for sni, want := range map[string]int64{
		"api.example.com": 10, "API.Example.COM.": 10, "www.example.com": 20, "example.com": 20,
		"a.b.example.com": 10, // a wildcard covers one label: the default (the first) answers
		"other.test":      30, "": 10, "unknown.test": 10,
	} {
		if got := served(t, s, sni).SerialNumber.Int64(); got != want {
			t.Errorf("SNI %q got certificate %d, want %d", sni, got, want)
		}
	}
}

func TestBadFileAtStartNamesIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writePair(t, dir, "good", 1, "a.test")
	bad := Pair{CertFile: filepath.Join(dir, "missing.pem"), KeyFile: good.KeyFile}
	_, err := New(Options{Files: []Pair{good, bad}})
	if err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("New = %v, want an error naming missing.pem", err)
	}
}

func TestReloadKeepsOldCertificateOnBadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := writePair(t, dir, "c", 5, "a.test")
	s, err := New(Options{Files: []Pair{p}})
	if err != nil {
		t.Fatal(err)
	}
	writeAtomically(t, p.CertFile, []byte("not a certificate"))
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), p.CertFile) {
		t.Fatalf("Reload = %v, want an error naming %s", err, p.CertFile)
	}
	if got := served(t, s, "a.test").SerialNumber.Int64(); got != 5 {
		t.Errorf("after a bad reload the certificate served is %d, want the old one (5)", got)
	}
	if st := s.Status(); len(st) != 1 || st[0].LastError == "" || st[0].Source != SourceFile {
		t.Errorf("status after a bad reload = %+v, want the error shown", st)
	}
	writePair(t, dir, "c", 6, "a.test")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := served(t, s, "a.test").SerialNumber.Int64(); got != 6 {
		t.Errorf("after a good reload the certificate served is %d, want 6", got)
	}
	if st := s.Status(); st[0].LastError != "" || st[0].Names[0] != "a.test" {
		t.Errorf("status after a good reload = %+v", st)
	}
}

func TestWatchReloadsOnReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := writePair(t, dir, "c", 7, "w.test")
	s, err := New(Options{Files: []Pair{p}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.Watch(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond) // the watch is set up
	writePair(t, dir, "c", 8, "w.test")
	deadline := time.Now().Add(5 * time.Second)
	for served(t, s, "w.test").SerialNumber.Int64() != 8 {
		if time.Now().After(deadline) {
			t.Fatal("the replaced certificate was not picked up within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
