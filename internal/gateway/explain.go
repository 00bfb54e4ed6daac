package gateway

import "github.com/rgate/rgate/internal/route"

// Explain says what the gateway does with a request for path (a request
// target, escaped as a client sends it) and why, from the table serving now
// and the config and snapshot it was compiled from. It takes the applier's
// lock only to read those three together; requests never wait on it.
func (g *Gateway) Explain(path string) route.Explanation {
	g.apply.mu.Lock()
	t, cfg, snap := g.table.Load(), g.apply.cfg, g.apply.snap
	g.apply.mu.Unlock()
	return route.Explain(t, cfg, snap, path)
}
