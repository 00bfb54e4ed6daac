package breaker

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/mw/reqid"
	"github.com/rgate/rgate/internal/reqinfo"
)

// New returns next guarded by b, the breaker of backend. While b refuses,
// the client gets 503 (httperr.ErrCircuitOpen) with Retry-After in whole
// seconds. Otherwise next serves the request, and the final status the
// gateway's writer recorded decides the outcome: >= 500 is a failure
// (connect errors, timeouts and upstream 5xx all end as 502/503/504 or the
// upstream's own 5xx); 499 (the client went away), status 0 (nothing was
// answered) or a panic in next (http.ErrAbortHandler) is neither; anything
// else is a success. Nothing is allocated when w leads to a reqinfo.Info;
// otherwise (unit tests) a small writer records the status.
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
	var sw *statusWriter
	if info == nil { // not behind the gateway's writer (unit tests)
		sw = &statusWriter{ResponseWriter: w}
		w = sw
	}
	o := outcome{b: h.b, t: t}
	defer o.settle() // also when next panics: a probe slot must come back
	h.next.ServeHTTP(w, r)
	if info != nil {
		o.status = info.Status
	} else {
		o.status = sw.final()
	}
	o.returned = true
}

func (h *handler) reject(w http.ResponseWriter, r *http.Request, info *reqinfo.Info, wait time.Duration) {
	if info != nil && info.Backend == "" {
		info.Backend = h.backend
	}
	w.Header().Set("Retry-After", retryAfter(wait))
	httperr.Write(w, httperr.ErrCircuitOpen, r.Header.Get(reqid.Header))
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

// statusWriter records the final status when no reqinfo.Info is reachable.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// final is the status the client got: net/http answers 200 for a handler
// that returns without writing.
func (w *statusWriter) final() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
