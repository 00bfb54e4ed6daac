package h1server

import (
	"context"
	"net/http"
	"time"
)

// rstAvoidanceDelay is net/http's: after a response that leaves unread
// request body, the server half-closes and waits this long before closing,
// so the client reads the response before a RST.
var rstAvoidanceDelay = 500 * time.Millisecond

// serveRequest runs the handler for req (which has no context yet) and
// completes the response. It reports whether the connection may be reused.
func (c *conn) serveRequest(tmp *http.Request) (keep bool) {
	s := c.srv
	var bd *body
	if tmp.ContentLength > 0 {
		bd = &body{c: c, remain: tmp.ContentLength, closing: tmp.Close}
		tmp.Body = bd
	} else {
		tmp.Body = http.NoBody
	}
	tmp.RemoteAddr = c.remoteAddr
	tmp.TLS = c.tlsState
	ctx, cancel := context.WithCancel(c.baseCtx)
	req := tmp.WithContext(ctx)
	c.lastMethod = req.Method

	// A writer per request, not one per connection: a goroutine that
	// (against the ResponseWriter contract) writes after ServeHTTP has
	// returned gets errWriterDone instead of writing into the next
	// request's answer.
	w := new(response)
	w.reset(c, req, bd)
	defer w.release()

	if c.rdeadline && bd != nil {
		// No read deadline while the handler reads the body. Without a
		// body nothing reads the connection until the handler returns
		// (the disconnect watcher clears the deadline itself), so the
		// idle one may stay: one system-call-free timer update less.
		c.rwc.SetReadDeadline(time.Time{})
		c.rdeadline = false
	}
	c.mu.Lock()
	c.cancelReq = cancel
	c.handlerOn = true
	c.mu.Unlock()
	if bd == nil {
		c.armWatch()
	}

	handler := s.Handler
	if handler == nil {
		handler = http.DefaultServeMux
	}
	finished := false
	defer func() {
		if finished {
			return
		}
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			c.logPanic(err)
		}
		cancel()
		c.disarm()
		w.reqBody.Close()
		if w.sentNothingYet() {
			c.bw.Reset(checkConnErrorWriter{c})
		}
		keep = false
	}()
	handler.ServeHTTP(w, req)

	cancel()
	c.disarm()
	w.finishRequest() // may panic too (a handler's goroutine misusing w)
	finished = true
	keep = w.shouldReuseConnection()
	if !keep && (w.requestBodyLimitHit || w.closedRequestBodyEarly()) {
		c.closeWriteAndWait()
	}
	if c.peerGone {
		keep = false
	}
	return keep
}

type closeWriter interface {
	CloseWrite() error
}

// closeWriteAndWait is net/http's: flush, send FIN, and give the client
// time to read the response before the close turns into a RST.
func (c *conn) closeWriteAndWait() {
	c.bw.Flush()
	if tcp, ok := c.rwc.(closeWriter); ok {
		tcp.CloseWrite()
	}
	time.Sleep(rstAvoidanceDelay)
}
