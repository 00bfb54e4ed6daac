// Package health runs active health checks: one probe loop per upstream of
// every backend that configures a health_check.
//
// # Model
//
// A Checker owns the loops. After each routing-table compile the caller
// hands Sync the full list of (upstream, check) targets; Sync starts a loop
// for each new pair, stops the loops of pairs that are gone, and leaves an
// unchanged pair's loop (and its pass/fail counts) alone, so a reload that
// does not touch a backend does not reset its checks.
//
// A loop probes at once and then every Interval: GET scheme://host+Path
// with a deadline of Timeout and User-Agent "rgate-health". A 2xx or 3xx
// answer passes (redirects are not followed); a connection error, a timeout
// or any other status fails. UnhealthyAfter consecutive failures mark the
// upstream unhealthy (upstream.SetActive(false, reason)), and the balancer
// stops sending it traffic; HealthyAfter consecutive passes bring it back.
// Until its first verdict an upstream is "unknown" and gets traffic.
// Transitions are logged: going unhealthy at warn, coming back at info.
//
// The verdict lives in the upstream.Upstream, which outlives table swaps, so
// a new loop for a changed check (another interval, say) starts from the
// state the old one left. When an upstream is no longer checked at all (its
// backend dropped health_check) its verdict is cleared back to "unknown",
// so that it is not left out of rotation with nothing to bring it back.
//
// Every loop has its own context, recovers a panicking probe with a logged
// stack and keeps going, and is joined by Close.
package health

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/upstream"
)

// UserAgent is sent with every probe, so upstream logs can tell probes from
// traffic.
const UserAgent = "rgate-health"

// Target is one upstream to probe.
type Target struct {
	U *upstream.Upstream
	// Check is the backend's health_check; zero fields get the config
	// defaults.
	Check config.HealthCheck
	// Backend names the backend, for logs.
	Backend string
}

// Checker runs the probe loops. Its methods are safe for concurrent use.
type Checker struct {
	client *http.Client
	// own is the transport NewChecker built, closed by Close; nil when the
	// caller passed a client.
	own *http.Transport
	log *slog.Logger

	// mu serialises Sync and Close.
	mu     sync.Mutex
	loops  map[loopKey]*loop
	closed bool
	wg     sync.WaitGroup
}

// loopKey identifies a loop: a changed check for the same upstream is a
// new loop.
type loopKey struct {
	u     *upstream.Upstream
	check config.HealthCheck
}

type loop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// NewChecker returns a checker that probes with client, or with a client of
// its own (a tuned transport that ignores proxy environment variables) when
// client is nil. Redirects are never followed either way. log may be nil.
func NewChecker(client *http.Client, log *slog.Logger) *Checker {
	c := &Checker{log: log, loops: make(map[loopKey]*loop)}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if client == nil {
		c.own = newTransport()
		client = &http.Client{Transport: c.own}
	}
	cl := *client
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.client = &cl
	return c
}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		DisableCompression:  true,
	}
}

// Sync makes the running loops match targets: it starts a loop for every
// new (upstream, check) pair, stops (and waits for) the loops of pairs not
// in targets, and keeps the rest running untouched. Targets with the same
// pair share one loop (the first one's Backend names it in logs). An
// upstream that no target checks any more goes back to "unknown". After
// Close, Sync does nothing.
func (c *Checker) Sync(targets []Target) {
	want := make(map[loopKey]Target, len(targets))
	checked := make(map[*upstream.Upstream]bool, len(targets))
	for _, t := range targets {
		if t.U == nil {
			continue
		}
		t.Check = withDefaults(t.Check)
		k := loopKey{u: t.U, check: t.Check}
		if _, dup := want[k]; !dup {
			want[k] = t
		}
		checked[t.U] = true
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	var gone []loopKey
	for k, l := range c.loops {
		if _, ok := want[k]; !ok {
			l.cancel()
			gone = append(gone, k)
		}
	}
	// Wait for the stopped loops before starting their successors, so an
	// old loop never writes a verdict after a new one.
	for _, k := range gone {
		<-c.loops[k].done
		delete(c.loops, k)
		if !checked[k.u] {
			k.u.ClearActive()
		}
	}
	for k, t := range want {
		if _, ok := c.loops[k]; !ok {
			c.loops[k] = c.start(t)
		}
	}
}

func (c *Checker) start(t Target) *loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{cancel: cancel, done: make(chan struct{})}
	p := newProber(c.client, c.log, t)
	c.wg.Go(func() {
		defer close(l.done)
		p.run(ctx)
	})
	return l
}

// Close stops every loop and waits for them to return. Upstream verdicts
// are left as they are. Close is idempotent.
func (c *Checker) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	for _, l := range c.loops {
		l.cancel()
	}
	c.loops = nil
	c.mu.Unlock()

	c.wg.Wait()
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
}

// withDefaults fills the zero (or invalid) fields of hc with the config
// defaults; config.Load already does this, but a caller may not have.
func withDefaults(hc config.HealthCheck) config.HealthCheck {
	if hc.Path == "" {
		hc.Path = config.DefaultHealthPath
	} else if hc.Path[0] != '/' {
		hc.Path = "/" + hc.Path
	}
	if hc.Interval <= 0 {
		hc.Interval = config.Duration(config.DefaultHealthInterval)
	}
	if hc.Timeout <= 0 {
		hc.Timeout = config.Duration(config.DefaultHealthTimeout)
	}
	if hc.HealthyAfter <= 0 {
		hc.HealthyAfter = config.DefaultHealthyAfter
	}
	if hc.UnhealthyAfter <= 0 {
		hc.UnhealthyAfter = config.DefaultUnhealthyAfter
	}
	return hc
}
