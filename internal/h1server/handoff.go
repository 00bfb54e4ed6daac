package h1server

import (
	"crypto/tls"
	"net"
	"time"
)

// connectionStater is implemented by *tls.Conn.
type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

// handoff gives the connection to the fallback server, with the bytes
// already buffered (the current head onwards) replayed first. It returns
// handedOff, or closeIt if the connection must be closed instead.
func (c *conn) handoff() fate {
	s := c.srv
	if s.shuttingDown() {
		// net/http, shutting down, closes after reading a request.
		return closeIt
	}
	c.rwc.SetDeadline(time.Time{})
	n := c.br.Buffered()
	extra := 0
	if c.cr.hasByte {
		extra = 1
	}
	var prefix []byte
	if n+extra > 0 {
		prefix = make([]byte, n+extra)
		peek, _ := c.br.Peek(n)
		copy(prefix, peek)
		if extra == 1 {
			prefix[n] = c.cr.byteBuf[0]
			c.cr.hasByte = false
		}
	}
	if c.bw.Buffered() > 0 {
		c.bw.Flush()
	}
	c.dropBuffers()
	hc := &handoffConn{Conn: c.rwc, prefix: prefix}
	if !s.fallbackLn.send(hc) {
		return closeIt
	}
	return handedOff
}

// handoffConn is a connection given to the fallback server: reads return
// the bytes the fast path had buffered, then the live connection's.
type handoffConn struct {
	net.Conn
	prefix []byte
}

func (hc *handoffConn) Read(p []byte) (int, error) {
	if len(hc.prefix) > 0 {
		n := copy(p, hc.prefix)
		hc.prefix = hc.prefix[n:]
		if len(hc.prefix) == 0 {
			hc.prefix = nil
		}
		return n, nil
	}
	return hc.Conn.Read(p)
}

// CloseWrite half-closes the connection if it supports it (net/http uses
// it before closing a connection with unread input).
func (hc *handoffConn) CloseWrite() error {
	if cw, ok := hc.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn returns the underlying connection.
func (hc *handoffConn) NetConn() net.Conn { return hc.Conn }
