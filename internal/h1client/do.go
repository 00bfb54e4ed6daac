package h1client

import (
	"bufio"
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/rgate/rgate/internal/h1syntax"
)

// Request is one request for Client.Do. The caller keeps it (and its
// Caller) alive until the Response is finished; Do allocates nothing for it.
type Request struct {
	// Addr is the upstream's "host:port".
	Addr string
	// Caller writes the head and is asked, while the answer is awaited,
	// whether the request is still wanted.
	Caller Caller
	// Body is sent right after the head, in the same write when it fits.
	Body []byte
	// HeadMethod is true for HEAD: the answer has no body.
	HeadMethod bool
	// Deadline bounds connecting, sending and the wait for the answer's
	// head (not the body). Zero means none.
	Deadline time.Time
}

// Caller is the requester's side of one exchange.
type Caller interface {
	// WriteHead writes the request head, request line through the blank
	// line that ends it.
	WriteHead(bw *bufio.Writer) error
	// Interrupted is asked at each checkpoint of the wait for the
	// answer's head (after 25 ms, then at doubling intervals up to
	// 200 ms): a non-nil error stops the wait, and Do returns it. It lets
	// a caller give up on a request whose upstream left without a
	// goroutine or callback per request.
	Interrupted() error
	// Informational receives each 1xx answer before the final one; its
	// Header is valid until Informational returns.
	Informational(res *Response)
}

// Checkpoints of the wait for an answer's head.
const (
	pollFirst = 25 * time.Millisecond
	pollMax   = 200 * time.Millisecond
)

// errSwitched: a 101 answer to a request that asked for no upgrade.
var errSwitched = errors.New("h1client: upstream switched protocols on a request without Upgrade")

// Do sends req and returns the final answer's head. A request written on a
// reused connection that fails before any byte of an answer came (the
// upstream closed the connection as the request went out, after the check
// before reuse) is sent again on a fresh connection, whatever its method:
// the upstream closed without reading it, and its body is at hand. The answer's body is
// read with Response.CopyBody; Response.Finish then gives the connection
// back (or closes it). ctx is the client's: once it is done, the wait for
// the head stops at the next checkpoint with ctx's error, and a body read
// that blocks is cut short. On error nothing needs finishing.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	cn, err := c.get(ctx, req.Addr, req.Deadline)
	if err != nil {
		return nil, err
	}
	for {
		res, err := cn.exchange(ctx, req)
		if err == nil {
			return res, nil
		}
		cn.discard()
		if !cn.reused || !errors.Is(err, ErrNothingRead) {
			return nil, err
		}
		if cn, err = c.dial(ctx, req.Addr, req.Deadline); err != nil {
			return nil, err
		}
	}
}

// exchange writes req on cn and reads the final answer's head.
func (cn *Conn) exchange(ctx context.Context, req *Request) (*Response, error) {
	nc := cn.nc
	if len(req.Body) > 0 {
		_ = nc.SetWriteDeadline(req.Deadline)
	}
	cn.wait = headWait{ctx: ctx, req: req, poll: pollFirst}
	_ = nc.SetReadDeadline(cn.wait.next(time.Now()))
	if err := req.Caller.WriteHead(cn.bw); err != nil {
		return nil, err
	}
	if len(req.Body) > 0 {
		_, _ = cn.bw.Write(req.Body)
	}
	if err := cn.bw.Flush(); err != nil {
		return nil, err
	}
	res, err := cn.finalHead(req)
	cn.wait.req = nil
	if err != nil {
		return nil, err
	}
	// The deadline bounds the wait for the head, not the body.
	if len(req.Body) > 0 {
		_ = nc.SetDeadline(time.Time{})
	} else {
		_ = nc.SetReadDeadline(time.Time{})
	}
	res.cn = cn
	if !cn.bodyBuffered() && ctx.Done() != nil {
		// The body's reads may block: a client that leaves stops them.
		cn.stopAbort = context.AfterFunc(ctx, cn.abort)
	}
	return res, nil
}

// finalHead reads answers until the final one, handing 1xx answers to the
// caller.
func (cn *Conn) finalHead(req *Request) (*Response, error) {
	for n := 0; ; n++ {
		res, err := cn.ReadResponse(req.HeadMethod)
		switch {
		case err != nil:
			return nil, err
		case res.StatusCode == 101:
			return nil, errSwitched
		case res.StatusCode >= 200:
			return res, nil
		case n == max1xx:
			return nil, errors.New("h1client: too many 1xx informational responses")
		}
		req.Caller.Informational(res)
	}
}

// abort stops a body read blocked on the connection (the client left).
func (cn *Conn) abort() { _ = cn.nc.SetDeadline(h1syntax.ALongTimeAgo) }

// headWait is the state of the wait for an answer's head.
type headWait struct {
	ctx  context.Context
	req  *Request // nil when no wait is in progress
	poll time.Duration
}

// next returns the read deadline for the wait from now: the next
// checkpoint, or the request's deadline when that comes first.
func (w *headWait) next(now time.Time) time.Time {
	d := now.Add(w.poll)
	if dl := w.req.Deadline; !dl.IsZero() && dl.Before(d) {
		return dl
	}
	return d
}

// checkpoint is reached when a read of the head passed its deadline: it
// returns the next deadline, or why the wait ends.
func (w *headWait) checkpoint() (time.Time, error) {
	now := time.Now()
	if dl := w.req.Deadline; !dl.IsZero() && !now.Before(dl) {
		return time.Time{}, os.ErrDeadlineExceeded
	}
	if err := w.ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if err := w.req.Caller.Interrupted(); err != nil {
		return time.Time{}, err
	}
	w.poll = min(2*w.poll, pollMax)
	return w.next(now), nil
}

// copyPool's buffers receive the part of an answer's body that did not
// come with its head, read past the connection's 16 KiB buffer: the rest
// of a 64 KiB answer then takes one read.
var copyPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// CopyBody copies the answer's body to w, calling flush (when set) after
// every write. It reports the bytes written and which side failed:
// readErr for the upstream (including a body cut short or stopped because
// the client left), writeErr for w. Trailers are in Trailer afterwards.
func (res *Response) CopyBody(w interface{ Write([]byte) (int, error) }, flush func() error) (n int64, readErr, writeErr error) {
	bp := copyPool.Get().(*[]byte)
	n, readErr, writeErr = res.cn.WriteBodyTo(w, flush, *bp)
	copyPool.Put(bp)
	return n, readErr, writeErr
}

// Finish ends the exchange: the connection goes back to its pool when the
// body was read to the end and nothing went wrong, and is closed
// otherwise.
func (res *Response) Finish() {
	cn := res.cn
	res.cn = nil
	if cn == nil {
		return
	}
	if cn.stopAbort != nil {
		fired := !cn.stopAbort()
		cn.stopAbort = nil
		if fired { // its deadline was moved into the past
			cn.discard()
			return
		}
	}
	cn.release()
}

// Discard ends the exchange and closes the connection, whatever is left of
// the body.
func (res *Response) Discard() {
	if cn := res.cn; cn != nil {
		cn.broken = true
		res.Finish()
	}
}
