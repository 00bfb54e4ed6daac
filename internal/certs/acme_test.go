package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// unreachableCA is a directory URL nothing answers.
const unreachableCA = "https://127.0.0.1:1/dir"

// storeACMECertificate writes a certificate for domain where certmagic
// keeps the ones it obtained from ca, and returns it.
func storeACMECertificate(t *testing.T, storage, ca, domain string, serial int64) Pair {
	t.Helper()
	return storeACMECertificateIn(t, &certmagic.FileStorage{Path: storage}, ca, domain, serial)
}

// storeACMECertificateIn is storeACMECertificate for any certmagic storage.
func storeACMECertificateIn(t *testing.T, fs certmagic.Storage, ca, domain string, serial int64) Pair {
	t.Helper()
	p := writePair(t, t.TempDir(), "obtained", serial, domain)
	issuer := (&certmagic.ACMEIssuer{CA: ca}).IssuerKey()
	for key, file := range map[string]string{
		certmagic.StorageKeys.SiteCert(issuer, domain):       p.CertFile,
		certmagic.StorageKeys.SitePrivateKey(issuer, domain): p.KeyFile,
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.Store(context.Background(), key, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Store(context.Background(), certmagic.StorageKeys.SiteMeta(issuer, domain), []byte(`{"sans":["`+domain+`"]}`)); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestACMEServesStoredCertificateAtOnce: a certificate in storage serves
// as soon as NewACME returns, without Run and with no CA answering, and
// Status describes it.
func TestACMEServesStoredCertificateAtOnce(t *testing.T) {
	storage := t.TempDir()
	storeACMECertificate(t, storage, unreachableCA, "s.example.test", 90)
	a, err := NewACME(ACMEOptions{Directory: unreachableCA, Storage: storage, Domains: []string{"S.example.test"}, HTTP01: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Managed: a})
	if err != nil {
		t.Fatal(err)
	}
	if got := served(t, s, "s.example.test"); got.SerialNumber.Int64() != 90 {
		t.Errorf("served certificate %v, want the stored one (90)", got.SerialNumber)
	}
	if !a.Manages("s.example.test") || a.Manages("other.example.test") {
		t.Errorf("Manages: the configured domain (lower case) only")
	}
	st := s.Status()
	if len(st) != 1 || st[0].Source != SourceACME || st[0].NotAfter.IsZero() || st[0].Issuer != "CN=s.example.test" ||
		st[0].LoadedAt.IsZero() || st[0].LastError != "" {
		t.Errorf("Status: %+v", st)
	}
}

// TestACMEStatusFollowsEvents: a domain not obtained has no expiry; a
// failure shows until the next success.
func TestACMEStatusFollowsEvents(t *testing.T) {
	a, err := NewACME(ACMEOptions{Directory: unreachableCA, Storage: t.TempDir(), Domains: []string{"n.example.test"}, TLSALPN01: true})
	if err != nil {
		t.Fatal(err)
	}
	last := func() Status { return a.Status()[0] }
	if s := last(); !s.NotAfter.IsZero() || s.LastError != "" || s.Names[0] != "n.example.test" || s.Source != SourceACME {
		t.Errorf("before any attempt: %+v", s)
	}
	ctx := context.Background()
	_ = a.onEvent(ctx, "cert_failed", map[string]any{"identifier": "n.example.test", "error": errors.New("CA said no")})
	if s := last(); s.LastError != "CA said no" {
		t.Errorf("after a failure: %+v", s)
	}
	_ = a.onEvent(ctx, "cert_obtained", map[string]any{"identifier": "n.example.test"})
	if s := last(); s.LastError != "" || s.LoadedAt.IsZero() {
		t.Errorf("after a success: %+v", s)
	}
	if a.HTTPHandler() != nil {
		t.Errorf("an http-01 handler without http-01")
	}
}

// TestACMERunWaitsForListenersAndLogsFailure: Run contacts the CA only
// once the challenge ports accept connections; a CA that fails is logged
// and shown in Status; cancelling stops Run.
func TestACMERunWaitsForListenersAndLogsFailure(t *testing.T) {
	ca, err := net.Listen("tcp", "127.0.0.1:0") // a CA that hangs up on every connection
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	var contacts atomic.Int64
	go func() {
		for {
			c, err := ca.Accept()
			if err != nil {
				return
			}
			contacts.Add(1)
			c.Close()
		}
	}()
	var logs lockedLog
	httpPort, tlsPort := freeLoopbackPort(t), freeLoopbackPort(t)
	a, err := NewACME(ACMEOptions{Directory: "https://" + ca.Addr().String() + "/dir", Storage: t.TempDir(),
		Domains: []string{"f.example.test"}, HTTP01: true, TLSALPN01: true, Host: "127.0.0.1", HTTPPort: httpPort, TLSPort: tlsPort,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	time.Sleep(300 * time.Millisecond)
	if n := contacts.Load(); n != 0 {
		t.Fatalf("the CA was contacted %d times before rgate's listeners were up", n)
	}
	for _, p := range []int{httpPort, tlsPort} {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Status()[0].LastError == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := a.Status()[0]; contacts.Load() == 0 || s.LastError == "" ||
		!strings.Contains(logs.String(), "ACME certificate not obtained; retrying with backoff") {
		t.Errorf("CA contacted %d times, status %+v; log:\n%s", contacts.Load(), s, logs.String())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

// TestStoreServesStaticUntilManagedHasOne: a managed name without its
// certificate yet gets the static one, except in a tls-alpn-01
// validation; with no static certificate the managed source's error is
// the answer.
func TestStoreServesStaticUntilManagedHasOne(t *testing.T) {
	dir := t.TempDir()
	static := writePair(t, dir, "static", 7, "static.example.test")
	m := fakeManaged{name: "m.example.test", err: errors.New("not obtained yet")}
	s, err := New(Options{Files: []Pair{static}, Managed: m})
	if err != nil {
		t.Fatal(err)
	}
	if got := served(t, s, "m.example.test"); got.SerialNumber.Int64() != 7 {
		t.Errorf("managed name without a certificate: got %v, want the static one", got.SerialNumber)
	}
	hello := &tls.ClientHelloInfo{ServerName: "m.example.test", SupportedProtos: []string{"acme-tls/1"}}
	if _, err := s.GetCertificate(hello); err == nil {
		t.Errorf("a tls-alpn-01 validation was answered with the static certificate")
	}
	only, err := New(Options{Managed: m})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := only.GetCertificate(&tls.ClientHelloInfo{ServerName: "m.example.test"}); err == nil || err.Error() != "not obtained yet" {
		t.Errorf("no static certificate: %v, want the managed source's error", err)
	}
}

// freeLoopbackPort is a loopback port that was free a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lockedLog is a log destination safe for concurrent writers.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type fakeManaged struct {
	name string
	err  error
}

func (f fakeManaged) Manages(name string) bool { return name == f.name }
func (f fakeManaged) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return nil, f.err
}
func (f fakeManaged) Status() []Status { return nil }

// TestZapLinesGoThroughSlog: certmagic's lines come out one level lower,
// with their fields and the logger's name.
func TestZapLinesGoThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	z := zapLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))).Named("obtain").
		With(zap.String("identifier", "x.example.test"))
	z.Debug("hidden even at debug")
	z.Info("obtaining certificate", zap.Int("attempt", 2))
	z.Error("could not get certificate", zap.Error(errors.New("CA said no")))
	out := buf.String()
	for _, want := range []string{
		`level=DEBUG msg="obtaining certificate" logger=certmagic.obtain identifier=x.example.test attempt=2`,
		`level=WARN msg="could not get certificate" logger=certmagic.obtain identifier=x.example.test error="CA said no"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("a zap debug line came out at debug level:\n%s", out)
	}
}
