package gateway

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rgate/rgate/internal/mw/reqid"
)

// respWriter wraps the client's ResponseWriter for one request: it records
// the status and size for stats, stamps the request id on the answer, stops
// the route's upstream timer once response headers arrive, and receives the
// proxy's error instead of letting the proxy answer, so the gateway can retry
// or map the error in one place. It implements Unwrap so that
// http.ResponseController reaches the real writer (flush, deadlines).
type respWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	id     string
	timer  *time.Timer
	// err is the upstream exchange's failure, set by the proxy's error
	// handler; the gateway decides what the client sees.
	err error
}

var writerPool = sync.Pool{New: func() any { return new(respWriter) }}

func getWriter(w http.ResponseWriter, id string) *respWriter {
	rw := writerPool.Get().(*respWriter)
	rw.ResponseWriter, rw.id = w, id
	return rw
}

func putWriter(rw *respWriter) {
	*rw = respWriter{}
	writerPool.Put(rw)
}

func (w *respWriter) WriteHeader(code int) {
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // 1xx informational: relay, not final
		return
	}
	if w.status != 0 {
		return
	}
	w.headersArrived()
	w.status = code
	w.Header().Set(reqid.Header, w.id) // overrides any upstream copy
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Hijack serves protocol upgrades: ReverseProxy writes the 101 answer on the
// hijacked connection itself, so record it here.
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.headersArrived()
		w.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *respWriter) headersArrived() {
	if w.timer != nil {
		w.timer.Stop()
	}
}
