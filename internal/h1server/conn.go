package h1server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Connection states, as net/http's StateNew, StateActive and StateIdle.
const (
	stateNew = iota + 1
	stateActive
	stateIdle
)

// conn is one client connection on the fast path.
type conn struct {
	srv        *Server
	rwc        net.Conn
	remoteAddr string
	baseCtx    context.Context
	state      atomic.Uint64 // unix seconds << 8 | state

	cr         connReader
	br         *bufio.Reader
	bw         *bufio.Writer
	p          headParser
	lastMethod string
	headerHint int    // fields in the last response's header (see Header)
	rdeadline  bool   // a read deadline may be set on rwc
	werr       error  // first write error on rwc
	wireWrites uint64 // writes to rwc through bw

	mu           sync.Mutex // guards the watcher state and cancelReq
	watchState   int
	watchAborted bool
	handlerOn    bool
	peerGone     bool
	watchCond    *sync.Cond
	timer        *time.Timer
	cancelReq    context.CancelFunc

	// Idle parking (see parker): the read deadline the idle connection
	// had, and its registration; parkFD and parkSeq are the parker's.
	idleDeadline time.Time
	parkFD       int32
	parkSeq      uint32
}

// connReader is the reader under the bufio.Reader: it returns the byte
// the disconnect watcher read (if any) before reading the connection.
type connReader struct {
	c       *conn
	hasByte bool
	byteBuf [1]byte
}

func (cr *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if cr.hasByte {
		p[0] = cr.byteBuf[0]
		cr.hasByte = false
		return 1, nil
	}
	return cr.c.rwc.Read(p)
}

// checkConnErrorWriter notes the first write error, cancelling the
// request's context (as net/http does).
type checkConnErrorWriter struct{ c *conn }

func (w checkConnErrorWriter) Write(p []byte) (int, error) {
	w.c.wireWrites++
	n, err := w.c.rwc.Write(p)
	if err != nil && w.c.werr == nil {
		w.c.werr = err
		w.c.mu.Lock()
		if w.c.cancelReq != nil {
			w.c.cancelReq()
		}
		w.c.mu.Unlock()
	}
	return n, err
}

func (c *conn) setState(st int) {
	c.state.Store(uint64(time.Now().Unix())<<8 | uint64(st))
}

func (c *conn) getState() (st int, unixSec int64) {
	v := c.state.Load()
	return int(v & 0xff), int64(v >> 8)
}

// Head reading outcomes.
const (
	headOK = iota
	headDecline
	headFail
)

func numLeadingCRorLF(v []byte) (n int) {
	for _, b := range v {
		if b == '\r' || b == '\n' {
			n++
			continue
		}
		break
	}
	return
}

// readHead reads and parses the next request head. On headOK the head is
// the first c.p.headLen buffered bytes.
func (c *conn) readHead() int {
	if c.lastMethod == "POST" {
		// RFC 7230 section 3 tolerance for old buggy clients (net/http's).
		peek, _ := c.br.Peek(4)
		c.br.Discard(numLeadingCRorLF(peek))
	}
	c.p.reset(c.srv.maxHead())
	buf, _ := c.br.Peek(c.br.Buffered())
	for {
		switch c.p.feed(buf) {
		case parseDone:
			return headOK
		case parseDecline:
			return headDecline
		}
		var err error
		buf, err = c.br.Peek(len(buf) + 1)
		if err != nil {
			switch c.p.feed(buf) {
			case parseDone:
				return headOK
			case parseDecline:
				return headDecline
			}
			if err == io.EOF && len(buf) > 0 {
				// net/http answers a truncated head with 400.
				return headDecline
			}
			return headFail // net/http closes silently (EOF, timeout, reset)
		}
	}
}

func (c *conn) serve() { c.run(false) }

// resume serves a connection the parker woke: it turned readable (a
// request's first bytes, or the peer closing).
func (c *conn) resume() { c.run(true) }

// run serves c until it closes, is handed off, or is parked.
func (c *conn) run(resumed bool) {
	s := c.srv
	handedOff, parked := false, false
	defer func() {
		if err := recover(); err != nil {
			// Not a handler panic (serveRequest recovers those): log it
			// as net/http would, and drop the connection.
			const size = 64 << 10
			buf := make([]byte, size)
			buf = buf[:runtime.Stack(buf, false)]
			s.logError(fmt.Sprintf("http: panic serving %v: %v\n%s", c.remoteAddr, err, buf))
		}
		if !parked {
			c.finish(!handedOff)
		}
	}()

	if !resumed {
		if _, ok := c.rwc.(connectionStater); ok {
			// TLS (handshake, ALPN, Request.TLS) is net/http's business.
			handedOff = !s.shuttingDown() && s.fallbackLn.send(c.rwc)
			return
		}
		if ra := c.rwc.RemoteAddr(); ra != nil {
			c.remoteAddr = ra.String()
		}
		c.baseCtx = context.WithValue(s.baseCtx, http.LocalAddrContextKey, c.rwc.LocalAddr())
		c.cr.c = c
		c.takeBuffers()
		if d := s.ReadHeaderTimeout; d > 0 {
			c.rwc.SetReadDeadline(time.Now().Add(d))
			c.rdeadline = true
		}
	}

	for {
		if resumed {
			resumed = false
			// Parked with its idle deadline; its bytes are waiting.
			c.setReadDeadline(c.idleDeadline)
			c.takeBuffers()
			if _, err := c.br.Peek(1); err != nil {
				return
			}
		} else {
			switch c.readHead() {
			case headDecline:
				handedOff = c.handoff()
				return
			case headFail:
				return
			}
			c.setState(stateActive)
			if s.shuttingDown() {
				return
			}
			buf, _ := c.br.Peek(c.p.headLen)
			var tmp http.Request
			if !c.p.build(buf, &tmp) {
				handedOff = c.handoff()
				return
			}
			c.br.Discard(c.p.headLen)
			if !c.serveRequest(&tmp) {
				return
			}
			c.setState(stateIdle)
			if s.shuttingDown() {
				return
			}

			// Wait for the next request's first bytes before starting the
			// header timeout, as net/http does. A connection idle for a
			// while holds no buffers (4 KiB each; 80 MiB for 10,000 idle
			// connections otherwise) and, parked, no goroutine: see
			// waitIdle.
			var now time.Time
			c.idleDeadline = time.Time{}
			if d := s.IdleTimeout; d > 0 {
				now = time.Now()
				c.idleDeadline = now.Add(d)
			}
			if c.br.Buffered() == 0 && !c.cr.hasByte && c.bw.Buffered() == 0 {
				switch c.waitIdle(now) {
				case idleParked:
					parked = true
					return
				case idleClosed:
					return
				}
			} else {
				c.setReadDeadline(c.idleDeadline)
			}
		}
		if c.headBuffered() {
			continue // nothing left to read for it: no header timeout to start
		}
		if _, err := c.br.Peek(4); err != nil {
			return
		}
		if d := s.ReadHeaderTimeout; d > 0 {
			c.setReadDeadline(time.Now().Add(d))
		} else {
			c.setReadDeadline(time.Time{})
		}
	}
}

var headEnd = []byte("\r\n\r\n")

// headBuffered reports whether a whole request head is buffered (the
// common case: it arrived in one segment). Blank lines before it, which
// readHead may skip, do not count.
func (c *conn) headBuffered() bool {
	buf, _ := c.br.Peek(c.br.Buffered())
	return bytes.Contains(buf[numLeadingCRorLF(buf):], headEnd)
}

// setReadDeadline sets rwc's read deadline; the zero time clears it (a
// no-op when none is set).
func (c *conn) setReadDeadline(t time.Time) {
	if t.IsZero() {
		if c.rdeadline {
			c.rwc.SetReadDeadline(t)
			c.rdeadline = false
		}
		return
	}
	c.rwc.SetReadDeadline(t)
	c.rdeadline = true
}

// finish ends a connection's life on the fast path: closed (unless handed
// off), untracked, and counted out.
func (c *conn) finish(closeIt bool) {
	if closeIt {
		c.close()
	}
	c.stopTimer()
	c.srv.trackConn(c, false)
	c.srv.connWG.Done()
}

// close flushes and closes the connection, returning its buffers.
func (c *conn) close() {
	if c.bw != nil {
		c.bw.Flush()
		putWriter(c.bw)
		c.bw = nil
	}
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	c.rwc.Close()
}
