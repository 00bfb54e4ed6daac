package h1server

import (
	"time"

	"github.com/rgate/rgate/internal/h1syntax"
)

// idleBufferHold is how long an idle connection keeps its buffers when
// parking is off (see waitIdle).
const idleBufferHold = time.Second

// waitIdle outcomes.
const (
	idleByte   = iota // the next request's first byte is in
	idleClosed        // closed, reset, or idle past IdleTimeout
	idleParked        // handed to the parker: the caller must let go of c
)

// waitIdle waits for an idle connection's next request. For up to
// ParkIdleAfter (idleBufferHold if parking is off) it waits with its
// buffers, so that the request is read in one system call; past that it
// gives the buffers back and parks the connection, or, if it cannot,
// waits on for the first byte, read into the connection itself. On
// idleByte the buffers are in place. now is the time the wait began, or
// zero.
func (c *conn) waitIdle(now time.Time) int {
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
			return idleClosed
		}
		return idleByte
	}
	c.setReadDeadline(holdUntil)
	if _, err := c.br.Peek(1); err == nil {
		return idleByte
	} else if !h1syntax.IsTimeout(err) || s.shuttingDown() {
		return idleClosed
	}
	c.dropBuffers()
	if p := s.parker(); p != nil {
		c.shed()
		if p.park(c) {
			return idleParked
		}
	}
	c.setReadDeadline(c.idleDeadline)
	if !c.readFirstByte() {
		return idleClosed
	}
	return idleByte
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
