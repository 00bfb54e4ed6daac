package auth

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Registry holds the auth state that outlives routing tables: each JWKS
// URL's keys and refresh loop (one per URL, shared by the policies that
// name it, so a reload does not fetch it again), and the HTTP client of
// forward auth. Close stops it.
type Registry struct {
	log    *slog.Logger
	client *http.Client
	ctx    context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	urls map[string]*jwksURL
}

// NewRegistry returns an empty registry logging to log (nil: discard).
func NewRegistry(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Registry{
		log:    log,
		client: &http.Client{Transport: tr, CheckRedirect: noRedirects},
		ctx:    ctx,
		stop:   stop,
		urls:   map[string]*jwksURL{},
	}
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// jwks returns the source of url, starting it when it is new.
func (g *Registry) jwks(url string) *jwksURL {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.urls[url]; s != nil {
		return s
	}
	ctx, cancel := context.WithCancel(g.ctx)
	s := &jwksURL{url: url, client: g.client, log: g.log, ready: make(chan struct{}), cancel: cancel}
	g.urls[url] = s
	g.wg.Go(func() { s.run(ctx) })
	return s
}

// Retain stops the JWKS sources that none of live uses.
func (g *Registry) Retain(live []*Policy) {
	used := map[*jwksURL]bool{}
	for _, p := range live {
		for _, m := range p.methods {
			if j, ok := m.(*jwtAuth); ok {
				if s, ok := j.keys.(*jwksURL); ok {
					used[s] = true
				}
			}
		}
	}
	g.mu.Lock()
	var gone []*jwksURL
	for url, s := range g.urls {
		if !used[s] {
			delete(g.urls, url)
			gone = append(gone, s)
		}
	}
	g.mu.Unlock()
	for _, s := range gone {
		s.cancel() // Close waits for it
	}
}

// Close stops every refresh loop and waits for them.
func (g *Registry) Close() {
	g.stop()
	g.wg.Wait()
	g.client.CloseIdleConnections()
}
