// Package gateway is rgate's entry http.Handler. It holds the current
// routing table in an atomic pointer, so a request reads it exactly once
// with no lock, and applies new tables built from config and Docker
// snapshots.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/mw/reqid"
	"github.com/rgate/rgate/internal/proxy"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/stats"
)

// Options wire a Gateway.
type Options struct {
	Stats     *stats.Store
	Transport http.RoundTripper // default: proxy.NewTransport with defaults
	Log       *slog.Logger
	// Admin serves the admin endpoints on the traffic port; nil when they
	// have their own port. IsAdmin says which paths it owns.
	Admin   http.Handler
	IsAdmin func(path string) bool
}

// Gateway routes requests through the current table.
type Gateway struct {
	table   atomic.Pointer[route.Table]
	proxy   *httputil.ReverseProxy
	global  *stats.Series
	log     *slog.Logger
	admin   http.Handler
	isAdmin func(string) bool
	apply   applier
}

// New returns a gateway serving cfg, with no containers until the first
// snapshot is applied.
func New(cfg *config.Config, o Options) *Gateway {
	if o.Transport == nil {
		o.Transport = proxy.NewTransport(proxy.TransportOptions{})
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Stats == nil {
		o.Stats = stats.NewStore()
	}
	g := &Gateway{
		global:  o.Stats.Global(),
		log:     o.Log,
		admin:   o.Admin,
		isAdmin: o.IsAdmin,
	}
	g.proxy = proxy.New(o.Transport, proxyError)
	g.apply.stats = o.Stats
	g.SetConfig(cfg)
	return g
}

// Table returns the table currently serving.
func (g *Gateway) Table() *route.Table { return g.table.Load() }

// ServeHTTP serves one client request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.admin != nil && g.isAdmin(r.URL.Path) {
		g.admin.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	id := reqid.Get(r.Header.Get(reqid.Header))
	r.Header.Set(reqid.Header, id)
	rw := getWriter(w, id)
	var rt *route.Route
	defer func() {
		status := rw.status
		if status == 0 {
			status = httperr.StatusClientClosed
		}
		g.record(rt, status, time.Since(start))
		putWriter(rw)
	}()

	t := g.table.Load()
	rt, ok := lookup(t, r)
	switch {
	case !ok:
		httperr.Write(rw, httperr.ErrBadPath, id)
	case rt == nil:
		writeDefault(rw, &t.Default)
	default:
		g.forward(rw, r, rt)
	}
}

func (g *Gateway) record(rt *route.Route, status int, d time.Duration) {
	g.global.Record(status, d)
	if rt != nil {
		if rt.Stats != nil {
			rt.Stats.Record(status, d)
		}
		if rt.Backend.Stats != nil {
			rt.Backend.Stats.Record(status, d)
		}
	}
}

func writeDefault(w http.ResponseWriter, d *route.Default) {
	h := w.Header()
	h["Content-Length"] = []string{d.ContentLength}
	if d.ContentType != "" {
		h["Content-Type"] = []string{d.ContentType}
	}
	w.WriteHeader(d.Status)
	_, _ = w.Write(d.Body)
}

// forward sends r to one of the route's upstreams. A request that never
// reached an upstream (connection refused, reset before an answer) is
// retried at once on the next upstream when it is safe to repeat.
func (g *Gateway) forward(rw *respWriter, r *http.Request, rt *route.Route) {
	ups := rt.Backend.Upstreams
	if len(ups) == 0 {
		httperr.Write(rw, httperr.ErrNoUpstream, rw.id)
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	rw.timer = time.AfterFunc(rt.Timeout, func() { cancel(httperr.ErrUpstreamTimeout) })
	defer rw.timer.Stop()
	out := r.WithContext(ctx)

	n := len(ups)
	first := 0
	if n > 1 {
		first = rand.IntN(n)
	}
	retry := canRetry(r)
	for i := range n {
		u := ups[(first+i)%n]
		out.URL.Scheme, out.URL.Host = u.Scheme, u.Host
		rw.err = nil
		g.proxy.ServeHTTP(rw, out)
		if rw.err == nil || rw.status != 0 || !retry || !httperr.IsConnectError(rw.err) {
			break
		}
		g.log.Debug("upstream refused, trying next", "route", rt.Prefix, "upstream", u.Host, "error", rw.err)
	}
	if rw.err == nil || rw.status != 0 {
		return
	}
	err := rw.err
	switch {
	case errors.Is(context.Cause(ctx), httperr.ErrUpstreamTimeout):
		err = httperr.ErrUpstreamTimeout
	case httperr.IsConnectError(err):
		err = errors.Join(httperr.ErrUpstreamDown, err)
	}
	if status := httperr.Write(rw, err, rw.id); status >= 500 {
		g.log.Debug("upstream exchange failed", "route", rt.Prefix, "status", status, "error", rw.err)
	}
}

// canRetry reports whether r may be sent again to another upstream after a
// connect error: idempotent methods without a body to replay.
func canRetry(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	}
	return false
}

// proxyError hands the upstream error to the request's respWriter; the
// gateway, not the proxy, decides what the client sees.
func proxyError(w http.ResponseWriter, _ *http.Request, err error) {
	if rw, ok := w.(*respWriter); ok {
		rw.err = err
		return
	}
	httperr.Write(w, err, "")
}
