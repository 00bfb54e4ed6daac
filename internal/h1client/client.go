// Package h1client is rgate's upstream HTTP/1.1 client: pooled keep-alive
// connections on which the caller's goroutine writes the request and reads
// the response itself.
//
// Why not net/http.Transport: the Transport runs a read loop and a write
// loop goroutine per connection and hands every request and response
// between them and the caller through channels. Under the bench harness
// that hand-off, its select statements and the extra wake-ups were a large
// share of the proxy's CPU (see the README's Performance section). Here a
// round trip is: take an idle connection from a per-upstream stack, write
// the head (and a small body) with one write, read the response head with
// the body's first bytes in one read, and stream the body from the read
// buffer straight into the client's writer.
//
// The one entry point is Client.Do: it takes a connection, has the caller
// write the head, sends a buffered body, waits for the answer's head (at
// checkpoints where the caller may give up), and returns it; the caller
// copies the body and finishes the Response, which gives the connection
// back. Deadlines, aborts, pooling, the idle check and the replay of a
// request that met a connection the upstream was closing are all Do's;
// nothing outside the package touches a connection.
//
// The package does framing only; what goes in the head (hop-by-hop removal,
// X-Forwarded-*, header rules) is the caller's policy. It speaks plain
// HTTP/1.1 to "host:port" addresses; TLS upstreams, upgrades and streamed
// request bodies stay on net/http.
package h1client

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune upstream connections: a Client's, and those of the
// forwarder's other engine, which takes the same values. Zero values take
// defaults (WithDefaults).
type Options struct {
	// DialTimeout bounds connecting. Default 3s.
	DialTimeout time.Duration
	// MaxIdlePerHost is how many idle connections are kept per upstream.
	// Default 1024 (net/http's default of 2 starves a proxy; an HTTP/2
	// client multiplexes hundreds of requests over a few connections,
	// and each running request needs its own upstream connection).
	MaxIdlePerHost int
	// IdleTimeout closes connections idle this long. Default 90s.
	IdleTimeout time.Duration
}

// WithDefaults returns o with every zero value set to its default.
func (o Options) WithDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 3 * time.Second
	}
	if o.MaxIdlePerHost <= 0 {
		o.MaxIdlePerHost = 1024
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 90 * time.Second
	}
	return o
}

// Client is a set of per-upstream pools of idle connections.
type Client struct {
	opt    Options
	dialer net.Dialer
	hosts  sync.Map // host:port -> *hostPool
	closed atomic.Bool
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// New returns a client. Close stops its janitor and closes idle
// connections.
func New(o Options) *Client {
	o = o.WithDefaults()
	c := &Client{
		opt:    o,
		dialer: net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go c.janitor()
	return c
}

// Close closes every idle connection and stops the janitor. Connections in
// use are closed when they are released.
func (c *Client) Close() {
	c.once.Do(func() {
		c.closed.Store(true)
		close(c.stop)
		<-c.done
		c.hosts.Range(func(_, v any) bool {
			v.(*hostPool).closeIdle(func(*Conn) bool { return true })
			return true
		})
	})
}

// janitor closes connections idle past IdleTimeout, and those whose
// upstream has closed them, so that they do not hold descriptors (or sit in
// CLOSE_WAIT) while no request comes to take them.
func (c *Client) janitor() {
	defer close(c.done)
	t := time.NewTicker(sweepEvery(c.opt.IdleTimeout))
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.hosts.Range(func(k, v any) bool {
				p := v.(*hostPool)
				p.closeIdle(func(cn *Conn) bool {
					return now.Sub(cn.idleSince) > c.opt.IdleTimeout || !cn.alive()
				})
				if p.empty() {
					c.hosts.CompareAndDelete(k, v)
				}
				return true
			})
		}
	}
}

func sweepEvery(idle time.Duration) time.Duration {
	if d := idle / 4; d < 15*time.Second {
		return max(d, 100*time.Millisecond)
	}
	return 15 * time.Second
}

// hostPool is one upstream's idle connections, most recently used on top:
// the busiest connections stay warm and the rest age out.
type hostPool struct {
	mu   sync.Mutex
	idle []*Conn
}

func (p *hostPool) pop() *Conn {
	p.mu.Lock()
	n := len(p.idle)
	if n == 0 {
		p.mu.Unlock()
		return nil
	}
	cn := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	p.mu.Unlock()
	return cn
}

func (p *hostPool) push(cn *Conn, limit int) bool {
	p.mu.Lock()
	if len(p.idle) >= limit {
		p.mu.Unlock()
		return false
	}
	p.idle = append(p.idle, cn)
	p.mu.Unlock()
	return true
}

func (p *hostPool) empty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle) == 0
}

// closeIdle closes (outside the lock) the idle connections drop selects.
func (p *hostPool) closeIdle(drop func(*Conn) bool) {
	var gone []*Conn
	p.mu.Lock()
	kept := p.idle[:0]
	for _, cn := range p.idle {
		if drop(cn) {
			gone = append(gone, cn)
		} else {
			kept = append(kept, cn)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	p.mu.Unlock()
	for _, cn := range gone {
		cn.nc.Close()
	}
}

func (c *Client) pool(host string) *hostPool {
	if v, ok := c.hosts.Load(host); ok {
		return v.(*hostPool)
	}
	v, _ := c.hosts.LoadOrStore(host, &hostPool{})
	return v.(*hostPool)
}

// get returns an idle connection to host ("host:port"), or dials one that
// must be established by deadline. cn.reused says which it was: a request
// that fails on a reused connection before any byte of the answer came may
// have met a connection the upstream was closing.
func (c *Client) get(ctx context.Context, host string, deadline time.Time) (cn *Conn, err error) {
	p := c.pool(host)
	now := time.Now()
	for {
		cn = p.pop()
		if cn == nil {
			break
		}
		idle := now.Sub(cn.idleSince)
		// A connection the upstream closed while it sat idle (even for
		// a moment, as one that closes after each answer without saying
		// so) would fail the request sent on it: net/http's Transport
		// notices such closes at once from its read loop; here a
		// non-blocking peek (one system call) does before every reuse.
		if idle > c.opt.IdleTimeout || !cn.alive() {
			cn.nc.Close()
			continue
		}
		cn.reused = true
		return cn, nil
	}
	return c.dial(ctx, host, deadline)
}

// dial connects to host without looking at the pool.
func (c *Client) dial(ctx context.Context, host string, deadline time.Time) (*Conn, error) {
	d := c.dialer
	if !deadline.IsZero() && (d.Deadline.IsZero() || deadline.Before(d.Deadline)) {
		d.Deadline = deadline
	}
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	cn := &Conn{nc: nc, host: host, client: c, peek: newPeeker(nc)}
	cn.br = bufio.NewReaderSize(nc, readBufSize)
	cn.bw = bufio.NewWriterSize(nc, writeBufSize)
	return cn, nil
}

const (
	readBufSize  = 16 << 10
	writeBufSize = 8 << 10
)

// Conn is one upstream connection, used by one request at a time.
type Conn struct {
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	host   string
	client *Client
	// reused is true when the connection came from the pool.
	reused    bool
	idleSince time.Time
	// res is the current response; its Header map is reused.
	res Response
	// wait is the wait for the current answer's head (see Do).
	wait headWait
	// peek checks the connection while it is idle.
	peek *peeker
	// stopAbort, while a body is read, unhooks the abort that the
	// client's going away triggers; see Response.Finish.
	stopAbort func() bool
	// body framing of the current response (see body.go)
	remain  int64 // bytes of a Content-Length body still to read
	chunked io.Reader
	broken  bool // framing lost or errors seen: never reuse
}

// bodyBuffered reports whether the rest of the current answer's body is
// already in the read buffer, so reading it cannot block.
func (cn *Conn) bodyBuffered() bool {
	return cn.chunked == nil && cn.remain >= 0 && cn.remain <= int64(cn.br.Buffered())
}

// release returns the connection to its pool when its response was read to
// the end and nothing went wrong, and closes it otherwise.
func (cn *Conn) release() {
	if cn.broken || cn.res.Close || cn.remain != 0 || cn.chunked != nil || cn.br.Buffered() != 0 ||
		cn.bw.Buffered() != 0 || cn.client.closed.Load() {
		cn.nc.Close()
		return
	}
	cn.idleSince = time.Now()
	cn.reused = false
	cn.wait = headWait{}
	if !cn.client.pool(cn.host).push(cn, cn.client.opt.MaxIdlePerHost) {
		cn.nc.Close()
	}
}

// discard closes the connection without returning it to the pool.
func (cn *Conn) discard() {
	cn.broken = true
	cn.nc.Close()
}

// alive reports whether an idle connection is still open: a read that must
// not block finds nothing to read. Data from an upstream between requests,
// or a close, means the connection is not fit for a request.
func (cn *Conn) alive() bool {
	if cn.br.Buffered() > 0 {
		return false
	}
	return cn.peek.open()
}
