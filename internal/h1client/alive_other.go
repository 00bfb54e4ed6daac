//go:build !unix

package h1client

import "net"

// peeker is a no-op where MSG_PEEK is not available: an idle connection
// counts as alive, and a request that meets a closed one is replayed.
type peeker struct{}

func newPeeker(net.Conn) *peeker { return nil }

func (*peeker) open() bool { return true }
