package gateway

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rgate/rgate/internal/mw/reqid"
	"github.com/rgate/rgate/internal/reqinfo"
	"github.com/rgate/rgate/internal/route"
)

// respWriter is the outermost wrapper of the client's ResponseWriter for
// one request. It holds the request's reqinfo.Info (status, size, where it
// went) and stamps X-Request-Id, X-Response-Time and X-Service on the answer
// when its headers are written. It implements Unwrap so that
// http.ResponseController reaches the real writer (flush, deadlines).
type respWriter struct {
	http.ResponseWriter
	info  reqinfo.Info
	route *route.Route
}

var writerPool = sync.Pool{New: func() any { return new(respWriter) }}

func getWriter(w http.ResponseWriter) *respWriter {
	rw := writerPool.Get().(*respWriter)
	rw.ResponseWriter = w
	return rw
}

func putWriter(rw *respWriter) {
	*rw = respWriter{}
	writerPool.Put(rw)
}

// Info implements reqinfo.Carrier.
func (w *respWriter) Info() *reqinfo.Info { return &w.info }

func (w *respWriter) WriteHeader(code int) {
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // 1xx informational: relay, not final
		return
	}
	if w.info.Status != 0 {
		return
	}
	w.info.Status = code
	w.stamp(w.Header())
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) stamp(h http.Header) {
	h[reqid.Header] = []string{w.info.ID} // overrides any upstream copy
	var buf [24]byte
	ms := float64(time.Since(w.info.Start).Microseconds()) / 1000
	h["X-Response-Time"] = []string{string(append(strconv.AppendFloat(buf[:0], ms, 'f', 3, 64), "ms"...))}
	if w.route != nil {
		h["X-Service"] = w.route.Backend.ServiceHeader
	}
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.info.Status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.info.Bytes += int64(n)
	return n, err
}

// Hijack serves protocol upgrades: ReverseProxy writes the 101 answer on the
// hijacked connection itself, so record it here.
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.info.Status == 0 {
		w.info.Status = http.StatusSwitchingProtocols
		w.stamp(w.Header()) // ReverseProxy writes this header map with the 101
	}
	return conn, brw, err
}

func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
