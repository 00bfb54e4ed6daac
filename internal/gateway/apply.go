package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/health"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/upstream"
)

// applier holds the inputs of the current table. Builds are serialised by
// its mutex; requests never touch it.
type applier struct {
	mu   sync.Mutex
	cfg  *config.Config
	snap docker.Snapshot
	deps route.Deps

	generation atomic.Uint64
	reload     atomic.Pointer[ReloadStatus]
}

// ReloadStatus is the outcome of the last config reload.
type ReloadStatus struct {
	At    time.Time
	Error string // "" when it was applied
}

// SetConfig compiles a table from cfg and the last snapshot and publishes
// it; the config generation goes up by one.
func (g *Gateway) SetConfig(cfg *config.Config) {
	g.apply.mu.Lock()
	defer g.apply.mu.Unlock()
	g.apply.cfg = cfg
	g.apply.generation.Add(1)
	g.applyTracing(cfg.Tracing)
	g.rebuild()
}

// Reloaded records a reload attempt: err nil means cfg was applied.
func (g *Gateway) Reloaded(cfg *config.Config, err error) {
	st := &ReloadStatus{At: time.Now()}
	if err != nil {
		st.Error = err.Error()
	} else {
		g.SetConfig(cfg)
	}
	g.apply.reload.Store(st)
}

// ConfigState returns the config generation (1 for the config rgate started
// with) and the last reload's outcome (nil before any reload).
func (g *Gateway) ConfigState() (generation uint64, last *ReloadStatus) {
	return g.apply.generation.Load(), g.apply.reload.Load()
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
	next := route.Compile(g.apply.cfg, g.apply.snap, g.apply.deps)
	prev := g.table.Swap(next)
	logChanges(g.log, prev, next)
	g.health.Sync(healthTargets(next))
	g.warm.Sync(allUpstreams(next))
}

func allUpstreams(t *route.Table) []*upstream.Upstream {
	var out []*upstream.Upstream
	for _, b := range t.Backends {
		out = append(out, b.Upstreams...)
	}
	return out
}

func healthTargets(t *route.Table) []health.Target {
	var out []health.Target
	for _, b := range t.Backends {
		if b.HealthCheck == nil {
			continue
		}
		for _, u := range b.Upstreams {
			out = append(out, health.Target{U: u, Check: *b.HealthCheck, Backend: b.Name})
		}
	}
	return out
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
		for u := range after {
			if !before[u] {
				log.Info("upstream added", upstreamAttrs(nb.Name, u)...)
			}
		}
		for u := range before {
			if !after[u] {
				log.Info("upstream removed", append(upstreamAttrs(nb.Name, u), "reason", removalReason(nb, u))...)
			}
		}
		warnSkips(log, pb, nb)
	}
}

func upstreamAttrs(backend string, u *upstream.Upstream) []any {
	if u.Static() {
		return []any{"backend", backend, "url", u.Scheme + "://" + u.Host}
	}
	attrs := []any{"backend", backend, "container", u.Container, "id", docker.ShortID(u.ContainerID), "address", u.Host}
	if u.Endpoint != "" {
		attrs = append(attrs, "endpoint", u.Endpoint)
	}
	return attrs
}

func upstreamSet(b *route.Backend) map[*upstream.Upstream]bool {
	m := map[*upstream.Upstream]bool{}
	if b != nil {
		for _, u := range b.Upstreams {
			m[u] = true
		}
	}
	return m
}

func removalReason(b *route.Backend, u *upstream.Upstream) string {
	if u.Static() {
		return "removed from config"
	}
	for _, s := range b.Skipped {
		if s.ContainerID == u.ContainerID && s.Endpoint == u.Endpoint {
			return s.Reason
		}
	}
	return "container gone or no longer matches the labels"
}

func warnSkips(log *slog.Logger, prev, next *route.Backend) {
	seen := map[string]bool{}
	if prev != nil {
		for _, s := range prev.Skipped {
			seen[s.Endpoint+"/"+s.ContainerID+"|"+s.Reason] = true
		}
	}
	for _, s := range next.Skipped {
		if s.Warn && !seen[s.Endpoint+"/"+s.ContainerID+"|"+s.Reason] {
			attrs := []any{"backend", next.Name, "container", s.Container, "id", docker.ShortID(s.ContainerID), "reason", s.Reason}
			if s.Endpoint != "" {
				attrs = append(attrs, "endpoint", s.Endpoint)
			}
			log.Warn("container skipped", attrs...)
		}
	}
}
