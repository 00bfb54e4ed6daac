package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rgate/rgate/internal/h1client"
	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/reqinfo"
	"github.com/rgate/rgate/internal/route"
)

// Options wire a Forwarder.
type Options struct {
	// Conn tunes upstream connections, on both engines.
	Conn h1client.Options
	// Transport carries the standard engine's requests. Default
	// NewTransport(Conn).
	Transport http.RoundTripper
	// StandardOnly sends every request on the standard engine, the h1
	// engine off (to compare the engines, or to rule one out).
	StandardOnly bool
	Log          *slog.Logger
}

// Forwarder sends routes' requests upstream. One serves every route of
// every table; Handler gives a route's terminal handler.
type Forwarder struct {
	h1  *h1Engine // nil with Options.StandardOnly
	std *stdEngine
	log *slog.Logger
}

// engine carries one attempt over the wire.
type engine interface {
	// send makes one attempt of x on x.up: it sends the request as x.plan
	// describes, and relays the answer to x.w unless x.accept refuses it.
	// It returns nil once an answer went to the client (x.wrote is then
	// true, even if its body was cut short), or the error that ended the
	// attempt before that, wrapping errUpstreamGone or
	// httperr.ErrUpstreamTimeout when the attempt was stopped for that
	// reason.
	send(x *exchange) error
}

var (
	_ engine = (*h1Engine)(nil)
	_ engine = (*stdEngine)(nil)
)

// New returns a Forwarder. Close releases its idle connections.
func New(o Options) *Forwarder {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{log: o.Log}
	if o.Transport == nil {
		o.Transport = NewTransport(o.Conn)
	}
	if !o.StandardOnly {
		f.h1 = &h1Engine{c: h1client.New(o.Conn)}
	}
	f.std = newStdEngine(o.Transport)
	return f
}

// Close closes idle upstream connections.
func (f *Forwarder) Close() {
	if t, ok := f.std.rp.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	if f.h1 != nil {
		f.h1.c.Close()
	}
}

// Handler returns rt's terminal handler: the one that forwards.
func (f *Forwarder) Handler(rt *route.Route) http.Handler {
	return &handler{f: f, rt: rt, plan: NewPlan(rt)}
}

type handler struct {
	f    *Forwarder
	rt   *route.Route
	plan *Plan
}

// maxBufferedBody is the largest request body read in full before it is
// sent: head and body then leave in one write, and the request can be
// sent again after a reused connection failed. Larger bodies stream.
const maxBufferedBody = 64 << 10

var bodyPool = sync.Pool{New: func() any { b := make([]byte, maxBufferedBody); return &b }}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, b := h.rt, h.rt.Backend
	if len(b.Upstreams) == 0 {
		httperr.Write(w, r, httperr.ErrNoUpstream)
		return
	}
	if rt.MaxBodyBytes > 0 && r.ContentLength > rt.MaxBodyBytes {
		httperr.Write(w, r, httperr.ErrBodyTooLarge)
		return
	}
	info := reqinfo.From(w)
	x := &exchange{w: w, r: r, rt: rt, plan: h.plan, log: h.f.log, info: info, trusted: info.ViaTrustedProxy,
		tries: tries{maxAttempts: 1}, deadline: time.Now().Add(rt.Timeout)}
	if canRetry(r) {
		x.maxAttempts += rt.Retries
	}
	if r.Body != nil && r.Body != http.NoBody {
		x.in = &x.inBody
		x.in.rc = r.Body
		if rt.MaxBodyBytes > 0 {
			x.in.rc = http.MaxBytesReader(w, r.Body, rt.MaxBodyBytes)
		}
		x.stream = x.in
		if bufferable(r) {
			bp := bodyPool.Get().(*[]byte)
			defer bodyPool.Put(bp)
			if err := x.readBody(*bp); err != nil {
				httperr.Write(w, r, x.finalError(err))
				return
			}
		}
	}
	if err := x.run(h.engine(x)); err != nil {
		httperr.Write(w, r, err)
	}
}

// bufferable reports whether r's body is read before anything is sent: one
// of known length up to maxBufferedBody, and a chunked HTTP/1 one (whole
// when it ends within maxBufferedBody, its start otherwise). A client
// error in a body read first is answered before the upstream sees any of
// it.
func bufferable(r *http.Request) bool {
	return r.ContentLength > 0 && r.ContentLength <= maxBufferedBody || r.ContentLength < 0 && r.ProtoMajor == 1
}

// readBody reads the start of the client's body into buf: all of it when
// it fits, and then it is sent with a Content-Length; otherwise what was
// read is sent first and the rest streams after it.
func (x *exchange) readBody(buf []byte) error {
	if n := x.r.ContentLength; n > 0 {
		buf = buf[:n]
	}
	n, err := io.ReadFull(x.in, buf)
	switch {
	case err == nil && x.r.ContentLength < 0:
		x.stream = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf[:n]), x.in), x.in}
		return nil
	case err == nil, x.r.ContentLength < 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
		x.body, x.stream = buf[:n], nil
		return nil
	}
	x.in.bad.Store(true) // a body shorter than its Content-Length, too
	return err
}

// engine chooses the engine for x: the h1 engine for plain-HTTP
// upstreams and plain HTTP/1 requests whose body (if any) was read,
// the standard engine for the rest.
func (h *handler) engine(x *exchange) engine {
	r := x.r
	if h.f.h1 != nil && h.rt.Backend.PlainHTTP && r.ProtoMajor == 1 && x.stream == nil &&
		r.Trailer == nil && h.plan.upgrade(r.Header) == "" {
		return h.f.h1
	}
	return h.f.std
}
