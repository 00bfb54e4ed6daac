package h1server

import (
	"sync"
	"time"

	"github.com/rgate/rgate/internal/h1syntax"
)

// Disconnect-watcher states.
const (
	watchIdle    = iota // not watching
	watchArmed          // the timer will start a read when it fires
	watchReading        // a 1-byte read is in flight
)

// watchDelay is how long a handler must run (with its request body done)
// before a background read watches for the client going away.
var watchDelay = 50 * time.Millisecond

// armWatch arranges for the disconnect watcher to start a background read
// after watchDelay if the handler is still running then.
func (c *conn) armWatch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.handlerOn || c.watchState != watchIdle {
		return
	}
	c.watchState = watchArmed
	if c.timer == nil {
		c.timer = time.AfterFunc(watchDelay, c.watchFire)
	} else {
		c.timer.Reset(watchDelay)
	}
}

// watchFire runs on the timer's goroutine: it reads one byte, like
// net/http's backgroundRead. A byte read is kept for the next request; an
// error (EOF, reset) means the client is gone and cancels the request.
func (c *conn) watchFire() {
	c.mu.Lock()
	if c.watchState != watchArmed {
		c.mu.Unlock()
		return
	}
	c.watchState = watchReading
	if c.cr.hasByte {
		// Cannot happen (a byte is only held between requests), but
		// never read over it.
		c.watchState = watchIdle
		c.mu.Unlock()
		return
	}
	c.rwc.SetReadDeadline(time.Time{})
	c.mu.Unlock()

	n, err := c.rwc.Read(c.cr.byteBuf[:])

	c.mu.Lock()
	if n == 1 {
		c.cr.hasByte = true
	}
	if err != nil && !(c.watchAborted && h1syntax.IsTimeout(err)) {
		c.peerGone = true
		if c.cancelReq != nil {
			c.cancelReq()
		}
	}
	c.watchAborted = false
	c.watchState = watchIdle
	if c.watchCond != nil {
		c.watchCond.Broadcast()
	}
	c.mu.Unlock()
}

// disarm stops watching once the handler returned: it stops the timer and
// aborts an in-flight background read, waiting for it to finish.
func (c *conn) disarm() {
	c.mu.Lock()
	c.handlerOn = false
	c.cancelReq = nil
	switch c.watchState {
	case watchArmed:
		c.watchState = watchIdle
	case watchReading:
		c.watchAborted = true
		c.rwc.SetReadDeadline(h1syntax.ALongTimeAgo)
		if c.watchCond == nil {
			c.watchCond = sync.NewCond(&c.mu)
		}
		for c.watchState == watchReading {
			c.watchCond.Wait()
		}
		c.rwc.SetReadDeadline(time.Time{})
	}
	t := c.timer
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
}

func (c *conn) stopTimer() {
	c.mu.Lock()
	t := c.timer
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
}
