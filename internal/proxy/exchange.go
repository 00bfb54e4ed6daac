package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/internal/h1client"
	"github.com/rgate/rgate/internal/h1syntax"
	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/lb"
	"github.com/rgate/rgate/internal/reqinfo"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/upstream"
)

// exchange is one request's trip upstream, across its attempts.
type exchange struct {
	w    http.ResponseWriter
	r    *http.Request
	rt   *route.Route
	plan *Plan
	log  *slog.Logger
	info *reqinfo.Info
	// trusted: the client is a trusted proxy.
	trusted bool
	// deadline is the route timeout: it bounds the attempts up to the
	// answer's head.
	deadline time.Time
	// in is the client's body (nil without one; it points at inBody).
	// body is the whole of it when it was read first; stream what is sent
	// otherwise.
	in     *clientBody
	inBody clientBody
	body   []byte
	stream io.ReadCloser
	tries
	// wrote is true once an answer's head went to the client.
	wrote bool
	// per-engine state of the current attempt
	h1req  h1client.Request
	h1sink wireSink
}

// tries is what an exchange keeps across its attempts.
type tries struct {
	maxAttempts int
	attempt     int
	tried       uint64 // lb.Tried bitmask
	up          *upstream.Upstream
}

// errUpstreamGone stops an attempt whose upstream left the pool (paused,
// stopped, killed) before it answered: the request may go elsewhere.
var errUpstreamGone = errors.New("upstream left the pool before answering")

// retryStatusError discards an upstream answer whose status is worth
// another upstream (502, 503) while attempts remain.
type retryStatusError struct{ status int }

func (e retryStatusError) Error() string { return "upstream answered " + strconv.Itoa(e.status) }

// picker chooses the engine for the attempt on x.up.
type picker interface {
	engine(x *exchange) engine
}

// run is the attempt loop: pick an upstream, send on the engine p chooses
// for it, and on a failure
// that allows it try another. It returns the error the client is to be
// told, nil when an answer went out.
func (x *exchange) run(p picker) error {
	var err error
	for ; x.attempt < x.maxAttempts; x.attempt++ {
		if !x.next() {
			break
		}
		err = x.sendOn(p.engine(x))
		if err == nil || x.wrote || !x.failed(err) {
			break
		}
	}
	if x.wrote || (err == nil && x.up != nil) {
		return nil
	}
	return x.finalError(err)
}

// sendOn makes the attempt on x.up, counted in its in-flight requests.
func (x *exchange) sendOn(e engine) error {
	x.up.Acquire()
	defer x.up.Release()
	return e.send(x)
}

// next picks the upstream for the current attempt (one not tried yet when
// there is a choice) and records it in info; false when none can be
// picked.
func (x *exchange) next() bool {
	b := x.rt.Backend
	i := b.Picker.Pick(b.Upstreams, x.tried)
	if i < 0 {
		return false
	}
	x.tried = lb.Tried(x.tried, i)
	x.up = b.Upstreams[i]
	x.info.Upstream, x.info.Container, x.info.Retries = x.up.Host, x.up.Container, x.attempt
	return true
}

// canTryAnother reports whether another attempt is allowed and some
// upstream not yet tried could take it.
func (x *exchange) canTryAnother() bool {
	if x.attempt+1 >= x.maxAttempts {
		return false
	}
	for i, u := range x.rt.Backend.Upstreams {
		if i < 64 && x.tried&(1<<uint(i)) != 0 {
			continue
		}
		if !u.ActiveDown() {
			return true
		}
	}
	return false
}

// accept is asked by the engine when an answer's head arrived: false
// means discard it and end the attempt with retryStatusError (a 502 or
// 503 while another upstream may still be tried).
func (x *exchange) accept(status int) bool {
	if (status == http.StatusBadGateway || status == http.StatusServiceUnavailable) && x.canTryAnother() {
		return false
	}
	x.up.ReportSuccess()
	return true
}

// Interrupted reports why the attempt in flight should stop before its
// answer came, or nil: its upstream left the pool.
func (x *exchange) Interrupted() error {
	if x.up.Retired().Err() != nil {
		return errUpstreamGone
	}
	return nil
}

// failed records a failed attempt and reports whether another may follow.
// A connect error means the request never reached the upstream; any other
// failure before the answer's head (a reset, an EOF from a container that
// was just killed) may have reached it, so only a request that is safe to
// repeat goes again, and only while the client waits and the route's
// timeout has not passed.
func (x *exchange) failed(err error) (again bool) {
	if x.r.Context().Err() != nil || !time.Now().Before(x.deadline) || x.in.failed() {
		return false
	}
	b := x.rt.Backend
	if errors.Is(err, errUpstreamGone) {
		x.log.Debug("upstream left the pool during a request", "backend", b.Name, "upstream", x.up.Host)
		return x.maxAttempts > 1
	}
	if httperr.IsConnectError(err) {
		if x.up.ReportConnectFailure(b.Passive) {
			x.log.Warn("upstream ejected after connect failures", "backend", b.Name,
				"container", x.up.Container, "upstream", x.up.Host, "for", b.Passive.EjectFor, "error", err)
		}
		return true
	}
	if _, ok := errors.AsType[retryStatusError](err); ok {
		return true
	}
	return x.maxAttempts > 1 // idempotent: the failure before the head may be retried
}

// finalError is what the client is told when no attempt produced an
// answer.
func (x *exchange) finalError(err error) error {
	rs, isStatus := errors.AsType[retryStatusError](err)
	switch {
	case err == nil: // no upstream could be picked at all
		return httperr.ErrNoUpstream
	case x.r.Context().Err() != nil:
		return context.Canceled
	case x.in.failed():
		return x.in.reason()
	case errors.Is(err, httperr.ErrUpstreamTimeout),
		!time.Now().Before(x.deadline) && h1syntax.IsTimeout(err):
		return httperr.ErrUpstreamTimeout
	case httperr.IsConnectError(err):
		return errors.Join(httperr.ErrUpstreamDown, err)
	case isStatus && rs.status == http.StatusServiceUnavailable:
		return httperr.ErrUpstreamDown
	}
	return err
}

// clientBody is the client's request body as the engines read it. It
// notes a failed read (a malformed chunk, a body cut short, one over the
// route's limit), so that the client is told about its own body instead of
// a 502. Engines may read it on their own goroutines.
type clientBody struct {
	rc       io.ReadCloser
	bad      atomic.Bool
	tooLarge atomic.Bool
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			b.tooLarge.Store(true)
		}
		b.bad.Store(true)
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }

// failed reports whether a read of the body failed (false for no body).
func (b *clientBody) failed() bool { return b != nil && b.bad.Load() }

// reason is the error the client is told about its body.
func (b *clientBody) reason() error {
	if b.tooLarge.Load() {
		return httperr.ErrBodyTooLarge
	}
	return httperr.ErrRequestBody
}

// canRetry reports whether r may be sent again to another upstream:
// idempotent methods without a body to replay.
func canRetry(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	}
	return false
}
