// Package proxy builds the one httputil.ReverseProxy and the one tuned
// http.Transport the gateway shares across all routes and tables. The
// gateway supplies the hooks: Rewrite chooses the upstream and applies the
// route's request policy, ModifyResponse its response policy, and the error
// handler hands failures back to the gateway instead of answering.
package proxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// TransportOptions tune the upstream transport. Zero values take defaults.
type TransportOptions struct {
	// DialTimeout bounds connecting to an upstream. Default 3s.
	DialTimeout time.Duration
	// MaxIdlePerHost is how many idle keep-alive connections are kept per
	// upstream. Default 256 (net/http's default of 2 starves a proxy).
	MaxIdlePerHost int
	// IdleTimeout closes idle upstream connections. Default 90s.
	IdleTimeout time.Duration
}

// NewTransport returns the shared upstream transport.
func NewTransport(o TransportOptions) *http.Transport {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 3 * time.Second
	}
	if o.MaxIdlePerHost <= 0 {
		o.MaxIdlePerHost = 256
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 90 * time.Second
	}
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // never route upstream traffic through an environment proxy
		DialContext:           d.DialContext,
		MaxIdleConns:          0, // no global cap; the per-host cap bounds it
		MaxIdleConnsPerHost:   o.MaxIdlePerHost,
		IdleConnTimeout:       o.IdleTimeout,
		TLSHandshakeTimeout:   o.DialTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass encodings through untouched
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

// Hooks are the gateway's policy for every proxied request.
type Hooks struct {
	// Rewrite runs after ReverseProxy has removed hop-by-hop headers
	// (including those the client named in Connection) and the client's
	// Forwarded/X-Forwarded-* headers; it must set pr.Out.URL's scheme and
	// host, and X-Forwarded-* (pr.SetXForwarded).
	Rewrite func(*httputil.ProxyRequest)
	// ModifyResponse may edit the upstream's answer, or return an error to
	// discard it (the error then goes to ErrorHandler).
	ModifyResponse func(*http.Response) error
	// ErrorHandler receives every failure before response headers were
	// written.
	ErrorHandler func(http.ResponseWriter, *http.Request, error)
}

// New returns the reverse proxy.
func New(rt http.RoundTripper, h Hooks) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        h.Rewrite,
		ModifyResponse: h.ModifyResponse,
		Transport:      rt,
		BufferPool:     newBufferPool(32 << 10),
		ErrorHandler:   h.ErrorHandler,
		// 0 lets the server's buffered writer batch small writes.
		// ReverseProxy still flushes at once for streamed (unknown-length)
		// and text/event-stream responses.
		FlushInterval: 0,
	}
}

type bufferPool struct{ p sync.Pool }

func newBufferPool(size int) *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, size); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }
