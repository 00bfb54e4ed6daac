//go:build unix

package h1client

import (
	"errors"
	"net"
	"syscall"
)

// peeker checks an idle connection with a non-blocking MSG_PEEK read.
// It is made once per connection, so that a check allocates nothing.
type peeker struct {
	rc    syscall.RawConn
	fn    func(fd uintptr) bool // p.check, bound once
	alive bool
	b     [1]byte
}

// newPeeker returns nc's peeker, or nil when nc has no descriptor to
// peek at (then a connection counts as alive).
func newPeeker(nc net.Conn) *peeker {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &peeker{rc: rc}
	p.fn = p.check
	return p
}

func (p *peeker) check(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), p.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.alive = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
	return true
}

// open reports whether the connection is open with nothing to read.
func (p *peeker) open() bool {
	if p == nil {
		return true
	}
	p.alive = false
	return p.rc.Read(p.fn) == nil && p.alive
}
