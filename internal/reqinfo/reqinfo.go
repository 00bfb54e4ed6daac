// Package reqinfo is the record of one request that the gateway keeps while
// serving it: the final status and size, where it went, what the cache and
// retries did. Middlewares find it from their ResponseWriter (the gateway's
// writer is outermost, and every wrapper implements Unwrap), fill in what
// they know, and read what the inner handlers did; the access log, stats
// and metrics read it when the request ends. Nothing is allocated for it:
// it lives inside the gateway's pooled writer.
package reqinfo

import (
	"net/http"
	"time"
)

// Cache outcomes.
const (
	CacheHit   = "HIT"
	CacheMiss  = "MISS"
	CacheStale = "STALE"
)

// Info is one request's record.
type Info struct {
	ID    string
	Start time.Time
	// Status is the status written to the client; 0 until written.
	Status int
	Bytes  int64
	// Route is the matched path_prefix ("" for the default response);
	// Backend the backend name.
	Route   string
	Backend string
	// Upstream is the "host:port" last tried; Container its name ("" for a
	// static URL).
	Upstream  string
	Container string
	// Cache is "", CacheHit, CacheMiss or CacheStale.
	Cache string
	// Retries is how many times the request was sent again.
	Retries int
	// RateLimited is true when a rate limit answered 429.
	RateLimited bool
	// ClientIP is the client's address: the connection's, or, when the
	// connection comes from a trusted proxy, the nearest address in
	// X-Forwarded-For that is not a trusted proxy.
	ClientIP string
	// ViaTrustedProxy is true when the connection comes from a trusted
	// proxy, whose X-Forwarded-* headers are then passed on.
	ViaTrustedProxy bool
}

// Carrier is implemented by the gateway's ResponseWriter.
type Carrier interface {
	Info() *Info
}

// From returns the Info of the request w answers, walking Unwrap chains, or
// nil when w is not served by the gateway (a bare httptest recorder).
func From(w http.ResponseWriter) *Info {
	for w != nil {
		if c, ok := w.(Carrier); ok {
			return c.Info()
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}
