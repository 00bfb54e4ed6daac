//go:build unix

package h1client

import (
	"errors"
	"syscall"
)

// peekAlive reports whether a non-blocking MSG_PEEK read finds the
// connection open with nothing to read.
func peekAlive(rc syscall.RawConn) bool {
	alive := false
	var b [1]byte
	err := rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && alive
}
