package h1server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// connectionStater is implemented by *tls.Conn.
type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

// declined hands off a head the fast path declined, unless it must be
// refused here: an HTTP/1.0 head with a Transfer-Encoding field (see
// headWatch), answered 400, and a head over MaxHeaderBytes that the
// Fallback would take (when MaxHeaderBytes is under 4097, see
// Server.refuseLarge), answered 431. To tell, an HTTP/1.0 head, and with
// refuseLarge any declined head, is read to its end, as far as the fast
// path reads a head (Server.maxHead); a longer HTTP/1.0 head is handed
// off, for fallbackGuard to refuse.
func (c *conn) declined() fate {
	var w headWatch
	s := c.srv
	limit := s.maxHead()
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		w.feed(buf[w.off:])
		switch {
		case w.firstEnd > int64(limit) || w.firstEnd == 0 && len(buf) >= limit:
			if s.refuseLarge {
				return c.refuse("431 Request Header Fields Too Large")
			}
			return c.handoff() // the Fallback answers 431 if it is too large
		case w.firstEnd > 0:
			if w.firstHeadTE() {
				return c.refuse("400 Bad Request")
			}
			return c.handoff()
		case !s.refuseLarge && (w.state == wantRequestLine || !w.firstHTTP10):
			return c.handoff()
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			if err == io.EOF {
				return c.handoff() // net/http answers a truncated head
			}
			return closeIt // as readHead: closed, reset or timed out
		}
	}
}

// refuse answers a request the server will not read as net/http answers
// one it cannot read (the status line, a plain-text body repeating it,
// Connection: close), and has the connection closed.
func (c *conn) refuse(status string) fate {
	c.bw.WriteString("HTTP/1.1 " + status + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + status)
	c.closeWriteAndWait()
	return closeIt
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
// the bytes the fast path had buffered, then the live connection's. It
// watches them for HTTP/1.0 heads with a Transfer-Encoding field, for
// fallbackGuard, and ends a read at the end of any HTTP/1.0 head, so that
// when net/http starts such a request's handler it has read nothing past
// its head but the one byte of its disconnect watcher.
type handoffConn struct {
	net.Conn
	prefix []byte // bytes to return before reading the connection
	spill  []byte // prefix's buffer, when a read was ended early
	rerr   error  // the error of a read that was ended early

	mu    sync.Mutex // net/http reads on one goroutine, fallbackGuard asks on another
	watch headWatch
}

func (hc *handoffConn) Read(p []byte) (n int, err error) {
	fromPrefix := len(hc.prefix) > 0
	switch {
	case fromPrefix:
		n = copy(p, hc.prefix)
	case hc.rerr != nil:
		err, hc.rerr = hc.rerr, nil
		return 0, err
	default:
		n, err = hc.Conn.Read(p)
	}
	hc.mu.Lock()
	m := hc.watch.feed(p[:n])
	hc.mu.Unlock()
	switch {
	case fromPrefix:
		hc.prefix = hc.prefix[m:]
		if len(hc.prefix) == 0 {
			hc.prefix = nil
		}
	case m < n:
		hc.spill = append(hc.spill[:0], p[m:n]...)
		hc.prefix, hc.rerr, err = hc.spill, err, nil
	}
	return m, err
}

// teHeadJustRead reports whether the head net/http has just read (its
// handler about to start) is an HTTP/1.0 head with a Transfer-Encoding
// field: one ended where net/http's reading stands, or one byte before
// (the disconnect watcher's).
func (hc *handoffConn) teHeadJustRead() bool {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	return hc.watch.teEnd > 0 && hc.watch.off-hc.watch.teEnd <= 1
}

// handoffConnKey is the request context key of the handoffConn a
// fallback request came on.
type handoffConnKey struct{}

// fallbackGuard is the Fallback's handler: it refuses, with 400 and a
// close, an HTTP/1.0 request that came with a Transfer-Encoding field
// (which net/http deleted; see headWatch), before the real handler h (nil:
// http.DefaultServeMux) sees it. net/http's answer to "OPTIONS *", which
// would bypass any handler, is given here instead (after the check)
// unless the Fallback had it disabled.
type fallbackGuard struct {
	h              http.Handler
	optionsHandler bool
}

func (g fallbackGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
		if hc, _ := r.Context().Value(handoffConnKey{}).(*handoffConn); hc != nil && hc.teHeadJustRead() {
			h := w.Header()
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Connection", "close")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "400 Bad Request")
			return
		}
	}
	if g.optionsHandler && r.Method == "OPTIONS" && r.RequestURI == "*" {
		// net/http's globalOptionsHandler.
		w.Header().Set("Content-Length", "0")
		if r.ContentLength != 0 {
			io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
		}
		return
	}
	if r.TLS == nil {
		// A TLS connection handed off after its handshake here reaches
		// net/http wrapped, so net/http does not see its TLS state.
		if hc, _ := r.Context().Value(handoffConnKey{}).(*handoffConn); hc != nil {
			if cs, ok := hc.Conn.(connectionStater); ok {
				st := cs.ConnectionState()
				r.TLS = &st
			}
		}
	}
	h := g.h
	if h == nil {
		h = http.DefaultServeMux
	}
	h.ServeHTTP(w, r)
}

// guardFallback installs fallbackGuard in fb, and a ConnContext that
// gives it the handoffConn.
func guardFallback(fb *http.Server) {
	fb.Handler = fallbackGuard{h: fb.Handler, optionsHandler: !fb.DisableGeneralOptionsHandler}
	fb.DisableGeneralOptionsHandler = true
	connContext := fb.ConnContext
	fb.ConnContext = func(ctx context.Context, nc net.Conn) context.Context {
		if connContext != nil {
			ctx = connContext(ctx, nc)
		}
		if hc, ok := nc.(*handoffConn); ok {
			ctx = context.WithValue(ctx, handoffConnKey{}, hc)
		}
		return ctx
	}
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
