package h1server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server is an HTTP/1.1 server with a fast path for common requests and a
// net/http.Server fallback for everything else. See the package doc.
type Server struct {
	// Handler serves requests; nil means http.DefaultServeMux.
	Handler http.Handler
	// ReadHeaderTimeout bounds reading one request head: from accept for
	// the first request, from its first bytes for later ones. Zero means
	// no limit.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long between
	// requests. Zero means no limit.
	IdleTimeout time.Duration
	// MaxHeaderBytes is the size of the largest request head accepted: the
	// request line, the header fields and the empty line that ends them,
	// as received (empty lines skipped before the request line do not
	// count). A larger head gets 431: from the Fallback, whose
	// MaxHeaderBytes Serve sets (when zero) 4096 lower, since net/http
	// reads that much more; from the fast path for a value under 4097,
	// which net/http cannot go down to (the Fallback's is then 1). Zero
	// means http.DefaultMaxHeaderBytes. This holds for every head the fast
	// path reads or hands off; on a connection net/http owns, it counts a
	// later request's head from the bytes it reads after the request
	// before it: what of the head came in with that request (at most 4096
	// bytes) is not counted, and a value under 4097 is 4097 there.
	MaxHeaderBytes int
	// ErrorLog receives panics and handler misuse reports; nil means
	// slog.Default().
	ErrorLog *slog.Logger
	// ParkIdleAfter is how long a keep-alive connection waits for its next
	// request on its own goroutine; past it, the connection is watched by
	// a single epoll loop instead and gets a goroutine again when it turns
	// readable. That keeps an idle connection at ~1 KiB instead of ~6
	// (mostly goroutine stack). Zero means never; Linux only.
	ParkIdleAfter time.Duration
	// HandshakeTLS makes the server complete the handshake of a TLS
	// connection (*tls.Conn, from a tls.Listener) itself, within
	// ReadHeaderTimeout, and serve it like any other when the client
	// chose HTTP/1.1 (or no protocol) by ALPN; a connection that chose
	// another protocol (h2, acme-tls/1) goes to the Fallback then, which
	// must have the TLS config's protocols (TLSNextProto, Protocols). A
	// request served here gets Request.TLS; so does one on a connection
	// handed off later. False: TLS connections go to the Fallback
	// unread.
	HandshakeTLS bool
	// Fallback serves every connection the fast path declines. Serve
	// fills in its Handler, ReadHeaderTimeout, IdleTimeout, MaxHeaderBytes
	// and ErrorLog from the fields above where they are zero, puts a guard
	// in front of its Handler (which also takes over its "OPTIONS *"
	// answer) and a ConnContext (calling any it had), and runs it on an
	// internal listener. Nil means a new http.Server.
	Fallback *http.Server

	initOnce    sync.Once
	refuseLarge bool // the fast path answers 431 for a head over headLimit (see init)
	fallbackLn  *chanListener
	fallbackWG  sync.WaitGroup
	baseCtx     context.Context

	inShutdown atomic.Bool
	park       atomic.Pointer[parker] // set once, when first needed
	parkFailed atomic.Bool
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	listenerWG sync.WaitGroup
	connWG     sync.WaitGroup
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.Fallback == nil {
			s.Fallback = new(http.Server)
		}
		fb := s.Fallback
		if fb.Handler == nil {
			fb.Handler = s.Handler
		}
		if fb.ReadHeaderTimeout == 0 {
			fb.ReadHeaderTimeout = s.ReadHeaderTimeout
		}
		if fb.IdleTimeout == 0 {
			fb.IdleTimeout = s.IdleTimeout
		}
		if fb.MaxHeaderBytes == 0 {
			fb.MaxHeaderBytes = max(s.headLimit()-netHTTPHeadSlack, 1)
		}
		// The fast path refuses the heads over the limit that the Fallback
		// would take, when the limit fits its read buffer.
		fbLimit := http.DefaultMaxHeaderBytes
		if fb.MaxHeaderBytes > 0 {
			fbLimit = fb.MaxHeaderBytes
		}
		s.refuseLarge = fbLimit+netHTTPHeadSlack > s.headLimit() && s.headLimit() <= readBufSize
		if fb.ErrorLog == nil && s.ErrorLog != nil {
			fb.ErrorLog = slog.NewLogLogger(s.ErrorLog.Handler(), slog.LevelError)
		}
		guardFallback(fb)
		s.baseCtx = context.WithValue(context.Background(), http.ServerContextKey, fb)
		s.fallbackLn = newChanListener()
		s.conns = make(map[*conn]struct{})
		s.fallbackWG.Add(1)
		go func() {
			defer s.fallbackWG.Done()
			fb.Serve(s.fallbackLn)
		}()
	})
}

// netHTTPHeadSlack is how many bytes more than its MaxHeaderBytes
// net/http reads for a head (its initialReadLimitSize).
const netHTTPHeadSlack = 4096

// headLimit is the size of the largest head accepted (MaxHeaderBytes).
func (s *Server) headLimit() int {
	if s.MaxHeaderBytes <= 0 {
		return http.DefaultMaxHeaderBytes
	}
	return s.MaxHeaderBytes
}

// maxHead is the largest head the fast path parses.
func (s *Server) maxHead() int { return min(s.headLimit(), readBufSize) }

func (s *Server) shuttingDown() bool { return s.inShutdown.Load() }

// parker returns the idle-connection parker, starting it on first use; nil
// if parking is off or unavailable.
func (s *Server) parker() *parker {
	if s.ParkIdleAfter <= 0 {
		return nil
	}
	if p := s.park.Load(); p != nil {
		return p
	}
	if s.parkFailed.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.park.Load(); p != nil || s.shuttingDown() || s.parkFailed.Load() {
		return p
	}
	p, err := newParker()
	if err != nil {
		s.parkFailed.Store(true)
		s.logDebug("idle connections keep their goroutine", "reason", err)
		return nil
	}
	s.park.Store(p)
	return p
}

// closeParkedLocked closes c if it is parked, and reports whether it was.
// s.mu is held.
func (s *Server) closeParkedLocked(c *conn) bool {
	p := s.park.Load()
	if p == nil || !p.unpark(c) {
		return false
	}
	c.rwc.Close()
	c.stopTimer()
	delete(s.conns, c)
	s.connWG.Done()
	return true
}

// stopParker stops the parker's loop, closing the connections parked.
func (s *Server) stopParker() {
	s.mu.Lock()
	p := s.park.Load()
	s.mu.Unlock()
	if p == nil {
		return
	}
	for _, c := range p.close() {
		c.finish(true)
	}
}

func (s *Server) logger() *slog.Logger {
	if s.ErrorLog != nil {
		return s.ErrorLog
	}
	return slog.Default()
}

func (s *Server) logError(msg string) { s.logger().Error(msg) }

func (s *Server) logDebug(msg string, args ...any) { s.logger().Debug(msg, args...) }

// Serve accepts connections on ln and serves them, each on its own
// goroutine. It always returns a non-nil error and closes ln; after
// Shutdown or Close the error is http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	s.fallbackLn.setAddr(ln.Addr())
	l := &onceCloseListener{Listener: ln}
	defer l.Close()
	var lnIface net.Listener = l
	if !s.trackListener(&lnIface, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(&lnIface, false)

	var tempDelay time.Duration
	for {
		rw, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return http.ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				if tempDelay == 0 {
					tempDelay = 5 * time.Millisecond
				} else {
					tempDelay *= 2
				}
				if tempDelay > time.Second {
					tempDelay = time.Second
				}
				s.logError(fmt.Sprintf("http: Accept error: %v; retrying in %v", err, tempDelay))
				time.Sleep(tempDelay)
				continue
			}
			return err
		}
		tempDelay = 0
		c := &conn{srv: s, rwc: rw}
		c.setState(stateNew)
		s.trackConn(c, true)
		go c.serve()
	}
}

func (s *Server) trackListener(ln *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listeners == nil {
		s.listeners = make(map[*net.Listener]struct{})
	}
	if add {
		if s.shuttingDown() {
			return false
		}
		s.listeners[ln] = struct{}{}
		s.listenerWG.Add(1)
	} else {
		delete(s.listeners, ln)
		s.listenerWG.Done()
	}
	return true
}

func (s *Server) trackConn(c *conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
	} else {
		delete(s.conns, c)
	}
}

// stopListening marks the server as shutting down, closes its listeners
// and waits for their Serve loops to return. It returns the first error
// closing one.
func (s *Server) stopListening() error {
	s.init()
	s.inShutdown.Store(true)
	s.mu.Lock()
	err := s.closeListenersLocked()
	s.mu.Unlock()
	s.listenerWG.Wait()
	return err
}

func (s *Server) closeListenersLocked() error {
	var err error
	for ln := range s.listeners {
		if cerr := (*ln).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// closeIdleConns closes idle connections and reports whether the server
// is quiescent (net/http's rule, including treating connections that have
// not sent a whole first head in 5 s as idle).
func (s *Server) closeIdleConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	quiescent := true
	for c := range s.conns {
		st, unixSec := c.getState()
		if st == stateNew && unixSec < time.Now().Unix()-5 {
			st = stateIdle
		}
		if st != stateIdle || unixSec == 0 {
			quiescent = false
			continue
		}
		s.closeConnLocked(c)
	}
	return quiescent
}

// closeConnLocked closes c, parked or not, and forgets it. s.mu is held.
func (s *Server) closeConnLocked(c *conn) {
	if !s.closeParkedLocked(c) {
		c.rwc.Close()
		delete(s.conns, c)
	}
}

const shutdownPollIntervalMax = 500 * time.Millisecond

// Shutdown gracefully shuts the server down: it closes the listeners,
// closes idle connections, and waits for active requests to finish (their
// responses carry "Connection: close") until ctx is done. It shuts the
// Fallback down the same way, concurrently. It returns ctx's error if ctx
// ended first.
func (s *Server) Shutdown(ctx context.Context) error {
	lnerr := s.stopListening()

	fbErr := make(chan error, 1)
	go func() {
		err := s.Fallback.Shutdown(ctx)
		s.fallbackLn.Close()
		if err == nil {
			err = waitGroup(ctx, &s.fallbackWG)
		}
		fbErr <- err
	}()

	err := s.waitQuiescent(ctx)
	s.stopParker()
	if err == nil {
		err = waitGroup(ctx, &s.connWG)
	}
	if ferr := <-fbErr; err == nil {
		err = ferr
	}
	if err == nil {
		err = lnerr
	}
	return err
}

func (s *Server) waitQuiescent(ctx context.Context) error {
	pollIntervalBase := time.Millisecond
	nextPollInterval := func() time.Duration {
		interval := pollIntervalBase + time.Duration(rand.IntN(int(pollIntervalBase/10)))
		pollIntervalBase *= 2
		if pollIntervalBase > shutdownPollIntervalMax {
			pollIntervalBase = shutdownPollIntervalMax
		}
		return interval
	}
	timer := time.NewTimer(nextPollInterval())
	defer timer.Stop()
	for {
		if s.closeIdleConns() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			timer.Reset(nextPollInterval())
		}
	}
}

func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close immediately closes the listeners and all connections, the
// Fallback's included.
func (s *Server) Close() error {
	err := s.stopListening()
	s.mu.Lock()
	for c := range s.conns {
		s.closeConnLocked(c)
	}
	s.mu.Unlock()
	s.stopParker()
	ferr := s.Fallback.Close()
	s.fallbackLn.Close()
	if err == nil {
		err = ferr
	}
	return err
}

// onceCloseListener wraps a net.Listener, protecting it from multiple
// Close calls.
type onceCloseListener struct {
	net.Listener
	once     sync.Once
	closeErr error
}

func (oc *onceCloseListener) Close() error {
	oc.once.Do(func() { oc.closeErr = oc.Listener.Close() })
	return oc.closeErr
}

// chanListener is the listener the Fallback serves: Accept returns the
// connections the fast path hands off.
type chanListener struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   atomic.Pointer[net.Addr]
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) setAddr(a net.Addr) {
	if a != nil {
		l.addr.CompareAndSwap(nil, &a)
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr {
	if a := l.addr.Load(); a != nil {
		return *a
	}
	return &net.TCPAddr{}
}

// send hands c to the Fallback's Serve loop; it reports false (and c
// stays the caller's to close) if the listener is closed.
func (l *chanListener) send(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}
