package h1server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
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
	emptyLines int    // empty lines skipped before the next request line
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

	// tlsState is the connection's TLS state after the handshake; nil
	// for a plain connection.
	tlsState *tls.ConnectionState
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

// maxEmptyLines bounds the empty lines skipped before a request line: one
// more, and it is read as an empty request line (a malformed request,
// which the fallback answers with 400).
const maxEmptyLines = 8

// skipEmptyLines discards the empty lines (CRLF, or a bare LF) buffered
// before a request line, which RFC 9112 section 2.2 lets a server ignore,
// up to maxEmptyLines since the last request. It reports whether more may
// follow: nothing is buffered but at most a CR, and the bound is not
// reached.
func (c *conn) skipEmptyLines() bool {
	for c.emptyLines < maxEmptyLines {
		buf, _ := c.br.Peek(min(c.br.Buffered(), 2))
		switch {
		case len(buf) > 0 && buf[0] == '\n':
			c.br.Discard(1)
		case len(buf) == 2 && buf[0] == '\r' && buf[1] == '\n':
			c.br.Discard(2)
		default:
			return len(buf) == 0 || len(buf) == 1 && buf[0] == '\r'
		}
		c.emptyLines++
	}
	return false
}

// readHead reads and parses the next request head. On headOK the head is
// the first c.p.headLen buffered bytes.
func (c *conn) readHead() int {
	if c.lastMethod == "POST" {
		// RFC 7230 section 3 tolerance for old buggy clients (net/http's).
		peek, _ := c.br.Peek(4)
		c.br.Discard(numLeadingCRorLF(peek))
	}
	for c.skipEmptyLines() {
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
			break // the parse below meets the error again
		}
	}
	c.emptyLines = 0
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

// What becomes of a connection when a step of run is done with it.
type fate uint8

const (
	serveOn   fate = iota // go on serving it
	closeIt               // close it: closed, reset, timed out, done or shutting down
	handedOff             // the fallback server owns it
	parked                // the parker owns it: let go of it
)

// run serves c until it closes, is handed off, or is parked: a new
// connection is started, a resumed one woken; then each request is served
// and its successor awaited, until a step decides c's fate.
func (c *conn) run(resumed bool) {
	f := serveOn
	defer func() { c.settle(f, recover()) }()

	if !resumed {
		if f = c.start(); f != serveOn {
			return
		}
	}
	for {
		if resumed {
			resumed = false
			f = c.wake()
		} else if f = c.serveNext(); f == serveOn {
			f = c.idle()
		}
		if f == serveOn {
			f = c.awaitHead()
		}
		if f != serveOn {
			return
		}
	}
}

// settle ends run. A panic (err) there is not a handler's (serveRequest
// recovers those): it is logged as net/http would, and the connection
// dropped. c is finished unless the parker owns it, and closed unless the
// fallback does.
func (c *conn) settle(f fate, err any) {
	if err != nil {
		c.logPanic(err)
	}
	if f != parked {
		c.finish(f != handedOff)
	}
}

// logPanic logs a panic serving c, with the stack, as net/http does.
func (c *conn) logPanic(err any) {
	const size = 64 << 10
	buf := make([]byte, size)
	buf = buf[:runtime.Stack(buf, false)]
	c.srv.logError(fmt.Sprintf("http: panic serving %v: %v\n%s", c.remoteAddr, err, buf))
}

// start takes a newly accepted connection. A TLS one goes to the fallback
// unread (the handshake, ALPN and Request.TLS are net/http's business)
// unless HandshakeTLS is set (see handshake); a connection served here
// gets its remote address, base context and buffers, and the first
// head's ReadHeaderTimeout.
func (c *conn) start() fate {
	s := c.srv
	if _, ok := c.rwc.(connectionStater); ok {
		tc, own := c.rwc.(*tls.Conn)
		if own && s.HandshakeTLS {
			if f := c.handshake(tc); f != serveOn {
				return f
			}
		} else if !s.shuttingDown() && s.fallbackLn.send(c.rwc) {
			return handedOff
		} else {
			return closeIt
		}
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
	return serveOn
}

// wake takes back a connection the parker woke, parked with its idle
// deadline: the deadline, the buffers, and the bytes waiting (a request's
// first, or the peer's close).
func (c *conn) wake() fate {
	c.setReadDeadline(c.idleDeadline)
	c.takeBuffers()
	if _, err := c.br.Peek(1); err != nil {
		return closeIt
	}
	return serveOn
}

// serveNext reads the next request head and serves the request; a head
// the fast path declines (or a target that does not parse) hands the
// connection off.
func (c *conn) serveNext() fate {
	s := c.srv
	switch c.readHead() {
	case headDecline:
		return c.declined()
	case headFail:
		return closeIt
	}
	c.setState(stateActive)
	if s.shuttingDown() {
		return closeIt
	}
	buf, _ := c.br.Peek(c.p.headLen)
	var tmp http.Request
	if !c.p.build(buf, &tmp) {
		return c.handoff()
	}
	c.br.Discard(c.p.headLen)
	if !c.serveRequest(&tmp) {
		return closeIt
	}
	c.setState(stateIdle)
	if s.shuttingDown() {
		return closeIt
	}
	return serveOn
}

// awaitHead starts the next head's ReadHeaderTimeout once its first bytes
// are in; when a whole head is already buffered there is nothing to wait
// for. Empty lines before it (see skipEmptyLines) are not its first
// bytes: the connection stays idle, under the same idle deadline, and
// waits (or parks) again.
func (c *conn) awaitHead() fate {
	for c.skipEmptyLines() {
		if c.br.Buffered() == 0 && !c.cr.hasByte {
			if f := c.waitIdle(time.Time{}); f != serveOn {
				return f
			}
			continue
		}
		c.setReadDeadline(c.idleDeadline) // the rest of a CRLF
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
			return closeIt
		}
	}
	if c.headBuffered() {
		return serveOn // nothing left to read for it: no header timeout to start
	}
	// The idle deadline, not waitIdle's shorter hold, for the rest of the
	// first bytes.
	c.setReadDeadline(c.idleDeadline)
	if _, err := c.br.Peek(4); err != nil {
		return closeIt
	}
	if d := c.srv.ReadHeaderTimeout; d > 0 {
		c.setReadDeadline(time.Now().Add(d))
	} else {
		c.setReadDeadline(time.Time{})
	}
	return serveOn
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
