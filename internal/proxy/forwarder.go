package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rgate/rgate/internal/config"
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
	h1   *h1Engine  // nil with Options.StandardOnly
	std  *stdEngine // http and https upstreams
	h2c  *stdEngine // HTTP/2 without TLS (gRPC)
	conn h1client.Options
	log  *slog.Logger
	// tls are the standard engines of backends with their own upstream
	// TLS settings, made when a table is compiled.
	mu  sync.Mutex
	tls map[config.UpstreamTLS]*stdEngine
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
	f := &Forwarder{log: o.Log, conn: o.Conn, tls: map[config.UpstreamTLS]*stdEngine{}}
	if o.Transport == nil {
		o.Transport = NewTransport(o.Conn)
	}
	if !o.StandardOnly {
		f.h1 = &h1Engine{c: h1client.New(o.Conn)}
	}
	f.std = newStdEngine(o.Transport)
	f.h2c = newStdEngine(newH2CTransport(o.Conn))
	return f
}

// Close closes idle upstream connections.
func (f *Forwarder) Close() {
	f.std.closeIdle()
	f.h2c.closeIdle()
	f.mu.Lock()
	for _, e := range f.tls {
		e.closeIdle()
	}
	f.mu.Unlock()
	if f.h1 != nil {
		f.h1.c.Close()
	}
}

// Handler returns rt's terminal handler: the one that forwards.
func (f *Forwarder) Handler(rt *route.Route) http.Handler {
	h := &handler{f: f, rt: rt, plan: NewPlan(rt), https: f.std}
	if t := rt.Backend.TLS; t != nil {
		h.https = f.tlsEngine(*t)
	}
	return h
}

// tlsEngine is the standard engine for upstreams with TLS settings t, one
// per distinct settings (kept for the Forwarder's life: their number is
// bounded by the configs it has served).
func (f *Forwarder) tlsEngine(t config.UpstreamTLS) *stdEngine {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.tls[t]; e != nil {
		return e
	}
	tr, err := newTLSTransport(f.conn, t)
	if err != nil {
		f.log.Error("upstream TLS settings unusable; requests to these upstreams fail", "error", err)
		f.tls[t] = newStdEngine(failingTransport{err})
		return f.tls[t]
	}
	f.tls[t] = newStdEngine(tr)
	return f.tls[t]
}

type handler struct {
	f     *Forwarder
	rt    *route.Route
	plan  *Plan
	https *stdEngine // the engine for the backend's https upstreams
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
		tries: tries{maxAttempts: 1}, deadline: deadline(r, rt.Timeout)}
	if canRetry(r) {
		x.maxAttempts += rt.Retries
	}
	// ContentLength 0 is a request without a body: HTTP/1's
	// Content-Length: 0, or an HTTP/2 stream that ended with its headers
	// (net/http's Body is then an empty reader, not NoBody).
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
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
	if err := x.run(h); err != nil {
		httperr.Write(w, r, err)
	}
}

// deadline is the route timeout from now, or a gRPC call's own deadline
// (grpc-timeout) when that comes first.
func deadline(r *http.Request, timeout time.Duration) time.Time {
	now := time.Now()
	d := now.Add(timeout)
	if v := r.Header["Grpc-Timeout"]; len(v) > 0 {
		if g, ok := grpcTimeout(v[0]); ok && now.Add(g).Before(d) {
			d = now.Add(g)
		}
	}
	return d
}

// grpcTimeout parses a grpc-timeout value: up to 8 digits and a unit
// (H, M, S, m milliseconds, u microseconds, n nanoseconds).
func grpcTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	return time.Duration(n) * unit, true
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

// engine chooses the engine for the attempt on x.up: h2c for h2c
// upstreams, the backend's TLS one for https upstreams, and for plain HTTP
// ones the h1 engine when the request (HTTP/1 or HTTP/2: the upstream
// speaks HTTP/1.1 either way) has no trailers, asks for no upgrade, and
// its body, if any, was read; the standard engine otherwise.
func (h *handler) engine(x *exchange) engine {
	r := x.r
	switch x.up.Scheme {
	case config.ProtocolH2C:
		return h.f.h2c
	case config.ProtocolHTTPS:
		return h.https
	}
	if h.f.h1 != nil && r.ProtoMajor <= 2 && x.stream == nil && r.Trailer == nil && h.plan.upgrade(r.Header) == "" {
		return h.f.h1
	}
	return h.f.std
}
