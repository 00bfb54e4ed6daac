package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rgate/rgate/internal/reqid"
	"github.com/rgate/rgate/internal/reqinfo"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/tracing"
)

// respWriter is the outermost wrapper of the client's ResponseWriter for
// one request: the reqinfo.Writer that every handler of the route's chain
// answers into, and the stamps the gateway puts on every answer
// (X-Request-Id, X-Response-Time, X-Service) when its head is written.
type respWriter struct {
	reqinfo.Writer
	route *route.Route
	span  tracing.Span // the request's server span; zero when not sampled
}

var writerPool = sync.Pool{New: func() any {
	rw := new(respWriter)
	rw.Stamper = rw
	return rw
}}

func getWriter(w http.ResponseWriter) *respWriter {
	rw := writerPool.Get().(*respWriter)
	rw.ResponseWriter = w
	return rw
}

func putWriter(rw *respWriter) {
	rw.Writer = reqinfo.Writer{Stamper: rw}
	rw.route = nil
	rw.span = tracing.Span{}
	writerPool.Put(rw)
}

// Stamp implements reqinfo.Stamper.
func (w *respWriter) Stamp(h http.Header) {
	h[reqid.Header] = []string{w.Info.ID} // overrides any upstream copy
	var buf [24]byte
	ms := float64(time.Since(w.Info.Start).Microseconds()) / 1000
	h["X-Response-Time"] = []string{string(append(strconv.AppendFloat(buf[:0], ms, 'f', 3, 64), "ms"...))}
	if w.route != nil {
		h["X-Service"] = w.route.Backend.ServiceHeader
	}
}
