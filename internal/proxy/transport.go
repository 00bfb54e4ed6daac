package proxy

import (
	"net"
	"net/http"
	"time"
)

// TransportOptions tune the standard engine's transport. Zero values take
// defaults.
type TransportOptions struct {
	// DialTimeout bounds connecting to an upstream. Default 3s.
	DialTimeout time.Duration
	// MaxIdlePerHost is how many idle keep-alive connections are kept per
	// upstream. Default 256 (net/http's default of 2 starves a proxy).
	MaxIdlePerHost int
	// IdleTimeout closes idle upstream connections. Default 90s.
	IdleTimeout time.Duration
}

// NewTransport returns the standard engine's upstream transport.
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
