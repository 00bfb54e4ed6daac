package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/httperr"
)

// stdEngine carries attempts on net/http's Transport through one shared
// httputil.ReverseProxy: TLS upstreams, protocol upgrades and streamed
// request bodies. Its hooks find the attempt in the outbound request's
// context and apply the plan.
type stdEngine struct {
	rp *httputil.ReverseProxy
}

func newStdEngine(rt http.RoundTripper) *stdEngine {
	e := &stdEngine{}
	e.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		ModifyResponse: modifyResponse,
		Transport:      rt,
		BufferPool:     newBufferPool(32 << 10),
		ErrorHandler:   proxyError,
		// 0 lets the server's buffered writer batch small writes.
		// ReverseProxy still flushes at once for streamed (unknown-length)
		// and text/event-stream responses.
		FlushInterval: 0,
	}
	return e
}

// stdAttempt is one attempt on the standard engine. It is the outbound
// request's context, so the proxy hooks find it with Value.
type stdAttempt struct {
	context.Context
	x *exchange
	w attemptWriter
}

type attemptKey struct{}

func (a *stdAttempt) Value(key any) any {
	if key == (attemptKey{}) {
		return a
	}
	return a.Context.Value(key)
}

func attemptFrom(ctx context.Context) *stdAttempt {
	a, _ := ctx.Value(attemptKey{}).(*stdAttempt)
	return a
}

// send runs one attempt. The route timeout, and the upstream leaving the
// pool before it answered, cancel the attempt's context with that cause;
// both stop mattering once the answer's head arrived.
func (e *stdEngine) send(x *exchange) error {
	ctx, cancel := context.WithCancelCause(x.r.Context())
	defer cancel(nil)
	a := &stdAttempt{Context: ctx, x: x}
	a.w = attemptWriter{ResponseWriter: x.w, timer: time.AfterFunc(time.Until(x.deadline), func() {
		cancel(httperr.ErrUpstreamTimeout)
	})}
	defer a.w.timer.Stop()
	stop := context.AfterFunc(x.up.Retired(), func() {
		if !a.w.headers.Load() {
			cancel(errUpstreamGone)
		}
	})
	defer stop()
	out := x.r.WithContext(a) // the only copy: ReverseProxy clones it anyway
	switch {
	case x.body != nil: // read whole first: sent with its length
		out.Body = io.NopCloser(bytes.NewReader(x.body))
		out.ContentLength, out.TransferEncoding = int64(len(x.body)), nil
	case x.stream != nil:
		out.Body = x.stream
	}
	e.rp.ServeHTTP(&a.w, out)
	x.wrote = a.w.wrote
	err := a.w.err
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(err, cause) {
		err = errors.Join(cause, err)
	}
	return err
}

// rewrite points the outbound request at the attempt's upstream and gives
// it the plan's head.
func rewrite(pr *httputil.ProxyRequest) {
	a := attemptFrom(pr.Out.Context())
	x := a.x
	u := x.plan.target(pr.In.URL)
	u.Scheme, u.Host = x.up.Scheme, x.up.Host
	if u.Scheme == config.ProtocolH2C {
		u.Scheme = "http" // the h2c transport speaks HTTP/2 to http:// URLs
	}
	pr.Out.URL = &u
	h := make(http.Header, len(pr.In.Header)+4)
	_ = x.plan.fields(pr.In, x.trusted, x.info, headerSink(h))
	pr.Out.Header = h
}

// modifyResponse applies the plan to the answer, or discards it when
// accept refuses it.
func modifyResponse(res *http.Response) error {
	x := attemptFrom(res.Request.Context()).x
	if !x.accept(res.StatusCode) {
		return retryStatusError{status: res.StatusCode}
	}
	x.plan.response(res.Header, res.StatusCode)
	if res.Trailer != nil {
		x.plan.trailers(res.Trailer) // the announced ones
		res.Body = &trailerBody{ReadCloser: res.Body, res: res, plan: x.plan}
	}
	return nil
}

// trailerBody applies the plan to the trailers that came with the body,
// once it is read to the end (ReverseProxy copies them after that).
type trailerBody struct {
	io.ReadCloser
	res  *http.Response
	plan *Plan
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.plan.trailers(b.res.Trailer)
	}
	return n, err
}

// proxyError hands the upstream error to the attempt; the exchange, not
// the proxy, decides what the client sees.
func proxyError(w http.ResponseWriter, _ *http.Request, err error) {
	w.(*attemptWriter).err = err
}

// attemptWriter sits between ReverseProxy and the route's chain: it stops
// the route timer once the answer's head arrives (the timeout bounds
// waiting for it, not a long body) and receives the proxy's errors.
type attemptWriter struct {
	http.ResponseWriter
	timer *time.Timer
	err   error
	wrote bool
	// headers mirrors wrote for other goroutines (the retire callback).
	headers atomic.Bool
}

func (w *attemptWriter) arrived() {
	w.timer.Stop()
	w.wrote = true
	w.headers.Store(true)
}

func (w *attemptWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.arrived()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *attemptWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.arrived()
	}
	return w.ResponseWriter.Write(b)
}

func (w *attemptWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.arrived()
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *attemptWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (e *stdEngine) closeIdle() {
	if t, ok := e.rp.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

type bufferPool struct{ p sync.Pool }

func newBufferPool(size int) *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, size); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }
