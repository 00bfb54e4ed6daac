//go:build !unix

package h1client

import "syscall"

// peekAlive cannot look without reading here: an idle connection is taken
// as open, and a stale one is found by the request (and retried as
// net/http retries it).
func peekAlive(rc syscall.RawConn) bool { return true }
