package h1server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serveTLS runs a HandshakeTLS server whose fallback speaks HTTP/1.1 and
// HTTP/2; the handler reports the protocol, TLS state and which server
// answered.
func serveTLS(t *testing.T, readHeaderTimeout time.Duration) string {
	t.Helper()
	tc := &tls.Config{Certificates: []tls.Certificate{testCert(t)}, NextProtos: []string{"h2", "http/1.1"}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, fast := w.(*response)
		proto := ""
		if r.TLS != nil {
			proto = r.TLS.NegotiatedProtocol
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s tls=%v alpn=%q fast=%v body=%d", r.Proto, r.TLS != nil && r.TLS.HandshakeComplete, proto, fast, len(body))
	})
	fb := &http.Server{TLSConfig: tc, Protocols: new(http.Protocols)}
	fb.Protocols.SetHTTP1(true)
	fb.Protocols.SetHTTP2(true)
	s := &Server{Handler: h, HandshakeTLS: true, Fallback: fb, ReadHeaderTimeout: readHeaderTimeout}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(tls.NewListener(ln, tc)) }()
	t.Cleanup(func() {
		s.Shutdown(context.Background())
		<-done
	})
	return ln.Addr().String()
}

// TestHandshakeTLS: with HandshakeTLS, an HTTP/1.1 (or ALPN-less) TLS
// connection is served on the fast path with Request.TLS set, keep-alive
// included; an h2 one goes to the fallback's HTTP/2 server; a request the
// fast path declines (a chunked body) is handed off mid-connection and
// still sees its TLS state.
func TestHandshakeTLS(t *testing.T) {
	addr := serveTLS(t, 5*time.Second)
	for _, alpn := range [][]string{{"http/1.1"}, nil} {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: alpn})
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		want := fmt.Sprintf("HTTP/1.1 tls=true alpn=%q fast=true body=0", strings.Join(alpn, ""))
		for i := range 2 {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, body := readResponse(t, br, "GET"); body != want {
				t.Errorf("ALPN %v, request %d: %q, want %q", alpn, i, body, want)
			}
		}
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		want = fmt.Sprintf("HTTP/1.1 tls=true alpn=%q fast=false body=3", strings.Join(alpn, ""))
		if _, body := readResponse(t, br, "POST"); body != want {
			t.Errorf("ALPN %v, handed off: %q, want %q", alpn, body, want)
		}
		c.Close()
	}

	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := `HTTP/2.0 tls=true alpn="h2" fast=false body=0`; string(b) != want {
		t.Errorf("h2: %q, want %q", b, want)
	}
}

// TestHandshakeTLSRefusals: plain HTTP sent to the TLS port gets
// net/http's 400; a client that never finishes its handshake is closed
// after ReadHeaderTimeout.
func TestHandshakeTLSRefusals(t *testing.T) {
	addr := serveTLS(t, 300*time.Millisecond)
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.0 400 Bad Request") || !strings.Contains(string(b), "HTTPS server") {
		t.Errorf("plain HTTP to the TLS port: %q", b)
	}

	c = dial(t, addr)
	if took := expectClosed(t, c, bufio.NewReader(c), 5*time.Second); took > 3*time.Second {
		t.Errorf("a silent client was closed after %v; ReadHeaderTimeout is 300ms", took)
	}
}
