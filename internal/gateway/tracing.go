package gateway

import (
	"context"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/tracing"
)

// tracerShutdown bounds the flush of a tracer's queued spans when it is
// replaced or the gateway closes.
const tracerShutdown = 5 * time.Second

// applyTracing makes cfg the tracing settings: a change starts a new
// tracer (or none, when the section is gone) and retires the old one,
// whose queued spans are flushed in the background. Called with
// apply.mu held.
func (g *Gateway) applyTracing(cfg *config.Tracing) {
	cur := g.tracer.Load()
	if cur == nil && cfg == nil || cur != nil && cfg != nil && cur.Serves(*cfg) {
		return
	}
	var next *tracing.Tracer
	if cfg != nil {
		t, err := tracing.New(*cfg, g.log)
		if err != nil {
			g.log.Error("tracing not started; requests are served untraced", "error", err)
		} else {
			next = t
			g.log.Info("tracing on", "otlp_endpoint", cfg.OTLPEndpoint, "sample_ratio", cfg.Ratio(), "service_name", cfg.ServiceName)
		}
	}
	if next == nil && cur != nil {
		g.log.Info("tracing off")
	}
	g.tracer.Store(next)
	if cur != nil {
		g.retired.Go(func() { g.shutdownTracer(cur) })
	}
}

// shutdownTracer flushes t within tracerShutdown.
func (g *Gateway) shutdownTracer(t *tracing.Tracer) {
	ctx, cancel := context.WithTimeout(context.Background(), tracerShutdown)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		g.log.Warn("tracing: spans still queued at shutdown were dropped", "error", err)
	}
}

// closeTracing stops the current tracer, flushing its spans, and waits
// for retired ones.
func (g *Gateway) closeTracing() {
	if t := g.tracer.Swap(nil); t != nil {
		g.shutdownTracer(t)
	}
	g.retired.Wait()
}
