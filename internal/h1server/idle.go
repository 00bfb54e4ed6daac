package h1server

import (
	"time"

	"github.com/rgate/rgate/internal/h1syntax"
)

// idleBufferHold is how long an idle connection keeps its buffers when
// parking is off (see waitIdle).
const idleBufferHold = time.Second

// idle waits, after a response, for the next request's first bytes
// before its header timeout starts, as net/http does. A connection idle for
// a while holds no buffers (4 KiB each; 80 MiB for 10,000 idle connections
// otherwise) and, parked, no goroutine: see waitIdle. Bytes already
// buffered (pipelined requests) need no wait; empty lines buffered after
// the last request (a client's CRLF after a body) are skipped first, so
// that they do not keep the connection from parking.
func (c *conn) idle() fate {
	var now time.Time
	c.idleDeadline = time.Time{}
	if d := c.srv.IdleTimeout; d > 0 {
		now = time.Now()
		c.idleDeadline = now.Add(d)
	}
	c.skipEmptyLines()
	if c.br.Buffered() == 0 && !c.cr.hasByte && c.bw.Buffered() == 0 {
		return c.waitIdle(now)
	}
	c.setReadDeadline(c.idleDeadline)
	return serveOn
}

// waitIdle waits for an idle connection's next request. For up to
// ParkIdleAfter (idleBufferHold if parking is off) it waits with its
// buffers, so that the request is read in one system call; past that it
// gives the buffers back and parks the connection, or, if it cannot,
// waits on for the first byte, read into the connection itself. It
// returns serveOn when the next request's first byte is in (the buffers in
// place), parked when the parker took the connection (the caller must let
// go of it), and closeIt when it closed, reset, or stayed idle past
// IdleTimeout. now is the time the wait began, or zero.
func (c *conn) waitIdle(now time.Time) fate {
	s := c.srv
	hold := s.ParkIdleAfter
	if hold <= 0 {
		hold = idleBufferHold
	}
	if now.IsZero() {
		now = time.Now()
	}
	holdUntil := now.Add(hold)
	if !c.idleDeadline.IsZero() && !holdUntil.Before(c.idleDeadline) {
		c.setReadDeadline(c.idleDeadline)
		if _, err := c.br.Peek(1); err != nil {
			return closeIt
		}
		return serveOn
	}
	c.setReadDeadline(holdUntil)
	if _, err := c.br.Peek(1); err == nil {
		return serveOn
	} else if !h1syntax.IsTimeout(err) || s.shuttingDown() {
		return closeIt
	}
	c.dropBuffers()
	if p := s.parker(); p != nil {
		c.shed()
		if p.park(c) {
			return parked
		}
	}
	c.setReadDeadline(c.idleDeadline)
	if !c.readFirstByte() {
		return closeIt
	}
	return serveOn
}

// shed drops what an idle connection can do without (the disconnect
// watcher's timer, the parser's field index) before it is parked; they
// come back with the next request.
func (c *conn) shed() {
	c.mu.Lock()
	t := c.timer
	c.timer = nil
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	c.p.fields = nil
}

// readFirstByte waits for an idle connection's next byte, reading it into
// the connection, and takes the buffers back. It reports false if the
// connection closed, reset, or stayed idle past its deadline.
func (c *conn) readFirstByte() bool {
	if n, _ := c.rwc.Read(c.cr.byteBuf[:]); n == 0 {
		return false
	}
	c.cr.hasByte = true
	c.takeBuffers()
	return true
}
