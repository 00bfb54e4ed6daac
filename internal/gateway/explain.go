package gateway

import "github.com/rgate/rgate/internal/route"

// Explain says what the gateway does with a request for path (a request
// target, escaped as a client sends it) that names no host; see
// ExplainHost.
func (g *Gateway) Explain(path string) route.Explanation { return g.ExplainHost("", path) }

// ExplainHost says what the gateway does with a request for host (a Host
// header value, port and all; "" for none) and path, and why, from the
// table serving now and the config and snapshot it was compiled from. It
// takes the applier's lock only to read those three together; requests
// never wait on it.
func (g *Gateway) ExplainHost(host, path string) route.Explanation {
	g.apply.mu.Lock()
	t, cfg, snap := g.table.Load(), g.apply.cfg, g.apply.snap
	g.apply.mu.Unlock()
	return route.Explain(t, cfg, snap, host, path)
}
