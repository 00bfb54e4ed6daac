package h1server

import (
	"crypto/tls"
	"errors"
	"io"
	"time"
)

// handshake completes a TLS connection's handshake, as net/http's server
// does: within ReadHeaderTimeout, a failure logged at debug level (a
// client that spoke plain HTTP gets net/http's 400 first), then by ALPN:
// HTTP/1.1 or no protocol is served here (serveOn, with the TLS state
// kept for the requests), anything else (h2, acme-tls/1) goes to the
// Fallback with the handshake done, which net/http then skips.
func (c *conn) handshake(tc *tls.Conn) fate {
	s := c.srv
	if d := s.ReadHeaderTimeout; d > 0 {
		tc.SetDeadline(time.Now().Add(d))
	}
	if err := tc.HandshakeContext(s.baseCtx); err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		if ra := tc.RemoteAddr(); ra != nil {
			s.logger().Debug("http: TLS handshake error", "remote", ra.String(), "error", err)
		}
		return closeIt
	}
	tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	if p := st.NegotiatedProtocol; p != "" && p != "http/1.1" {
		if !s.shuttingDown() && s.fallbackLn.send(tc) {
			return handedOff
		}
		return closeIt
	}
	c.tlsState = &st
	return serveOn
}

// looksLikeHTTP reports whether a TLS record header is the start of a
// plain HTTP request (net/http's tlsRecordHeaderLooksLikeHTTP).
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}
