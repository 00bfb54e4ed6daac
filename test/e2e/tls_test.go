package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate for names (serial distinguishes issues) and
// its key as base.pem and base-key.pem in dir, each replaced atomically.
func (ca *testCA) issue(t *testing.T, dir, base string, serial int64, client bool, names ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, base+".pem"), filepath.Join(dir, base+"-key.pem")
	replaceFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	replaceFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return certFile, keyFile
}

func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// tlsGET does one GET on a new connection to 127.0.0.1:port with SNI name
// and returns the answer and the serial of the certificate served.
func tlsGET(t *testing.T, port int, name, path string, cfg *tls.Config, h2 bool) (*http.Response, []byte, int64, error) {
	t.Helper()
	c := cfg.Clone()
	c.ServerName = name
	tr := &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: h2, DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(port))
		}}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + name + path)
	if err != nil {
		return nil, nil, 0, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var serial int64
	if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 {
		serial = res.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	return res, body, serial, nil
}

// TestTLS: certificates by SNI, HTTP/2 and HTTP/1.1 over TLS (Go and curl
// clients), HSTS, X-Forwarded-Proto https upstream, a certificate replaced
// on disk seen by the next connection, and a bad replacement that keeps
// the old one and says why in /health.
func TestTLS(t *testing.T) {
	t.Parallel()
	ca, dir := newTestCA(t), t.TempDir()
	aCert, aKey := ca.issue(t, dir, "a", 10, false, "a.example.test")
	bCert, bKey := ca.issue(t, dir, "b", 20, false, "b.example.test", "*.b.example.test")
	up := newRecorder(t, nil)
	tlsPort := freePort(t)
	cfg := staticRoutes([3]string{"/t", up.url(), ""}) + fmt.Sprintf(`server:
  tls:
    port: %d
    hsts: "max-age=31536000"
    certificates:
      - {cert_file: %s, key_file: %s}
      - {cert_file: %s, key_file: %s}
`, tlsPort, aCert, aKey, bCert, bKey)
	g := startGateway(t, cfg)
	client := &tls.Config{RootCAs: ca.pool}
	for _, tc := range []struct {
		sni    string
		serial int64
		h2     bool
	}{
		{"a.example.test", 10, true}, {"b.example.test", 20, true}, {"x.b.example.test", 20, false}, {"other.test", 0, false},
	} {
		res, body, serial, err := tlsGET(t, tlsPort, tc.sni, "/t/x", client, tc.h2)
		if tc.serial == 0 { // no certificate covers it: the default one fails verification
			if err == nil {
				t.Errorf("SNI %s: verified a certificate that does not cover it", tc.sni)
			}
			continue
		}
		if err != nil {
			t.Fatalf("SNI %s: %v", tc.sni, err)
		}
		wantProto := 1
		if tc.h2 {
			wantProto = 2
		}
		if serial != tc.serial || res.StatusCode != 200 || string(body) != "ok" || res.ProtoMajor != wantProto ||
			res.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
			t.Errorf("SNI %s: certificate %d, %s %d %q, HSTS %q", tc.sni, serial, res.Proto, res.StatusCode, body, res.Header.Get("Strict-Transport-Security"))
		}
	}
	for _, r := range up.requests() {
		if r.Header.Get("X-Forwarded-Proto") != "https" {
			t.Errorf("the upstream received X-Forwarded-Proto %q, want https", r.Header.Get("X-Forwarded-Proto"))
		}
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		caFile := filepath.Join(dir, "ca.pem")
		replaceFile(t, caFile, ca.pem)
		out, err := exec.Command(curl, "-sS", "--http2", "--cacert", caFile, "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
			"--resolve", fmt.Sprintf("a.example.test:%d:127.0.0.1", tlsPort), fmt.Sprintf("https://a.example.test:%d/t/curl", tlsPort)).CombinedOutput()
		if err != nil || string(out) != "2 200" {
			t.Errorf("curl --http2: %q %v, want \"2 200\"", out, err)
		}
	}

	// A new certificate for a.example.test on disk: the next connection gets it.
	ca.issue(t, dir, "a", 11, false, "a.example.test")
	eventually(t, 5*time.Second, "the replaced certificate served", func() bool {
		_, _, serial, err := tlsGET(t, tlsPort, "a.example.test", "/t/x", client, true)
		return err == nil && serial == 11
	})
	// A broken one: the last good certificate keeps serving, /health says why.
	replaceFile(t, aCert, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	eventually(t, 5*time.Second, "the reload error in /health", func() bool {
		var h struct {
			Certificates []struct {
				File      string `json:"file"`
				LastError string `json:"last_error"`
			} `json:"certificates"`
		}
		if err := json.Unmarshal(g.get(t, "/health").body, &h); err != nil || len(h.Certificates) != 2 {
			return false
		}
		return h.Certificates[0].File == aCert && h.Certificates[0].LastError != ""
	})
	if _, _, serial, err := tlsGET(t, tlsPort, "a.example.test", "/t/x", client, true); err != nil || serial != 11 {
		t.Errorf("after a broken replacement: certificate %d, %v; want the last good one (11)", serial, err)
	}
	if !strings.Contains(g.output(), "certificate reload failed") {
		t.Errorf("the failed reload was not logged")
	}
}

// TestMutualTLS: with client_ca_file, a client without a certificate (or
// with one from another CA) is refused at the handshake; one with a
// certificate from the CA is served.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca, other, dir := newTestCA(t), newTestCA(t), t.TempDir()
	cert, key := ca.issue(t, dir, "srv", 10, false, "m.example.test")
	clientCert, clientKey := ca.issue(t, dir, "client", 30, true, "client")
	strangerCert, strangerKey := other.issue(t, dir, "stranger", 40, true, "stranger")
	caFile := filepath.Join(dir, "clients-ca.pem")
	replaceFile(t, caFile, ca.pem)
	up := newRecorder(t, nil)
	tlsPort := freePort(t)
	startGateway(t, staticRoutes([3]string{"/m", up.url(), ""})+fmt.Sprintf(`server:
  tls:
    port: %d
    client_ca_file: %s
    certificates: [{cert_file: %s, key_file: %s}]
`, tlsPort, caFile, cert, key))
	load := func(c, k string) []tls.Certificate {
		pair, err := tls.LoadX509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{pair}
	}
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"no client certificate", nil, false},
		{"a certificate from another CA", load(strangerCert, strangerKey), false},
		{"a certificate from the CA", load(clientCert, clientKey), true},
	} {
		res, _, _, err := tlsGET(t, tlsPort, "m.example.test", "/m/x", &tls.Config{RootCAs: ca.pool, Certificates: tc.certs}, true)
		if got := err == nil && res.StatusCode == 200; got != tc.ok {
			t.Errorf("%s: served %v (%v), want %v", tc.name, got, err, tc.ok)
		}
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("the upstream received %d requests, want 1", n)
	}
}

// TestRedirectAndH2C: with redirect_http the plain port answers 308 to
// https (admin endpoints excepted); with h2c it speaks HTTP/2 with prior
// knowledge.
func TestRedirectAndH2C(t *testing.T) {
	t.Parallel()
	ca, dir := newTestCA(t), t.TempDir()
	cert, key := ca.issue(t, dir, "r", 10, false, "r.example.test")
	up := newRecorder(t, nil)
	tlsPort := freePort(t)
	g := startGateway(t, staticRoutes([3]string{"/r", up.url(), ""})+fmt.Sprintf(`server:
  h2c: true
  tls:
    port: %d
    redirect_http: true
    certificates: [{cert_file: %s, key_file: %s}]
`, tlsPort, cert, key))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", g.url+"/r/x?q=1", nil)
	req.Host = "r.example.test"
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if want := fmt.Sprintf("https://r.example.test:%d/r/x?q=1", tlsPort); res.StatusCode != 308 || res.Header.Get("Location") != want {
		t.Errorf("plain request: %d Location %q, want 308 %q", res.StatusCode, res.Header.Get("Location"), want)
	}
	if r := g.get(t, "/stats"); r.status != 200 {
		t.Errorf("/stats on the plain port: %d, want 200 (admin endpoints are not redirected)", r.status)
	}
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	defer h2c.CloseIdleConnections()
	res, err = (&http.Client{Transport: h2c}).Get(g.url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 || res.StatusCode != 200 {
		t.Errorf("h2c: %s %d, want HTTP/2 200", res.Proto, res.StatusCode)
	}
}
