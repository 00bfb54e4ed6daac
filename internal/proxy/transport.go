package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/h1client"
)

// NewTransport returns the standard engine's upstream transport, with the
// same connection options as the h1 engine. It speaks HTTP/1.1, and
// HTTP/2 to https upstreams that offer it (ALPN).
func NewTransport(o h1client.Options) *http.Transport {
	o = o.WithDefaults()
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 nil, // never route upstream traffic through an environment proxy
		DialContext:           d.DialContext,
		MaxIdleConns:          0, // no global cap; the per-host cap bounds it
		MaxIdleConnsPerHost:   o.MaxIdlePerHost,
		IdleConnTimeout:       o.IdleTimeout,
		TLSHandshakeTimeout:   o.DialTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass encodings through untouched
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
		Protocols:             new(http.Protocols),
	}
	t.Protocols.SetHTTP1(true)
	t.Protocols.SetHTTP2(true)
	return t
}

// newH2CTransport speaks HTTP/2 without TLS (prior knowledge) to http://
// URLs: h2c upstreams, such as gRPC servers.
func newH2CTransport(o h1client.Options) *http.Transport {
	t := NewTransport(o)
	t.Protocols = new(http.Protocols)
	t.Protocols.SetUnencryptedHTTP2(true)
	return t
}

// newTLSTransport is NewTransport with a backend's upstream TLS settings.
func newTLSTransport(o h1client.Options, s config.UpstreamTLS) (*http.Transport, error) {
	tc := &tls.Config{ServerName: s.ServerName, InsecureSkipVerify: s.InsecureSkipVerify}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("backends[].tls.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("backends[].tls.ca_file: %s holds no PEM certificate", s.CAFile)
		}
	}
	if s.CertFile != "" {
		c, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("backends[].tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	t := NewTransport(o)
	t.TLSClientConfig = tc
	return t, nil
}

// failingTransport answers every request with the error that kept its
// real transport from being built.
type failingTransport struct{ err error }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }
