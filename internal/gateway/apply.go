package gateway

import (
	"context"
	"log/slog"
	"sync"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/stats"
)

// applier holds the inputs of the current table. Builds are serialised by
// its mutex; requests never touch it.
type applier struct {
	mu    sync.Mutex
	cfg   *config.Config
	snap  docker.Snapshot
	stats *stats.Store
}

// SetConfig compiles a table from cfg and the last snapshot and publishes it.
func (g *Gateway) SetConfig(cfg *config.Config) {
	g.apply.mu.Lock()
	defer g.apply.mu.Unlock()
	g.apply.cfg = cfg
	g.rebuild()
}

// SetSnapshot compiles a table from the current config and snap and
// publishes it.
func (g *Gateway) SetSnapshot(snap docker.Snapshot) {
	g.apply.mu.Lock()
	defer g.apply.mu.Unlock()
	g.apply.snap = snap
	g.rebuild()
}

// Config returns the config currently applied.
func (g *Gateway) Config() *config.Config {
	g.apply.mu.Lock()
	defer g.apply.mu.Unlock()
	return g.apply.cfg
}

// Run applies every snapshot from updates until ctx is done or updates closes.
func (g *Gateway) Run(ctx context.Context, updates <-chan docker.Snapshot) {
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-updates:
			if !ok {
				return
			}
			g.SetSnapshot(s)
		}
	}
}

func (g *Gateway) rebuild() {
	next := route.Compile(g.apply.cfg, g.apply.snap, g.apply.stats)
	prev := g.table.Swap(next)
	logChanges(g.log, prev, next)
}

// logChanges logs, per backend, each upstream that joined or left, and each
// newly skipped container whose reason is worth a warning, once.
func logChanges(log *slog.Logger, prev, next *route.Table) {
	for _, nb := range next.Backends {
		var pb *route.Backend
		if prev != nil {
			pb = prev.Backend(nb.Name)
		}
		before := upstreamSet(pb)
		after := upstreamSet(nb)
		for key, u := range after {
			if _, ok := before[key]; !ok {
				log.Info("upstream added", "backend", nb.Name, "container", u.Container, "id", shortID(u.ContainerID), "address", u.Host)
			}
		}
		for key, u := range before {
			if _, ok := after[key]; !ok {
				log.Info("upstream removed", "backend", nb.Name, "container", u.Container, "id", shortID(u.ContainerID),
					"address", u.Host, "reason", removalReason(nb, u))
			}
		}
		warnSkips(log, pb, nb)
	}
}

func upstreamSet(b *route.Backend) map[string]*route.Upstream {
	m := map[string]*route.Upstream{}
	if b == nil {
		return m
	}
	for _, u := range b.Upstreams {
		m[u.ContainerID+"|"+u.Host] = u
	}
	return m
}

func removalReason(b *route.Backend, u *route.Upstream) string {
	if u.Static() {
		return "removed from config"
	}
	for _, s := range b.Skipped {
		if s.ContainerID == u.ContainerID {
			return s.Reason
		}
	}
	return "container gone or no longer matches the labels"
}

func warnSkips(log *slog.Logger, prev, next *route.Backend) {
	seen := map[string]bool{}
	if prev != nil {
		for _, s := range prev.Skipped {
			seen[s.ContainerID+"|"+s.Reason] = true
		}
	}
	for _, s := range next.Skipped {
		if s.Warn && !seen[s.ContainerID+"|"+s.Reason] {
			log.Warn("container skipped", "backend", next.Name, "container", s.Container, "id", shortID(s.ContainerID), "reason", s.Reason)
		}
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
