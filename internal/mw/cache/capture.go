package cache

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rgate/rgate/internal/reqinfo"
)

type captureMode uint8

const (
	// pending: no status yet; the next handler's headers go to a private
	// map, nothing has reached the client.
	pending captureMode = iota
	// passing: headers sent; the body streams to the client (and, while
	// capturing, into the buffer).
	passing
	// swallowing: a 5xx that a stale entry will replace; everything is
	// dropped.
	swallowing
)

// capture is the ResponseWriter the next handler answers a forwarded
// request into. It decides at WriteHeader, before anything reaches the
// client, whether the answer passes (and is captured for storage) or is
// swallowed in favour of a stale entry.
type capture struct {
	w     http.ResponseWriter
	h     http.Header // the next handler's header map until the status is known
	s     *Store
	rh    http.Header // the request's header, for the Vary values of the key
	stale *entry      // served instead of a 5xx when set
	fwd   string      // Cache-Status fwd reason
	auth  bool        // the request carried Authorization
	store bool        // the request lets its answer be stored

	mode      captureMode
	status    int
	capturing bool
	failed    bool  // a write to the client failed
	length    int64 // Content-Length, -1 when unknown
	pol       policy
	body      []byte
}

var (
	_ http.ResponseWriter = (*capture)(nil)
	_ http.Flusher        = (*capture)(nil)
	_ reqinfo.Carrier     = (*capture)(nil)
	_ interface {
		FlushError() error
		Unwrap() http.ResponseWriter
	} = (*capture)(nil)
)

func (c *capture) Header() http.Header {
	if c.mode == passing {
		return c.w.Header()
	}
	return c.h
}

func (c *capture) WriteHeader(code int) {
	if c.mode != pending {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		c.informational(code)
		return
	}
	c.status = code
	if code >= 500 && c.stale != nil {
		c.mode = swallowing
		return
	}
	c.mode = passing
	if c.store && code == http.StatusOK {
		c.admit()
	}
	dst := c.w.Header()
	for k, v := range c.h {
		addValues(dst, k, v)
	}
	cs := cacheName + "; fwd=" + c.fwd
	if c.capturing {
		cs += "; stored"
	}
	dst["X-Cache"] = []string{reqinfo.CacheMiss}
	dst.Add("Cache-Status", cs) // after an upstream cache's own member
	c.w.WriteHeader(code)
}

// informational relays a 1xx answer with the headers set so far; the next
// handler clears its map afterwards (as ReverseProxy does), and the
// client's map gets back what it held before, so the final answer does not
// repeat them.
func (c *capture) informational(code int) {
	dst := c.w.Header()
	saved := make(http.Header, len(c.h))
	for k, v := range c.h {
		saved[k] = dst[k]
		dst[k] = v
	}
	c.w.WriteHeader(code)
	for k, v := range saved {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

func (c *capture) Write(b []byte) (int, error) {
	if c.mode == pending {
		c.WriteHeader(http.StatusOK)
	}
	if c.mode == swallowing {
		return len(b), nil
	}
	if c.capturing {
		if int64(len(c.body)+len(b)) > c.s.maxEntry {
			c.capturing, c.body = false, nil // too big: keep streaming, stop keeping
		} else {
			c.body = append(c.body, b...)
		}
	}
	n, err := c.w.Write(b)
	if err != nil {
		c.failed = true
	}
	return n, err
}

// FlushError sends the headers if needed, then flushes the client's writer
// (http.ResponseController finds it here before it would unwrap past the
// private header map).
func (c *capture) FlushError() error {
	if c.mode == pending {
		c.WriteHeader(http.StatusOK)
	}
	if c.mode == swallowing {
		return nil
	}
	return http.NewResponseController(c.w).Flush()
}

// Flush implements http.Flusher.
func (c *capture) Flush() { _ = c.FlushError() }

// RequestInfo passes the request's reqinfo.Info on to the handlers after
// the cache.
func (c *capture) RequestInfo() *reqinfo.Info { return reqinfo.From(c.w) }

// Unwrap gives http.ResponseController and reqinfo.From the client's
// writer (deadlines, hijacking).
func (c *capture) Unwrap() http.ResponseWriter { return c.w }

// admit decides, at WriteHeader of a 200, whether to capture the body.
func (c *capture) admit() {
	p, ok := c.s.admit(c.h, c.auth, time.Now())
	if !ok {
		return
	}
	c.length = contentLength(c.h)
	if c.length > c.s.maxEntry {
		return
	}
	c.pol, c.capturing = p, true
	if c.length > 0 {
		c.body = make([]byte, 0, c.length)
	}
}

// entry returns what to store once the next handler returned: nil unless
// the whole body was captured and delivered.
func (c *capture) entry(primary string) *entry {
	if !c.capturing || c.failed || (c.length >= 0 && int64(len(c.body)) != c.length) {
		return nil
	}
	e := newEntry(primary, c.pol, c.h, c.rh, c.body)
	if e.size > c.s.maxEntry {
		return nil
	}
	return e
}

// contentLength is h's Content-Length, -1 when absent or invalid.
func contentLength(h http.Header) int64 {
	v := h["Content-Length"]
	if len(v) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
