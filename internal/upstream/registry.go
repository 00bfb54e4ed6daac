package upstream

import "sync"

// Registry hands out one *Upstream per Key, so that state survives routing
// table swaps. main owns one and passes it to every compile. Its methods are
// called at compile time only, never on the request path, and are safe for
// concurrent use.
type Registry struct {
	mu  sync.Mutex
	ups map[Key]*Upstream
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{ups: make(map[Key]*Upstream)}
}

// Get returns the upstream for k, creating it on first use. The same key
// returns the same pointer until Retain forgets it.
func (r *Registry) Get(k Key) *Upstream {
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.ups[k]
	if !ok {
		u = newUpstream(k)
		r.ups[k] = u
	}
	return u
}

// Retain forgets every upstream that is not in live and retires it (see
// Upstream.Retired); a later Get for a forgotten key creates a fresh
// upstream. Call it after each compile with every upstream the new table
// uses.
func (r *Registry) Retain(live []*Upstream) {
	keep := make(map[*Upstream]struct{}, len(live))
	for _, u := range live {
		keep[u] = struct{}{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, u := range r.ups {
		if _, ok := keep[u]; !ok {
			delete(r.ups, k)
			u.retire()
		}
	}
}

// Len returns how many upstreams the registry holds.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ups)
}
