package proxy

import (
	"net"
	"net/http"
	"time"

	"github.com/rgate/rgate/internal/h1client"
)

// NewTransport returns the standard engine's upstream transport, with the
// same connection options as the h1 engine.
func NewTransport(o h1client.Options) *http.Transport {
	o = o.WithDefaults()
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
