// Package gateway is rgate's entry http.Handler. It holds the current
// routing table in an atomic pointer, so a request reads it exactly once
// with no lock, and applies new tables built from config and Docker
// snapshots.
package gateway

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/internal/accesslog"
	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/health"
	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/metrics"
	"github.com/rgate/rgate/internal/mw/auth"
	"github.com/rgate/rgate/internal/proxy"
	"github.com/rgate/rgate/internal/recent"
	"github.com/rgate/rgate/internal/reqid"
	"github.com/rgate/rgate/internal/reqinfo"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/stats"
	"github.com/rgate/rgate/internal/tracing"
)

// Options wire a Gateway.
type Options struct {
	// Stats gives the routes' and backends' series.
	Stats *stats.Store
	// Recorder takes every finished request; default Stats.
	Recorder stats.Recorder
	// Metrics, when set, gets per-route Prometheus observations.
	Metrics *metrics.Metrics
	// AccessLog writes the access log when the config enables it.
	AccessLog *accesslog.Logger
	// Recent, when set, keeps the last requests for /requests.
	Recent *recent.Ring
	// Proxy tunes the forwarding engines; its Log is the gateway's.
	Proxy proxy.Options
	// Cluster is the store shared with other replicas; nil without a
	// cluster: section.
	Cluster *cluster.Store
	// Replicas returns how many replicas are live now; cluster-scoped
	// rate limits share their limit between them while Redis fails
	// (on_store_error: local). nil: 1.
	Replicas func() int
	Log      *slog.Logger
}

// Gateway routes requests through the current table.
type Gateway struct {
	table     atomic.Pointer[route.Table]
	forwarder *proxy.Forwarder
	recorder  stats.Recorder
	metrics   *metrics.Metrics
	accessLog *accesslog.Logger
	recent    *recent.Ring
	log       *slog.Logger
	health    *health.Checker
	warm      *health.Warmer
	apply     applier
	// tracer is nil when tracing is off; retired joins the flushes of
	// tracers a reload replaced.
	tracer  atomic.Pointer[tracing.Tracer]
	retired sync.WaitGroup
}

// New returns a gateway serving cfg, with no containers until the first
// snapshot is applied. Close stops its background work.
func New(cfg *config.Config, o Options) *Gateway {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.Proxy.Log = o.Log
	if o.Stats == nil {
		o.Stats = stats.NewStore()
	}
	if o.Recorder == nil {
		o.Recorder = o.Stats
	}
	g := &Gateway{
		forwarder: proxy.New(o.Proxy),
		recorder:  o.Recorder,
		metrics:   o.Metrics,
		accessLog: o.AccessLog,
		recent:    o.Recent,
		log:       o.Log,
		health:    health.NewChecker(nil, o.Log),
		warm:      health.NewWarmer(o.Log),
	}
	st := route.NewState()
	st.Auth = auth.NewRegistry(o.Log)
	g.apply.deps = route.Deps{
		Stats:    o.Stats,
		Metrics:  o.Metrics,
		State:    st,
		Forward:  g.forwarder.Handler,
		Cluster:  o.Cluster,
		Replicas: o.Replicas,
	}
	g.SetConfig(cfg)
	return g
}

// Close stops the health checks and warm-up probes, closes idle upstream
// connections and flushes the spans not yet exported (for at most a few
// seconds).
func (g *Gateway) Close() {
	g.health.Close()
	g.warm.Close()
	g.forwarder.Close()
	g.closeTracing()
	g.apply.deps.State.Auth.Close()
}

// Table returns the table currently serving.
func (g *Gateway) Table() *route.Table { return g.table.Load() }

// ServeHTTP serves one client request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(r.TransferEncoding) > 0 {
		// net/http has already dropped a Content-Length sent beside
		// Transfer-Encoding (RFC 9112 6.1: the chunked framing wins), so
		// such a request cannot be told apart here; the RFC also asks for
		// the connection to be closed after it, so close after every
		// chunked request. Nothing left in the buffer can then be read
		// as a smuggled request.
		w.Header().Set("Connection", "close")
	}
	rw := getWriter(w)
	rw.Info.Start = time.Now()
	rw.Info.ID = reqid.Get(r.Header.Get(reqid.Header))
	r.Header.Set(reqid.Header, rw.Info.ID)
	t := g.table.Load()
	rw.Info.ClientIP, rw.Info.ViaTrustedProxy = clientIP(r, t.Trusted)
	defer g.finish(rw, r, t)

	rt, ok := lookup(t, r)
	switch {
	case !ok:
		httperr.Write(rw, r, httperr.ErrBadPath)
	case rt == nil:
		if !httperr.NoRoute(rw, r, t.Default.Status) {
			writeDefault(rw, &t.Default)
		}
	case !rt.Serves(r.Method):
		rw.route = rt
		rw.Info.Route, rw.Info.Backend = rt.Name, rt.Backend.Name
		rw.Header()["Allow"] = rt.Allow
		httperr.Write(rw, r, httperr.ErrMethodNotAllowed)
	default:
		rw.route = rt
		rw.Info.Route, rw.Info.Backend = rt.Name, rt.Backend.Name
		if g.metrics != nil {
			g.metrics.InFlight().Inc()
			defer g.metrics.InFlight().Dec()
		}
		if tr := g.tracer.Load(); tr != nil {
			rw.span = tr.Begin(r, rt.Name, &rw.Info.Trace)
		}
		rt.Handler.ServeHTTP(rw, r)
	}
	if rw.Info.Status == 0 {
		// Nothing was answered: the client went away (httperr writes
		// nothing for it). Returning would let the server send its
		// implicit 200 with an empty body, a success for a request that
		// did not succeed; abort instead, so the connection closes with
		// no answer (finish counts a 499, as nginx logs it).
		httperr.Abort(r)
	}
}

// finish records the request in stats, metrics and the access log. It runs
// deferred, so a request aborted with http.ErrAbortHandler is counted too.
func (g *Gateway) finish(rw *respWriter, r *http.Request, t *route.Table) {
	info := &rw.Info
	if info.Status == 0 {
		info.Status = httperr.StatusClientClosed
	}
	end := time.Now()
	d := end.Sub(info.Start)
	f := stats.Finished{Status: info.Status, Elapsed: d, End: end}
	if rt := rw.route; rt != nil {
		f.Route, f.Backend = rt.Stats, rt.Backend.Stats
	}
	g.recorder.Record(f)
	if rw.span.Recording() {
		rw.span.SetConsumer(info.Consumer)
		rw.span.End(info)
	}
	if rt := rw.route; rt != nil {
		if m := rt.Metrics; m != nil {
			m.Observe(info.Status, d)
			if info.RateLimited {
				m.RateLimited()
			}
			switch info.Cache {
			case reqinfo.CacheHit, reqinfo.CacheMiss:
				m.CacheResult(info.Cache == reqinfo.CacheHit)
			case reqinfo.CacheStale:
				m.CacheStale()
			}
		}
		if c := rt.Consumers; c != nil {
			c.Observe(info.Consumer, info.Status, info.AuthFailed)
		}
	}
	if t.AccessLog && g.accessLog != nil {
		g.accessLog.Log(info, r, end)
	}
	if g.recent != nil {
		g.recent.Add(&recent.Record{
			Time: info.Start, RequestID: info.ID, Method: r.Method, Path: r.URL.Path,
			Route: info.Route, Backend: info.Backend, Container: info.Container, Upstream: info.Upstream,
			Status: info.Status, LatencyMs: float64(d.Microseconds()) / 1000, Cache: info.Cache, Retries: info.Retries,
			Consumer: info.Consumer,
		})
	}
	putWriter(rw)
}

func writeDefault(w http.ResponseWriter, d *route.Default) {
	h := w.Header()
	h["Content-Length"] = d.ContentLength
	if d.ContentType != nil {
		h["Content-Type"] = d.ContentType
	}
	w.WriteHeader(d.Status)
	_, _ = w.Write(d.Body)
}

var _ reqinfo.Carrier = (*respWriter)(nil)
