package reqinfo

import (
	"bufio"
	"net"
	"net/http"
)

// Writer is the outermost ResponseWriter of a request: it carries the
// request's Info and records in it the final status and the body bytes
// written. It implements Unwrap, so http.ResponseController reaches the
// real writer (flush, deadlines, hijack).
type Writer struct {
	http.ResponseWriter
	Info Info
	// Stamper, when set, adds fields to the final answer's head just
	// before it is written (once).
	Stamper Stamper
}

// Stamper adds fields to a final answer's head.
type Stamper interface {
	Stamp(h http.Header)
}

var _ Carrier = (*Writer)(nil)

// RequestInfo implements Carrier.
func (w *Writer) RequestInfo() *Info { return &w.Info }

// WriteHeader records the first final status; 1xx answers are relayed
// without being recorded, and a second final status is dropped.
func (w *Writer) WriteHeader(code int) {
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: relay, not final
		return
	}
	if w.Info.Status != 0 {
		return
	}
	w.Info.Status = code
	if w.Stamper != nil {
		w.Stamper.Stamp(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *Writer) Write(b []byte) (int, error) {
	if w.Info.Status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.Info.Bytes += int64(n)
	return n, err
}

// Hijack serves protocol upgrades: ReverseProxy writes the 101 answer on
// the hijacked connection itself, so it is recorded (and stamped) here.
func (w *Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.Info.Status == 0 {
		w.Info.Status = http.StatusSwitchingProtocols
		if w.Stamper != nil {
			w.Stamper.Stamp(w.Header()) // ReverseProxy writes this header map with the 101
		}
	}
	return conn, brw, err
}

func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
