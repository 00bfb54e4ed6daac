package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// acmeObtainWait bounds how long obtaining one certificate from Pebble may
// take (it takes about a second).
const acmeObtainWait = 60 * time.Second

// acmeConfig is a config with one route (/t to upstream) and a TLS port
// whose certificate for domain comes from directory over ACME, with the
// given challenges ("" for the default) and further server.tls lines.
func acmeConfig(upstream string, tlsPort int, directory, caFile, storage, domain, challenges, extra string) string {
	if challenges != "" {
		challenges = "      challenges: " + challenges + "\n"
	}
	return staticRoutes([3]string{"/t", upstream, ""}) + fmt.Sprintf(`server:
  tls:
    port: %d
    acme:
      email: ops@rgate.test
      directory: %s
      directory_ca_file: %s
      storage: %s
      domains: [%s]
%s%s`, tlsPort, directory, caFile, storage, domain, challenges, extra)
}

// servedLeaf does a TLS handshake with 127.0.0.1:port for SNI name,
// verifying as cfg says, and returns the certificate served.
func servedLeaf(port int, name string, cfg *tls.Config) (*x509.Certificate, error) {
	cfg = cfg.Clone()
	cfg.ServerName = name
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+strconv.Itoa(port), cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// awaitACMECertificate waits until the TLS port serves name a certificate
// that verifies as client says (against Pebble's root), checks that a
// request over it reaches the upstream, and returns the certificate.
func awaitACMECertificate(t *testing.T, port int, name string, client *tls.Config) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	took := eventually(t, acmeObtainWait, "a certificate for "+name+" that verifies against Pebble's root", func() bool {
		l, err := servedLeaf(port, name, client)
		leaf = l
		return err == nil
	})
	t.Logf("%s: certificate served %v after rgate answered", name, took.Round(time.Millisecond))
	res, body, _, err := tlsGET(t, port, name, "/t/x", client, true)
	if err != nil || res.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("GET https://%s/t/x: %v %v %q", name, err, res, body)
	}
	return leaf
}

// acmeHealth is the ACME certificate for domain in /health.
type acmeHealth struct {
	Names     []string  `json:"names"`
	Issuer    string    `json:"issuer"`
	NotAfter  time.Time `json:"not_after"`
	Source    string    `json:"source"`
	LastError string    `json:"last_error"`
}

func healthCertificate(t *testing.T, g *gw, domain string) (acmeHealth, bool) {
	t.Helper()
	var h struct {
		Certificates []acmeHealth `json:"certificates"`
	}
	if err := json.Unmarshal(g.get(t, "/health").body, &h); err != nil {
		t.Fatalf("/health: %v", err)
	}
	for _, c := range h.Certificates {
		if c.Source == "acme" && len(c.Names) > 0 && c.Names[0] == domain {
			return c, true
		}
	}
	return acmeHealth{}, false
}

// checkACMEReported checks /health and /metrics describe leaf as domain's
// ACME certificate.
func checkACMEReported(t *testing.T, g *gw, domain string, leaf *x509.Certificate) {
	t.Helper()
	c, ok := healthCertificate(t, g, domain)
	if !ok || !c.NotAfter.Equal(leaf.NotAfter) || c.Issuer != leaf.Issuer.String() || c.LastError != "" {
		t.Errorf("/health certificate for %s: %+v (found %v), want not_after %v, issuer %q, no error", domain, c, ok, leaf.NotAfter, leaf.Issuer)
	}
	re := regexp.MustCompile(`(?m)^rgate_certificate_expiry_seconds\{name="` + regexp.QuoteMeta(domain) + `",source="acme"\} (\S+)$`)
	m := re.FindStringSubmatch(string(g.get(t, "/metrics").body))
	if m == nil {
		t.Fatalf("/metrics: no rgate_certificate_expiry_seconds for %s", domain)
	}
	if v, err := strconv.ParseFloat(m[1], 64); err != nil || v <= 0 || v > time.Until(leaf.NotAfter).Seconds()+1 {
		t.Errorf("/metrics: rgate_certificate_expiry_seconds for %s = %s, want the seconds until %v", domain, m[1], leaf.NotAfter)
	}
}

// TestACMEHTTP01: with http-01 alone, rgate obtains a certificate from
// Pebble, which validates on rgate's plain port; a client trusting
// Pebble's root verifies it, and /health and /metrics report it.
func TestACMEHTTP01(t *testing.T) {
	t.Parallel()
	plain, tlsPort := startRelay(t), freePort(t)
	p := startPebble(t, plain.port, tlsPort)
	g := startGateway(t, acmeConfig(newRecorder(t, nil).url(), tlsPort, p.directory, p.caFile, t.TempDir(),
		"h.acme.test", "[http-01]", ""))
	plain.to(g.port)
	leaf := awaitACMECertificate(t, tlsPort, "h.acme.test", &tls.Config{RootCAs: p.roots(t)})
	if plain.conns.Load() == 0 {
		t.Errorf("Pebble never connected to rgate's plain port, yet validated http-01")
	}
	checkACMEReported(t, g, "h.acme.test", leaf)
	if !strings.Contains(g.output(), "ACME certificate obtained") {
		t.Errorf("rgate did not log the certificate obtained")
	}
}

// TestACMETLSALPN01: with tls-alpn-01 alone (Pebble's http-01 port has
// nothing listening), rgate answers the validation on its TLS port, also
// when the port demands client certificates, and obtains a certificate.
func TestACMETLSALPN01(t *testing.T) {
	t.Parallel()
	tlsPort, clientCA, dir := freePort(t), newTestCA(t), t.TempDir()
	p := startPebble(t, freePort(t), tlsPort)
	clientsFile := filepath.Join(dir, "clients.pem")
	replaceFile(t, clientsFile, clientCA.pem)
	certFile, keyFile := clientCA.issue(t, dir, "client", 30, true, "client")
	clientCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, acmeConfig(newRecorder(t, nil).url(), tlsPort, p.directory, p.caFile, t.TempDir(),
		"a.acme.test", "[tls-alpn-01]", "    client_ca_file: "+clientsFile+"\n"))
	leaf := awaitACMECertificate(t, tlsPort, "a.acme.test", &tls.Config{RootCAs: p.roots(t), Certificates: []tls.Certificate{clientCert}})
	checkACMEReported(t, g, "a.acme.test", leaf)
}

// TestACMERestartServesStoredCertificate: after a certificate is obtained,
// Pebble is stopped and rgate restarted with the same storage: the stored
// certificate serves from the first handshake, and rgate tries no CA.
func TestACMERestartServesStoredCertificate(t *testing.T) {
	t.Parallel()
	plain, tlsPort := startRelay(t), freePort(t)
	p := startPebble(t, plain.port, tlsPort)
	client := &tls.Config{RootCAs: p.roots(t)}
	cfg := acmeConfig(newRecorder(t, nil).url(), tlsPort, p.directory, p.caFile, t.TempDir(), "r.acme.test", "", "")
	g := startGateway(t, cfg)
	plain.to(g.port)
	first := awaitACMECertificate(t, tlsPort, "r.acme.test", client)
	if n := p.orders(); n != 1 {
		t.Fatalf("Pebble received %d orders, want 1", n)
	}

	p.stop() // from here on no CA answers: a new order cannot be placed
	g.signal(syscall.SIGTERM)
	if code, ok := g.waitExit(20 * time.Second); !ok || code != 0 {
		t.Fatalf("rgate did not stop cleanly: exited %v, code %d", ok, code)
	}
	handshake := firstHandshake(t, tlsPort, "r.acme.test", client)
	g2 := startGateway(t, cfg)
	if h := <-handshake; h.err != nil || !h.leaf.Equal(first) {
		t.Fatalf("the first handshake after the restart: %v (serial %v), want the stored certificate (serial %v)",
			h.err, serial(h.leaf), first.SerialNumber)
	}
	checkACMEReported(t, g2, "r.acme.test", first)
	time.Sleep(2 * time.Second) // a CA contact would fail within a second (three tries) and be logged
	for _, line := range []string{"ACME certificate obtained", "ACME certificate not obtained"} {
		if strings.Contains(g2.output(), line) {
			t.Errorf("the restarted rgate logged %q: it tried the CA", line)
		}
	}
}

type handshakeResult struct {
	leaf *x509.Certificate
	err  error
}

// firstHandshake tries to connect to 127.0.0.1:port every 2ms (for 20s at
// most), and reports the TLS handshake on the first connection accepted.
func firstHandshake(t *testing.T, port int, name string, cfg *tls.Config) <-chan handshakeResult {
	cfg = cfg.Clone()
	cfg.ServerName = name
	out := make(chan handshakeResult, 1)
	go func() {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
			if err != nil {
				continue
			}
			tc := tls.Client(c, cfg)
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			err = tc.HandshakeContext(t.Context())
			tc.Close()
			if err != nil {
				out <- handshakeResult{err: err}
			} else {
				out <- handshakeResult{leaf: tc.ConnectionState().PeerCertificates[0]}
			}
			return
		}
		out <- handshakeResult{err: fmt.Errorf("port %d accepted no connection in 20s", port)}
	}()
	return out
}

func serial(c *x509.Certificate) any {
	if c == nil {
		return nil
	}
	return c.SerialNumber
}

// TestACMECADown: with no CA answering at start, rgate still starts: the
// plain port answers, the TLS port serves its file certificate (also for
// the ACME name meanwhile), and the failure is logged and in /health.
func TestACMECADown(t *testing.T) {
	t.Parallel()
	ca, dir := newTestCA(t), t.TempDir()
	cert, key := ca.issue(t, dir, "f", 10, false, "f.example.test")
	caFile := filepath.Join(dir, "ca.pem")
	replaceFile(t, caFile, ca.pem)
	tlsPort := freePort(t)
	down := fmt.Sprintf("https://localhost:%d/dir", freePort(t)) // nothing listens there
	g := startGateway(t, acmeConfig(newRecorder(t, nil).url(), tlsPort, down, caFile, t.TempDir(), "d.acme.test", "",
		fmt.Sprintf("    certificates: [{cert_file: %s, key_file: %s}]\n", cert, key)))
	if r := g.get(t, "/t/x"); r.status != 200 || string(r.body) != "ok" {
		t.Errorf("plain port: %d %q, want 200 ok", r.status, r.body)
	}
	for _, tc := range []struct {
		sni string
		cfg *tls.Config
	}{
		{"f.example.test", &tls.Config{RootCAs: ca.pool}},
		{"d.acme.test", &tls.Config{InsecureSkipVerify: true}}, // not obtained: the file certificate meanwhile
	} {
		res, body, serial, err := tlsGET(t, tlsPort, tc.sni, "/t/x", tc.cfg, true)
		if err != nil || res.StatusCode != 200 || string(body) != "ok" || serial != 10 {
			t.Errorf("TLS with SNI %s: %v, certificate %d, body %q; want the file certificate (10) and 200 ok", tc.sni, err, serial, body)
		}
	}
	eventually(t, 10*time.Second, "the ACME failure in the log and /health", func() bool {
		c, ok := healthCertificate(t, g, "d.acme.test")
		return ok && c.LastError != "" && c.NotAfter.IsZero() && strings.Contains(g.output(), "ACME certificate not obtained")
	})
}
