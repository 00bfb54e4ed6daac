// Package route turns a configuration and a snapshot of Docker containers
// into an immutable routing Table. Compile is a pure function of its inputs
// (plus the stats store it takes series from); the gateway publishes each
// new Table with an atomic pointer swap and never mutates one once built.
package route

import (
	"time"

	"github.com/rgate/rgate/internal/stats"
)

// Table is one compiled, immutable routing state.
type Table struct {
	// byLen holds routes keyed by their exact prefix, one map per distinct
	// prefix length, longest first: Lookup tries each length once instead
	// of scanning every route.
	byLen []prefixSet
	// routes in config order.
	routes []*Route
	// Default is the answer when no route matches.
	Default Default
	// Backends in config order.
	Backends []*Backend
}

type prefixSet struct {
	n      int
	routes map[string]*Route
}

// Default is the configured default response, ready to write.
type Default struct {
	Status int
	Body   []byte
	// ContentLength is len(Body) and ContentType the sniffed type of Body,
	// both worked out once at compile time.
	ContentLength string
	ContentType   string
}

// Route sends requests whose path starts with Prefix to Backend.
type Route struct {
	Prefix  string
	Backend *Backend
	// Timeout bounds the upstream exchange up to the response headers.
	Timeout time.Duration
	Stats   *stats.Series
}

// Backend is a named set of upstreams.
type Backend struct {
	Name string
	// Selector is the parsed match_labels; empty for URL-only backends.
	Selector map[string]string
	// Upstreams serve this backend: matching containers (in container-ID
	// order), then static URLs (in config order).
	Upstreams []*Upstream
	// Skipped lists containers that carry every selector label but are not
	// used, each with the reason.
	Skipped []Skip
	Stats   *stats.Series
}

// Upstream is one server a request can be sent to.
type Upstream struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is "host:port".
	Host string
	// ContainerID and Container are empty for static URLs.
	ContainerID string
	Container   string
}

// Static reports whether u comes from a backend's urls.
func (u *Upstream) Static() bool { return u.ContainerID == "" }

// Skip records why a container that matches a backend's labels gets no
// traffic.
type Skip struct {
	ContainerID string
	Container   string
	Reason      string
	// Warn is true when the cause is a configuration mistake (a bad label,
	// no usable port) rather than ordinary lifecycle (stopped, starting).
	Warn bool
}

// Lookup returns the route whose prefix is the longest prefix of path, or
// nil when none is.
func (t *Table) Lookup(path string) *Route {
	for i := range t.byLen {
		s := &t.byLen[i]
		if len(path) < s.n {
			continue
		}
		if r, ok := s.routes[path[:s.n]]; ok {
			return r
		}
	}
	return nil
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
