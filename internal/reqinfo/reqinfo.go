// Package reqinfo is the record of one request that the gateway keeps while
// serving it: the final status and size, where it went, what the cache and
// retries did. It travels in one typed place, the Writer every handler of a
// route's chain answers into: middlewares take it with From, fill in what
// they know and read what the inner handlers did; the access log, stats and
// metrics read it when the request ends. Nothing is allocated for it: it
// lives inside the gateway's pooled writer.
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
	// Route is the matched route's name, its path_prefix (host + prefix
	// for a route with a host; "" for the default response);
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
	// Trace is the trace context sent upstream; zero when not traced.
	Trace Trace
	// Consumer is the authenticated caller's name ("" when the request is
	// anonymous), ConsumerTier its tier ("" for the default). Never a
	// credential.
	Consumer     string
	ConsumerTier string
	// Identity are the header fields (name, value, name, value, ...; names
	// canonical) the route's auth sets upstream from the verified
	// identity besides X-Consumer and X-Consumer-Tier: forwarded claims,
	// a forward service's answer headers.
	Identity []string
	// CredentialQuery names the query parameter that carried the
	// request's credential ("" when none): logs leave its value out.
	CredentialQuery string
	// AuthFailed is true when the route's auth refused the request (401,
	// 403, or the forward service's refusal).
	AuthFailed bool
}

// Carrier is implemented by every ResponseWriter a route's chain answers
// into: the Writer itself, and any wrapper a middleware puts in front of
// the handlers after it, which passes its own writer's Info on.
type Carrier interface {
	RequestInfo() *Info
}

// From returns the Info of the request w answers. A writer that carries
// none (a handler used outside a chain) gets a fresh Info that nobody
// reads.
func From(w http.ResponseWriter) *Info {
	if c, ok := w.(Carrier); ok {
		return c.RequestInfo()
	}
	return new(Info)
}
