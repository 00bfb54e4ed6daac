// Package route turns a configuration and a snapshot of Docker containers
// into an immutable routing Table. Compile is a pure function of its inputs
// apart from the long-lived state it takes from Deps (policy state, stats
// series); the gateway publishes each new Table with an atomic pointer swap
// and never mutates one once built.
package route

import (
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/headers"
	"github.com/rgate/rgate/internal/lb"
	"github.com/rgate/rgate/internal/metrics"
	"github.com/rgate/rgate/internal/mw/auth"
	"github.com/rgate/rgate/internal/mw/breaker"
	"github.com/rgate/rgate/internal/mw/cache"
	"github.com/rgate/rgate/internal/mw/ratelimit"
	"github.com/rgate/rgate/internal/stats"
	"github.com/rgate/rgate/internal/upstream"
)

// Table is one compiled, immutable routing state.
type Table struct {
	// index finds the longest matching prefix among the routes without a
	// host (radix.go); hosts those of the routes with one (host.go), nil
	// when there are none.
	index *radix
	hosts *hostIndex
	// routes in config order.
	routes []*Route
	// Default is the answer when no route matches.
	Default Default
	// Backends in config order.
	Backends []*Backend
	// AccessLog is true when access_log.enabled is set.
	AccessLog bool
	// Trusted are the proxies whose X-Forwarded-* headers are believed.
	Trusted []netip.Prefix
}

// Default is the configured default response, ready to write.
type Default struct {
	Status int
	Body   []byte
	// ContentLength is len(Body) and ContentType the sniffed type of Body
	// (nil when Body is empty), both as header values made once at compile
	// time and shared by every answer (net/http only reads them).
	ContentLength []string
	ContentType   []string
}

// Route sends requests whose path starts with Prefix (and, when Host is
// set, whose host matches it) to Backend.
type Route struct {
	Prefix string
	// Host is the route's host in config.CanonicalHost's form: a name,
	// "*.domain", or "" for every host.
	Host string
	// Name identifies the route in stats, metrics and policy state (see
	// config.Route.Name): Prefix, or Host+Prefix when Host is set.
	Name    string
	Backend *Backend
	// Timeout bounds the upstream exchange up to the response headers.
	Timeout time.Duration
	// StripPrefix removes Prefix from the upstream path.
	StripPrefix bool
	// Retries is how many more upstreams an idempotent request may try.
	Retries int
	// MaxBodyBytes caps the request body; 0 means no cap.
	MaxBodyBytes int64
	// Methods are the methods the route serves, nil for every one but
	// TRACE; Allow is the matching Allow header of a 405 answer.
	Methods []string
	Allow   []string
	// Upgrades are the protocols (lower case) a client may switch to.
	Upgrades []string
	// RequestHeaders and ResponseHeaders are the route's header rules.
	RequestHeaders, ResponseHeaders headers.Rules
	// Limiter and Cache are the route's policy state, nil when off.
	Limiter *ratelimit.Limiter
	// ClusterLimiter is the route's rate limit when its scope is cluster
	// (Limiter is then nil).
	ClusterLimiter *ratelimit.ClusterLimiter
	Cache          *cache.Store
	// Auth is the route's auth policy (nil when off); AllowConsumers the
	// consumers it lets through (empty: all); ForwardCredentials keeps the
	// client's credential on the outbound request.
	Auth               *auth.Policy
	AllowConsumers     []string
	ForwardCredentials bool
	// Consumers counts requests and auth failures by consumer; nil
	// without auth or metrics.
	Consumers *metrics.ConsumerMetrics
	// Policies names the policies on, for /health and the dashboard.
	Policies []string
	Stats    *stats.Series
	Metrics  *metrics.RouteMetrics
	// Handler is the route's chain: policies, then the forwarder (nil in
	// a table compiled without Deps.Forward, which is never served).
	Handler http.Handler
}

// Serves reports whether the route serves requests with method m.
func (r *Route) Serves(m string) bool {
	if r.Methods == nil {
		return m != "TRACE"
	}
	return slices.Contains(r.Methods, m)
}

// Backend is a named set of upstreams.
type Backend struct {
	Name string
	// Selector is the parsed match_labels; empty for URL-only backends.
	Selector map[string]string
	// Upstreams serve this backend: matching containers (in container-ID
	// order), then static URLs (in config order).
	Upstreams []*upstream.Upstream
	// Skipped lists containers that carry every selector label but are not
	// used, each with the reason.
	Skipped []Skip
	Picker  lb.Picker
	// Passive is the passive-ejection policy for connect failures.
	Passive upstream.Passive
	// HealthCheck is the active check, nil when off.
	HealthCheck *config.HealthCheck
	// Breaker is the circuit breaker, nil when off.
	Breaker *breaker.Breaker
	Stats   *stats.Series
	// ServiceHeader is the X-Service value, shared by every answer.
	ServiceHeader []string
	// TLS tunes connections to its https upstreams (nil: defaults).
	TLS *config.UpstreamTLS
}

// Skip records why a container that matches a backend's labels gets no
// traffic.
type Skip struct {
	ContainerID string
	Container   string
	// Endpoint names the container's Docker engine ("" for the one engine
	// of the environment).
	Endpoint string
	Reason   string
	// Warn is true when the cause is a configuration mistake (a bad label,
	// no usable port) rather than ordinary lifecycle (stopped, starting).
	Warn bool
}

// Lookup returns the route without a host whose prefix is the longest
// prefix of path, or nil when none is: the route for a request that names
// no host (LookupHost with host "").
func (t *Table) Lookup(path string) *Route {
	if t.index == nil {
		return nil
	}
	return t.index.lookup(path)
}

// LookupHost returns the route for a request for host (a Host header
// value, port and all) and path: the longest prefix among the routes for
// exactly that host, else among the wildcard routes that cover it, else
// among the routes without a host; nil when none matches.
func (t *Table) LookupHost(host, path string) *Route {
	if t.hosts == nil {
		return t.Lookup(path)
	}
	return t.match(requestHost(host), path)
}

// match is LookupHost for a host already in requestHost's form.
func (t *Table) match(host, path string) *Route {
	if t.hosts != nil && host != "" {
		if rt := t.hosts.lookup(host, path); rt != nil {
			return rt
		}
	}
	return t.Lookup(path)
}

// Routes returns the routes in config order. The slice must not be modified.
func (t *Table) Routes() []*Route { return t.routes }

// Backend returns the backend named name, or nil.
func (t *Table) Backend(name string) *Backend {
	for _, b := range t.Backends {
		if b.Name == name {
			return b
		}
	}
	return nil
}
