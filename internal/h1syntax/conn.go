package h1syntax

import (
	"errors"
	"net"
	"time"
)

// ALongTimeAgo is a deadline in the past: setting it on a connection makes
// its blocked reads or writes return at once.
var ALongTimeAgo = time.Unix(1, 0)

// IsTimeout reports whether err is a timeout (a passed deadline, including
// context.DeadlineExceeded).
func IsTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}
