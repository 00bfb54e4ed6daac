package h1server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rgate/rgate/internal/h1syntax"
)

// excludedHeadersNoBody is left out of an informational (1xx) header.
var excludedHeadersNoBody = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}

// of *bufio.Writer, bufferBeforeChunkingSize

// response is the fast path's http.ResponseWriter. One lives in each conn
// and is reused for each request. It reproduces net/http's response
// (*http.response plus its chunkWriter) decision for decision; the comments
// name the net/http behaviour being matched.
type response struct {
	c       *conn
	req     *http.Request // the request given to the handler
	reqBody io.ReadCloser // the original request body
	body    *body         // reqBody when it is a fast-path body, else nil

	handlerHeader http.Header // allocated on the first Header call
	snapshot      http.Header // net/http's cw.header: the header as of WriteHeader
	calledHeader  bool

	wroteHeader bool // a final status was (logically) written
	hdrWritten  bool // the header went to the connection's buffer
	early       bool // the header was written at WriteHeader
	chunking    bool
	handlerDone bool
	wantsClose  bool
	fullDuplex  bool

	status              int
	contentLength       int64 // declared or computed; -1 if unknown
	written             int64
	closeAfterReply     bool
	requestBodyLimitHit bool

	// passedOn reports whether net/http would have passed anything on
	// from its 2 KiB buffer to the connection's buffer: the 2 KiB buffer
	// overflowed or was flushed.
	passedOn bool
	wire0    uint64 // c.wireWrites when the response began
	trailers []string
	cbuf     *bufio.Writer // net/http's response.w: 2 KiB buffer in front of cw
	cw       chunkWriter
	exclude  map[string]bool
	scratch  [24]byte // chunk sizes and the status code
	clenBuf  [20]byte
}

func (w *response) reset(c *conn, req *http.Request, bd *body) {
	*w = response{
		c:             c,
		req:           req,
		reqBody:       req.Body,
		body:          bd,
		contentLength: -1,
		trailers:      w.trailers[:0],
		exclude:       w.exclude,
		wantsClose:    req.Close || h1syntax.HasToken(hget(req.Header, "Connection"), "close"),
		wire0:         c.wireWrites,
	}
	w.cw.w = w
}

// release drops references to the finished request.
func (w *response) release() {
	trailers, exclude := w.trailers[:0], w.exclude
	clear(trailers[:cap(trailers)])
	*w = response{trailers: trailers, exclude: exclude}
}

func hget(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func hhas(h http.Header, key string) bool {
	_, ok := h[key]
	return ok
}

func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == 204:
		return false
	case status == 304:
		return false
	}
	return true
}

// Header implements http.ResponseWriter.
func (w *response) Header() http.Header {
	if w.handlerHeader == nil {
		hint := 0
		if w.c != nil {
			hint = w.c.headerHint
		}
		w.handlerHeader = make(http.Header, hint)
	}
	if w.snapshot == nil && w.wroteHeader && !w.hdrWritten {
		// Accessing the header between logically writing it and
		// physically writing it means we need to snapshot the
		// logically written state (as net/http does).
		w.snapshot = w.handlerHeader.Clone()
	}
	w.calledHeader = true
	return w.handlerHeader
}

// WriteHeader implements http.ResponseWriter.
func (w *response) WriteHeader(code int) {
	if w.c == nil {
		return
	}
	w.writeHeader(code, nil)
}

func checkWriteHeaderCode(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
}

// writeHeader is WriteHeader; p, if not nil, is the first body write that
// implied the status, used to decide the header early when possible.
func (w *response) writeHeader(code int, p []byte) {
	if w.wroteHeader {
		w.c.srv.logDebug("http: superfluous response.WriteHeader call", "caller", relevantCaller())
		return
	}
	checkWriteHeaderCode(code)

	// Informational headers are written immediately, with the current
	// header (RFC 8297), and may repeat. 101 takes the final path.
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		bw := w.c.bw
		writeStatusLine(bw, code, w.scratch[:0])
		writeHeader(bw, w.handlerHeader, excludedHeadersNoBody)
		bw.Write(crlf)
		bw.Flush()
		return
	}

	w.wroteHeader = true
	w.status = code

	cl := hget(w.handlerHeader, "Content-Length")
	validCL := false
	if cl != "" {
		v, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
			validCL = true
		}
	}

	if (cl == "" || validCL) && w.canCommitEarly(code, validCL, p) {
		// Every input of net/http's header decision is already final:
		// write the header now, which makes a snapshot unnecessary (the
		// buffered bytes are the snapshot).
		w.commitHeader(p)
		w.early = true
		return
	}

	if w.calledHeader && w.snapshot == nil {
		w.snapshot = w.handlerHeader.Clone()
	}
	if cl != "" && !validCL {
		w.c.srv.logError(fmt.Sprintf("http: invalid Content-Length of %q", cl))
		w.handlerHeader.Del("Content-Length")
	}
}

// errWriterDone answers writes to a ResponseWriter whose handler has
// returned.
var errWriterDone = errors.New("h1server: ResponseWriter used after its handler returned")

// sentNothingYet reports whether this response wrote its header early
// while net/http, running the same handler, would not have written
// anything to its connection buffer yet: if the handler panics, that
// buffer is discarded, as net/http never sends it.
func (w *response) sentNothingYet() bool {
	return w.early && !w.passedOn && w.c.wireWrites == w.wire0
}

// SetReadDeadline sets the connection's read deadline (http.ResponseController).
func (w *response) SetReadDeadline(deadline time.Time) error {
	w.c.rdeadline = true // cleared before the next request's head is read
	return w.c.rwc.SetReadDeadline(deadline)
}

// SetWriteDeadline sets the connection's write deadline (http.ResponseController).
func (w *response) SetWriteDeadline(deadline time.Time) error {
	return w.c.rwc.SetWriteDeadline(deadline)
}

// EnableFullDuplex stops the server from draining the request body before
// writing the response (http.ResponseController).
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

// finishRequest completes the response after the handler returned.
func (w *response) finishRequest() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.cbuf != nil {
		w.cbuf.Flush()
		w.cbuf.Reset(nil)
		chunkBufPool.Put(w.cbuf)
		w.cbuf = nil
	}
	if !w.hdrWritten {
		w.commitHeader(nil)
	}
	bw := w.c.bw
	if w.chunking {
		bw.WriteString("0\r\n")
		if trailers := w.finalTrailers(); trailers != nil {
			trailers.Write(bw)
		}
		bw.WriteString("\r\n")
	}
	bw.Flush()
	// Close the body (regardless of closeAfterReply) so that a retained
	// reference cannot read the connection later.
	w.reqBody.Close()
	if w.req.MultipartForm != nil {
		w.req.MultipartForm.RemoveAll()
	}
}

// shouldReuseConnection is net/http's rule for keeping the connection.
func (w *response) shouldReuseConnection() bool {
	if w.closeAfterReply {
		return false
	}
	if w.req.Method != "HEAD" && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written {
		// Did not write enough. Avoid getting out of sync.
		return false
	}
	if w.c.werr != nil {
		return false
	}
	if b, ok := w.req.Body.(*body); ok && b.didEarlyClose() {
		return false
	}
	return true
}

func (w *response) closedRequestBodyEarly() bool {
	b, ok := w.req.Body.(*body)
	return ok && b.didEarlyClose()
}

// relevantCaller returns the first caller outside this package and net/http.
func relevantCaller() string {
	pc := make([]uintptr, 16)
	n := runtime.Callers(1, pc)
	frames := runtime.CallersFrames(pc[:n])
	for {
		frame, more := frames.Next()
		if !strings.HasPrefix(frame.Function, "net/http.") && !strings.Contains(frame.Function, "/h1server.") {
			return fmt.Sprintf("%s (%s:%d)", frame.Function, frame.File, frame.Line)
		}
		if !more {
			return ""
		}
	}
}

// Compile-time interface checks.
var (
	_ http.ResponseWriter             = (*response)(nil)
	_ http.Flusher                    = (*response)(nil)
	_ io.StringWriter                 = (*response)(nil)
	_ interface{ FlushError() error } = (*response)(nil)
)
