// Package listener builds rgate's listeners from the server settings:
//
//   - the plain port: rgate's HTTP/1.1 server (h1server), which hands every
//     connection it does not serve itself to a net/http server; with
//     server.h2c that server also speaks HTTP/2 with prior knowledge, and
//     with server.tls.redirect_http the port answers 308 to https://
//     (except the admin endpoints and ACME http-01 challenges);
//   - the TLS port: rgate's HTTP/1.1 server again, which completes each
//     handshake and serves the connections that chose HTTP/1.1, handing
//     HTTP/2 ones (ALPN h2, with server.http2) and whatever it declines to
//     a net/http server; certificates from a certs.Store, client
//     certificates required with client_ca_file, and HSTS;
//   - the admin port, when the admin endpoints have their own.
//
// Every listener serves the same handler, so every policy behaves the same
// over every protocol.
package listener

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/rgate/rgate/internal/certs"
	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/h1server"
)

// Options are what the listeners serve, and where.
type Options struct {
	Bind string
	// Port is the plain traffic port; TLSPort the HTTPS one (used when
	// Server.TLS is set); AdminPort the admin endpoints' own (0: none).
	Port, TLSPort, AdminPort int
	// Traffic serves the traffic ports; Admin the admin port.
	Traffic, Admin http.Handler
	Server         config.Server
	// Certs serves the TLS port's certificates (required with TLS).
	Certs *certs.Store
	// ACMEHTTP, when set, wraps the plain port's handler to answer ACME
	// http-01 challenges ahead of everything else.
	ACMEHTTP func(http.Handler) http.Handler
	// ACMEALPN is true when tls-alpn-01 challenges are answered on the TLS
	// port (Certs' managed source serves their certificates).
	ACMEALPN bool
	// IsAdmin says which paths are the admin endpoints (never redirected).
	IsAdmin func(path string) bool
	Log     *slog.Logger
}

// Server is one listening server.
type Server struct {
	Name string
	ln   net.Listener
	srv  interface {
		Serve(net.Listener) error
		Shutdown(context.Context) error
		Close() error
	}
}

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown or Close; it returns nil then.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s listener: %w", s.Name, err)
	}
	return nil
}

// Shutdown stops accepting and waits for in-flight requests until ctx is
// done.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close closes every connection at once.
func (s *Server) Close() error { return s.srv.Close() }

// parkIdleAfter is how long a plain client connection may sit idle between
// requests before it gives its goroutine up (h1server.Server.ParkIdleAfter):
// long enough that a busy keep-alive connection never pays for parking,
// short enough that thousands of idle ones cost little.
const parkIdleAfter = time.Second

// Listen opens every listener. On error nothing stays open.
func Listen(o Options) ([]*Server, error) {
	var out []*Server
	fail := func(err error) ([]*Server, error) {
		for _, s := range out {
			s.ln.Close()
		}
		return nil, err
	}
	plain := o.Traffic
	if t := o.Server.TLS; t != nil && t.RedirectHTTP {
		plain = redirect(plain, o.TLSPort, o.IsAdmin)
	}
	if o.ACMEHTTP != nil {
		plain = o.ACMEHTTP(plain)
	}
	s, err := o.plainServer("traffic", o.Port, plain)
	if err != nil {
		return fail(err)
	}
	out = append(out, s)
	if o.Server.TLS != nil {
		s, err := o.tlsServer()
		if err != nil {
			return fail(err)
		}
		out = append(out, s)
	}
	if o.AdminPort != 0 {
		s, err := o.plainServer("admin", o.AdminPort, o.Admin)
		if err != nil {
			return fail(err)
		}
		out = append(out, s)
	}
	return out, nil
}

func (o *Options) listen(port int) (net.Listener, error) {
	addr := net.JoinHostPort(o.Bind, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// plainServer is rgate's HTTP/1.1 server over a net/http fallback (which
// speaks h2c too when server.h2c is on).
func (o *Options) plainServer(name string, port int, h http.Handler) (*Server, error) {
	ln, err := o.listen(port)
	if err != nil {
		return nil, err
	}
	cs := o.Server
	fb := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cs.ReadHeaderTimeout.D(),
		IdleTimeout:       cs.IdleTimeout.D(),
		ErrorLog:          slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug),
	}
	if cs.H2C && name == "traffic" {
		fb.Protocols = new(http.Protocols)
		fb.Protocols.SetHTTP1(true)
		fb.Protocols.SetUnencryptedHTTP2(true)
		fb.HTTP2 = http2Config()
	}
	return &Server{Name: name, ln: ln, srv: &h1server.Server{
		Handler:           h,
		ReadHeaderTimeout: cs.ReadHeaderTimeout.D(),
		IdleTimeout:       cs.IdleTimeout.D(),
		MaxHeaderBytes:    int(cs.MaxHeaderBytes),
		ErrorLog:          o.Log,
		ParkIdleAfter:     parkIdleAfter,
		Fallback:          fb,
	}}, nil
}

// http2Config bounds what one HTTP/2 connection may cost: 250 concurrent
// streams (the common default) and frames of at most 16 KiB, the
// protocol's initial SETTINGS_MAX_FRAME_SIZE (nginx's too; net/http would
// announce 1 MiB), so a larger frame is the FRAME_SIZE_ERROR RFC 9113 4.2
// asks for. net/http's server also bounds the known floods (rapid reset,
// CONTINUATION, settings and ping floods) itself.
func http2Config() *http.HTTP2Config {
	return &http.HTTP2Config{MaxConcurrentStreams: 250, MaxReadFrameSize: maxFrameSize}
}

// maxFrameSize is the largest HTTP/2 frame rgate reads.
const maxFrameSize = 16 << 10

// tlsServer is rgate's HTTP/1.1 server over TLS, with a net/http fallback
// that speaks HTTP/1.1 and, unless server.http2 is false, HTTP/2.
func (o *Options) tlsServer() (*Server, error) {
	tc, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	ln, err := o.listen(o.TLSPort)
	if err != nil {
		return nil, err
	}
	cs := o.Server
	h := secure(o.Traffic, cs.TLS.HSTS)
	fb := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cs.ReadHeaderTimeout.D(),
		IdleTimeout:       cs.IdleTimeout.D(),
		ErrorLog:          slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug),
		TLSConfig:         tc,
		Protocols:         new(http.Protocols),
		HTTP2:             http2Config(),
	}
	fb.Protocols.SetHTTP1(true)
	fb.Protocols.SetHTTP2(cs.HTTP2On())
	return &Server{Name: "tls", ln: tls.NewListener(ln, tc), srv: &h1server.Server{
		Handler:           h,
		ReadHeaderTimeout: cs.ReadHeaderTimeout.D(),
		IdleTimeout:       cs.IdleTimeout.D(),
		MaxHeaderBytes:    int(cs.MaxHeaderBytes),
		ErrorLog:          o.Log,
		ParkIdleAfter:     parkIdleAfter, // TLS connections are not parked: they give their buffers back
		HandshakeTLS:      true,
		Fallback:          fb,
	}}, nil
}

// tlsConfig is the TLS port's: certificates by SNI, the minimum version,
// ALPN, and client certificates when a client CA file is set (never
// asked of an ACME tls-alpn-01 validation, which has none).
func (o *Options) tlsConfig() (*tls.Config, error) {
	t := o.Server.TLS
	tc := &tls.Config{GetCertificate: o.Certs.GetCertificate, MinVersion: tls.VersionTLS12}
	if t.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if o.Server.HTTP2On() {
		tc.NextProtos = append(tc.NextProtos, "h2")
	}
	tc.NextProtos = append(tc.NextProtos, "http/1.1")
	if o.ACMEALPN {
		tc.NextProtos = append(tc.NextProtos, acmeTLS1)
	}
	if t.ClientCAFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(t.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("server.tls.client_ca_file: %s holds no PEM certificate", t.ClientCAFile)
	}
	withClients := tc.Clone()
	withClients.ClientCAs, withClients.ClientAuth = pool, tls.RequireAndVerifyClientCert
	tc.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		for _, p := range hello.SupportedProtos {
			if p == acmeTLS1 {
				return nil, nil // the base config: no client certificate asked
			}
		}
		return withClients, nil
	}
	return tc, nil
}

// acmeTLS1 is the ALPN protocol of ACME's tls-alpn-01 challenge (RFC 8737).
const acmeTLS1 = "acme-tls/1"
