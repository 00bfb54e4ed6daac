package breaker

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/reqinfo"
)

// New returns next guarded by b, the breaker of backend. While b refuses,
// the client gets 503 (httperr.ErrCircuitOpen) with Retry-After in whole
// seconds. Otherwise next serves the request, and the final status the
// gateway's writer recorded decides the outcome: >= 500 is a failure
// (connect errors, timeouts and upstream 5xx all end as 502/503/504 or the
// upstream's own 5xx); 499 (the client went away), status 0 (nothing was
// answered) or a panic in next (http.ErrAbortHandler) is neither; anything
// else is a success. The status is read from the request's reqinfo.Info,
// which the gateway's writer fills in; nothing is allocated.
func New(b *Breaker, backend string, next http.Handler) http.Handler {
	return &handler{b: b, backend: backend, next: next}
}

type handler struct {
	b       *Breaker
	backend string
	next    http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, ok, wait := h.b.Allow()
	info := reqinfo.From(w)
	if !ok {
		h.reject(w, r, info, wait)
		return
	}
	o := outcome{b: h.b, t: t}
	defer o.settle() // also when next panics: a probe slot must come back
	h.next.ServeHTTP(w, r)
	o.status = info.Status
	o.returned = true
}

func (h *handler) reject(w http.ResponseWriter, r *http.Request, info *reqinfo.Info, wait time.Duration) {
	if info.Backend == "" {
		info.Backend = h.backend
	}
	w.Header().Set("Retry-After", retryAfter(wait))
	httperr.Write(w, r, httperr.ErrCircuitOpen)
}

// retryAfter renders d as whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	s := (d + time.Second - 1) / time.Second
	return strconv.FormatInt(int64(max(s, 1)), 10)
}

// outcome reports one admitted request to its breaker when ServeHTTP ends.
type outcome struct {
	b        *Breaker
	t        Ticket
	status   int
	returned bool // false while next runs, and after it panicked
}

func (o *outcome) settle() {
	if !o.returned || o.status == 0 || o.status == httperr.StatusClientClosed {
		o.b.Cancel(o.t)
		return
	}
	o.b.Done(o.t, o.status >= http.StatusInternalServerError)
}
