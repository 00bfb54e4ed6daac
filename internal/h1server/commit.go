package h1server

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/rgate/rgate/internal/h1syntax"
)

// canCommitEarly reports whether the physical header written now would be
// identical to the one net/http writes later, when its 2 KiB buffer fills
// or the handler returns: the framing is already decided (a valid
// Content-Length, or no body allowed), the Content-Type is set or can be
// sniffed from p, and the request body is already fully read or closed
// (net/http drains the unread body when it writes the header).
func (w *response) canCommitEarly(code int, validCL bool, p []byte) bool {
	h := w.handlerHeader
	allowed := bodyAllowedForStatus(code)
	if !validCL && allowed {
		return false
	}
	if hhas(h, "Transfer-Encoding") {
		return false
	}
	if allowed && !hhas(h, "Content-Type") && h.Get("Content-Encoding") == "" {
		if len(p) < sniffLen || int64(len(p)) > w.contentLength {
			return false
		}
	}
	if w.req.ContentLength != 0 {
		b := w.body
		if b == nil {
			return false
		}
		b.mu.Lock()
		done := b.sawEOF || b.closed
		b.mu.Unlock()
		if !done {
			return false
		}
	}
	return true
}

// maxPostHandlerReadBytes is net/http's limit on unread request body the
// server drains after the handler to keep the connection.
const maxPostHandlerReadBytes = 256 << 10

// The fields net/http deletes from a header whose status allows no body.
var (
	suppressed304    = []string{"Content-Type", "Content-Length", "Transfer-Encoding"}
	suppressedNoBody = []string{"Content-Length", "Transfer-Encoding"}
)

// headerCommit is what commitHeader's steps share: the header being
// written and the fields the server adds to it.
type headerCommit struct {
	// header is the snapshot (the server's own copy) when owned, else the
	// handler's map, which the server must leave alone.
	header     http.Header
	owned      bool
	extra      extraHeader
	keepAlives bool   // the server is not shutting down
	isHEAD     bool   // the request's method is HEAD
	te         string // the handler's Transfer-Encoding, "" for none
}

// delHeader removes key from the header being written, without touching a
// map the handler still owns.
func (w *response) delHeader(hc *headerCommit, key string) {
	if hc.owned {
		hc.header.Del(key)
		return
	}
	if _, ok := hc.header[key]; !ok {
		return
	}
	w.excludeKey(key)
}

// excludeKey leaves the field key out of the header written.
func (w *response) excludeKey(key string) {
	if w.exclude == nil {
		w.exclude = make(map[string]bool)
	}
	w.exclude[key] = true
}

// commitHeader is net/http's chunkWriter.writeHeader: it finalizes the
// response header and writes it to the connection's buffer. p is the first
// chunk of the body (sniffed for a Content-Type, and its length used as the
// Content-Length when the handler is done). The steps run in net/http's
// order.
func (w *response) commitHeader(p []byte) {
	if w.hdrWritten {
		return
	}
	w.hdrWritten = true

	hc := headerCommit{
		header:     w.snapshot,
		owned:      w.snapshot != nil,
		keepAlives: !w.c.srv.shuttingDown(),
		isHEAD:     w.req.Method == "HEAD",
	}
	if !hc.owned {
		hc.header = w.handlerHeader
	}
	trailers := w.noteTrailers(hc.header)
	hc.te = hget(hc.header, "Transfer-Encoding")
	w.computeContentLength(&hc, p, trailers)
	w.decideClose(&hc)
	w.drainRequestBody(&hc)
	w.setContentType(&hc, p)
	if !hhas(hc.header, "Date") {
		hc.extra.date = currentDate()
	}
	w.setFraming(&hc)
	w.sayClose(&hc)
	w.writeCommitted(&hc)
}

// computeContentLength gives a response a Content-Length when its handler
// is done, it set neither a Content-Length nor a Transfer-Encoding nor
// trailers, and it wrote less than the buffer (p, all of the body): len(p),
// except for HEAD with no body written.
func (w *response) computeContentLength(hc *headerCommit, p []byte, trailers bool) {
	if w.handlerDone && !trailers && hc.te == "" && bodyAllowedForStatus(w.status) && !hhas(hc.header, "Content-Length") && (!hc.isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		hc.extra.contentLength = strconv.AppendInt(w.clenBuf[:0], int64(len(p)), 10)
	}
}

// decideClose marks the connection to close after the response when the
// request asked for it, the handler's Connection field is "close", or the
// server is shutting down.
func (w *response) decideClose(hc *headerCommit) {
	if w.wantsClose {
		w.closeAfterReply = true
	}
	if hget(hc.header, "Connection") == "close" || !hc.keepAlives {
		w.closeAfterReply = true
	}
}

// drainRequestBody consumes the rest of the request body before the
// response is written, unless the connection closes anyway or the handler
// asked for full duplex: up to maxPostHandlerReadBytes; past that it gives
// up on the connection, which the response then says.
func (w *response) drainRequestBody(hc *headerCommit) {
	if w.req.ContentLength == 0 || w.closeAfterReply || w.fullDuplex {
		return
	}
	discard, tooBig := w.unreadBody()
	if discard {
		tooBig = w.discardRequestBody()
	}
	if tooBig {
		w.closeAfterReply = true
		w.requestBodyLimitHit = true
		w.delHeader(hc, "Connection")
		hc.extra.connection = "close"
	}
}

// unreadBody tells what to do with the request body the handler left: read
// it away (discard: a fast-path body with less than
// maxPostHandlerReadBytes left, or another body), or give up (tooBig).
// Neither when the handler closed the body; closed before EOF, the
// connection closes after the response.
func (w *response) unreadBody() (discard, tooBig bool) {
	bdy, ok := w.req.Body.(*body)
	if !ok {
		return true, false
	}
	bdy.mu.Lock()
	switch {
	case bdy.closed:
		if !bdy.sawEOF {
			// Body was closed in handler with non-EOF error.
			w.closeAfterReply = true
		}
	case bdy.remain >= maxPostHandlerReadBytes:
		tooBig = true
	default:
		discard = true
	}
	bdy.mu.Unlock()
	return discard, tooBig
}

// discardRequestBody reads up to maxPostHandlerReadBytes of the request
// body away and reports whether there was more (tooBig). A read error, or
// failing to close the body read to EOF, closes the connection after the
// response.
func (w *response) discardRequestBody() (tooBig bool) {
	_, err := io.CopyN(io.Discard, w.reqBody, maxPostHandlerReadBytes+1)
	switch err {
	case nil:
		// There must be even more data left over.
		return true
	case http.ErrBodyReadAfterClose:
		// Body was already consumed and closed.
	case io.EOF:
		// The remaining body was just consumed, close it.
		if w.reqBody.Close() != nil {
			w.closeAfterReply = true
		}
	default:
		// Some other kind of error occurred: whatever remains on
		// the wire must not be parsed as another request.
		w.closeAfterReply = true
	}
	return false
}

// setContentType sniffs a Content-Type from p for a status that allows a
// body and a header with neither a Content-Type, a Content-Encoding (net/http
// issue 31753) nor a Transfer-Encoding. For a status that allows none it
// removes the fields such a response must not carry.
func (w *response) setContentType(hc *headerCommit, p []byte) {
	if bodyAllowedForStatus(w.status) {
		// If no content type, apply sniffing algorithm to body.
		_, haveType := hc.header["Content-Type"]
		hasCE := hc.header.Get("Content-Encoding") != ""
		if !hasCE && !haveType && hc.te == "" && len(p) > 0 {
			hc.extra.contentType = http.DetectContentType(p)
		}
		return
	}
	sup := suppressedNoBody
	if w.status == 304 {
		sup = suppressed304
	}
	for _, k := range sup {
		w.delHeader(hc, k)
	}
}

// setFraming decides how the body is delimited: nothing (no body), the
// Content-Length, the connection's close (Transfer-Encoding: identity) or
// chunking, and removes the framing fields that do not apply. A handler's
// Content-Length beside a Transfer-Encoding other than identity is logged
// and dropped.
func (w *response) setFraming(hc *headerCommit) {
	code, te := w.status, hc.te
	hasTE := te != ""
	hasCL := w.contentLength != -1
	if hasCL && hasTE && te != "identity" {
		w.c.srv.logError(fmt.Sprintf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.contentLength))
		w.delHeader(hc, "Content-Length")
		hasCL = false
	}

	switch {
	case hc.isHEAD || !bodyAllowedForStatus(code) || code == http.StatusNoContent:
		// Response has no body.
		w.delHeader(hc, "Transfer-Encoding")
	case hasCL:
		// Content-Length has been provided, so no chunking is to be done.
		w.delHeader(hc, "Transfer-Encoding")
	case hasTE && te == "identity":
		// Unframed body: the connection must be closed after it.
		w.chunking = false
		w.closeAfterReply = true
		w.delHeader(hc, "Transfer-Encoding")
	default:
		w.chunking = true
		hc.extra.transferEncoding = "chunked"
		if hasTE && te == "chunked" {
			// We will send the chunked Transfer-Encoding header later.
			w.delHeader(hc, "Transfer-Encoding")
		}
	}
	// Cannot use Content-Length with non-identity Transfer-Encoding.
	if w.chunking {
		w.delHeader(hc, "Content-Length")
	}
}

// sayClose overrides the Connection field with "close" when the connection
// closes after the response, except on a successful protocol switch or
// when the handler already said "close" (and the server is not shutting
// down).
func (w *response) sayClose(hc *headerCommit) {
	if w.closeAfterReply && (!hc.keepAlives || !h1syntax.HasToken(hget(hc.header, "Connection"), "close")) && !isProtocolSwitchResponse(w.status, hc.header) {
		w.delHeader(hc, "Connection")
		hc.extra.connection = "close"
	}
}

// writeCommitted writes the status line, the header, the fields the server
// adds and the blank line to the connection's buffer. It sizes the next
// response's header map for this one's fields: past 8 a map grows into a
// table, which costs more than making one.
func (w *response) writeCommitted(hc *headerCommit) {
	w.c.headerHint = min(len(hc.header), 64)
	bw := w.c.bw
	writeStatusLine(bw, w.status, w.scratch[:0])
	writeHeader(bw, hc.header, w.exclude)
	hc.extra.write(bw)
	bw.Write(crlf)
	clear(w.exclude)
}

func isProtocolSwitchResponse(code int, h http.Header) bool {
	return code == http.StatusSwitchingProtocols && h.Get("Upgrade") != "" &&
		h1syntax.HeaderValuesContainsToken(h["Connection"], "Upgrade")
}
