package h1server

import (
	"net/http"
	"sync/atomic"
	"time"
)

// dateEntry is the formatted Date header value for one second.
type dateEntry struct {
	sec int64
	b   [len(http.TimeFormat)]byte
}

var dateCache atomic.Pointer[dateEntry]

// currentDate returns the Date header value for now. The returned slice
// must not be modified. It allocates only when the second changes.
func currentDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if e := dateCache.Load(); e != nil && e.sec == sec {
		return e.b[:]
	}
	e := &dateEntry{sec: sec}
	now.UTC().AppendFormat(e.b[:0], http.TimeFormat)
	dateCache.Store(e)
	return e.b[:]
}
