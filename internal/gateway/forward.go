package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/lb"
	"github.com/rgate/rgate/internal/mw/reqid"
	"github.com/rgate/rgate/internal/reqinfo"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/upstream"
)

// forwarder is a route's last step: it picks upstreams and proxies to them,
// retrying on another upstream when that is safe.
type forwarder struct {
	g  *Gateway
	rt *route.Route
}

// exchange is the state of one request's trip upstream. It is the context
// of the outbound request, so the proxy hooks (Rewrite, ModifyResponse) of
// the shared ReverseProxy find it with Value.
type exchange struct {
	context.Context
	tries
	rt          *route.Route
	trustedPeer bool
	// attemptCtx is the context of the current attempt.
	attemptCtx context.Context
	w          exchangeWriter
}

// tries is what both ways of forwarding (ReverseProxy here, rgate's own
// client in fast.go) keep across a request's attempts.
type tries struct {
	maxAttempts int
	attempt     int
	tried       uint64 // lb.Tried bitmask
	up          *upstream.Upstream
}

// next picks the upstream for the current attempt (one not tried yet when
// there is a choice) and records it in info; false when none can be
// picked.
func (t *tries) next(b *route.Backend, info *reqinfo.Info) bool {
	i := b.Picker.Pick(b.Upstreams, t.tried)
	if i < 0 {
		return false
	}
	t.tried = lb.Tried(t.tried, i)
	t.up = b.Upstreams[i]
	if info != nil {
		info.Upstream, info.Container, info.Retries = t.up.Host, t.up.Container, t.attempt
	}
	return true
}

// canTryAnother reports whether another attempt is allowed and some
// upstream of b not yet tried could take it.
func (t *tries) canTryAnother(b *route.Backend) bool {
	if t.attempt+1 >= t.maxAttempts {
		return false
	}
	for i, u := range b.Upstreams {
		if i < 64 && t.tried&(1<<uint(i)) != 0 {
			continue
		}
		if !u.ActiveDown() {
			return true
		}
	}
	return false
}

type exchangeKey struct{}

func (e *exchange) Value(key any) any {
	if key == (exchangeKey{}) {
		return e
	}
	return e.Context.Value(key)
}

func exchangeFrom(ctx context.Context) *exchange {
	e, _ := ctx.Value(exchangeKey{}).(*exchange)
	return e
}

// retryStatusError discards an upstream answer whose status is worth
// another upstream (502, 503) while attempts remain.
type retryStatusError struct{ status int }

func (e retryStatusError) Error() string { return "upstream answered " + strconv.Itoa(e.status) }

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, b := f.rt, f.rt.Backend
	id := r.Header.Get(reqid.Header)
	if len(b.Upstreams) == 0 {
		httperr.Write(w, httperr.ErrNoUpstream, id)
		return
	}
	if rt.MaxBodyBytes > 0 && r.ContentLength > rt.MaxBodyBytes {
		httperr.Write(w, httperr.ErrBodyTooLarge, id)
		return
	}
	if f.fastOK(r) {
		f.serveFast(w, r, id)
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	timer := time.AfterFunc(rt.Timeout, func() { cancel(httperr.ErrUpstreamTimeout) })
	defer timer.Stop()
	ex := &exchange{Context: ctx, rt: rt, tries: tries{maxAttempts: 1}}
	if canRetry(r) {
		ex.maxAttempts += rt.Retries
	}
	ex.w = exchangeWriter{ResponseWriter: w, timer: timer}
	body := r.Body
	if rt.MaxBodyBytes > 0 && body != nil && body != http.NoBody {
		body = http.MaxBytesReader(w, body, rt.MaxBodyBytes)
	}
	info := reqinfo.From(w)
	if info != nil {
		ex.trustedPeer = info.ViaTrustedProxy
	}
	for ; ex.attempt < ex.maxAttempts; ex.attempt++ {
		if !ex.next(b, info) {
			break
		}
		ex.w.err = nil
		f.attempt(ex, r, body)
		if ex.w.err == nil || ex.w.wrote || !f.failed(ex, ex.w.err) {
			break
		}
	}
	if ex.w.wrote || (ex.w.err == nil && ex.up != nil) {
		return
	}
	httperr.Write(w, f.finalError(ex, ctx), id)
}

// errUpstreamGone cancels an attempt whose upstream left the pool (paused,
// stopped, killed) before it answered: the request may be sent elsewhere.
var errUpstreamGone = errors.New("upstream left the pool before answering")

// attempt sends r, with body, to ex.up. If the upstream leaves the pool before its
// response headers arrive (a paused container never answers; a stopped
// one may not), the attempt is cancelled so that the request can go to
// another upstream instead of waiting out the route timeout.
func (f *forwarder) attempt(ex *exchange, r *http.Request, body io.ReadCloser) {
	ex.up.Acquire()
	defer ex.up.Release()
	ctx, cancel := context.WithCancelCause(ex)
	defer cancel(nil)
	stop := context.AfterFunc(ex.up.Retired(), func() {
		if !ex.w.headers.Load() {
			cancel(errUpstreamGone)
		}
	})
	defer stop()
	ex.attemptCtx = ctx
	out := r.WithContext(ctx) // the only copy of the request: ReverseProxy clones it anyway
	out.Body = body
	f.g.proxy.ServeHTTP(&ex.w, out)
}

// failed records a failed attempt and reports whether another may follow.
// A connect error means the request never reached the upstream; any other
// failure before response headers (a reset, an EOF from a container that
// was just killed) may have reached it, so only a request that is safe to
// repeat goes again, and only when the route's timeout has not passed.
func (f *forwarder) failed(ex *exchange, err error) (again bool) {
	if ex.Context.Err() != nil {
		return false
	}
	if errors.Is(context.Cause(ex.attemptCtx), errUpstreamGone) {
		f.g.log.Debug("upstream left the pool during a request", "backend", f.rt.Backend.Name, "upstream", ex.up.Host)
		return ex.maxAttempts > 1
	}
	if httperr.IsConnectError(err) {
		if ex.up.ReportConnectFailure(f.rt.Backend.Passive) {
			f.g.log.Warn("upstream ejected after connect failures", "backend", f.rt.Backend.Name,
				"container", ex.up.Container, "upstream", ex.up.Host, "for", f.rt.Backend.Passive.EjectFor, "error", err)
		}
		return true
	}
	var rs retryStatusError
	if errors.As(err, &rs) {
		return true
	}
	return ex.maxAttempts > 1 // idempotent: the failure before headers may be retried
}

// finalError is what the client is told when no attempt produced an answer.
func (f *forwarder) finalError(ex *exchange, ctx context.Context) error {
	err := ex.w.err
	var rs retryStatusError
	switch {
	case err == nil: // no upstream could be picked at all
		return httperr.ErrNoUpstream
	case errors.Is(context.Cause(ctx), httperr.ErrUpstreamTimeout):
		return httperr.ErrUpstreamTimeout
	case httperr.IsConnectError(err):
		return errors.Join(httperr.ErrUpstreamDown, err)
	case errors.As(err, &rs) && rs.status == http.StatusServiceUnavailable:
		return httperr.ErrUpstreamDown
	}
	return err
}

// rewrite points the outbound request at the exchange's upstream and
// applies the route's request policy.
func rewrite(pr *httputil.ProxyRequest) {
	ex := exchangeFrom(pr.Out.Context())
	if ex == nil {
		return
	}
	pr.Out.URL.Scheme, pr.Out.URL.Host = ex.up.Scheme, ex.up.Host
	setForwarded(pr, ex.trustedPeer)
	// Set here, after ReverseProxy removed the headers the client named in
	// Connection, so a client cannot strip the id rgate adds.
	pr.Out.Header[reqid.Header] = pr.In.Header[reqid.Header]
	if ex.rt.StripPrefix {
		stripPrefix(pr.Out.URL, ex.rt.Prefix)
	}
	ex.rt.RequestHeaders.Apply(pr.Out.Header)
}

// stripPrefix removes the route prefix from the outbound path, keeping it
// absolute ("/api/payment" + "/api/payment" -> "/").
func stripPrefix(u *url.URL, prefix string) {
	u.Path = ensureSlash(strings.TrimPrefix(u.Path, prefix))
	if u.RawPath != "" {
		if rp, ok := strings.CutPrefix(u.RawPath, prefix); ok {
			u.RawPath = ensureSlash(rp)
		} else {
			u.RawPath = "" // escaped differently: let Path's encoding stand
		}
	}
}

func ensureSlash(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "/" + p
}

// modifyResponse applies the route's response policy, or discards a 502/503
// answer when another upstream may still be tried.
func modifyResponse(res *http.Response) error {
	ex := exchangeFrom(res.Request.Context())
	if ex == nil {
		return nil
	}
	if (res.StatusCode == http.StatusBadGateway || res.StatusCode == http.StatusServiceUnavailable) && ex.canTryAnother(ex.rt.Backend) {
		return retryStatusError{status: res.StatusCode}
	}
	ex.up.ReportSuccess()
	ex.rt.ResponseHeaders.Apply(res.Header)
	return nil
}

// canRetry reports whether r may be sent again to another upstream:
// idempotent methods without a body to replay.
func canRetry(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	}
	return false
}

// proxyError hands the upstream error to the exchange; the forwarder, not
// the proxy, decides what the client sees.
func proxyError(w http.ResponseWriter, _ *http.Request, err error) {
	if ew, ok := w.(*exchangeWriter); ok {
		ew.err = err
		return
	}
	httperr.Write(w, err, "")
}

// exchangeWriter sits between the proxy and the route's chain: it stops the
// route timer once response headers arrive (the timeout bounds waiting for
// them, not a long body) and receives the proxy's errors.
type exchangeWriter struct {
	http.ResponseWriter
	timer *time.Timer
	err   error
	wrote bool
	// headers mirrors wrote for other goroutines (the retire callback).
	headers atomic.Bool
}

func (w *exchangeWriter) arrived() {
	w.timer.Stop()
	w.wrote = true
	w.headers.Store(true)
}

func (w *exchangeWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.arrived()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *exchangeWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.arrived()
	}
	return w.ResponseWriter.Write(b)
}

func (w *exchangeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.arrived()
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *exchangeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
