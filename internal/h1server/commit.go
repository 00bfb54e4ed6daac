package h1server

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

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

// delHeader removes key from the header being written, without touching a
// map the handler still owns.
func (w *response) delHeader(header http.Header, owned bool, key string) {
	if owned {
		header.Del(key)
		return
	}
	if _, ok := header[key]; !ok {
		return
	}
	if w.exclude == nil {
		w.exclude = make(map[string]bool)
	}
	w.exclude[key] = true
}

// commitHeader is net/http's chunkWriter.writeHeader: it finalizes the
// response header and writes it to the connection's buffer. p is the first
// chunk of the body (sniffed for a Content-Type, and its length used as the
// Content-Length when the handler is done).
func (w *response) commitHeader(p []byte) {
	if w.hdrWritten {
		return
	}
	w.hdrWritten = true

	keepAlivesEnabled := !w.c.srv.shuttingDown()
	isHEAD := w.req.Method == "HEAD"

	header := w.snapshot
	owned := header != nil
	if !owned {
		header = w.handlerHeader
	}
	var setHeader extraHeader

	// Don't write out the fake "Trailer:foo" keys. See http.TrailerPrefix.
	trailers := false
	for k := range header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			if w.exclude == nil {
				w.exclude = make(map[string]bool)
			}
			w.exclude[k] = true
			trailers = true
		}
	}
	for _, v := range header["Trailer"] {
		trailers = true
		foreachHeaderElement(v, w.declareTrailer)
	}

	te := hget(header, "Transfer-Encoding")
	hasTE := te != ""

	// A handler that is done, never set a Content-Length and wrote less
	// than the buffer gets one (not for HEAD with no body written).
	if w.handlerDone && !trailers && !hasTE && bodyAllowedForStatus(w.status) && !hhas(header, "Content-Length") && (!isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		setHeader.contentLength = strconv.AppendInt(w.clenBuf[:0], int64(len(p)), 10)
	}

	hasCL := w.contentLength != -1

	if w.wantsClose {
		w.closeAfterReply = true
	}
	if hget(header, "Connection") == "close" || !keepAlivesEnabled {
		w.closeAfterReply = true
	}

	// Consume the rest of the request body before writing the response,
	// unless closing or full duplex: up to maxPostHandlerReadBytes, or
	// give up on the connection.
	if w.req.ContentLength != 0 && !w.closeAfterReply && !w.fullDuplex {
		var discard, tooBig bool
		switch bdy := w.req.Body.(type) {
		case *body:
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
		default:
			discard = true
		}
		if discard {
			_, err := io.CopyN(io.Discard, w.reqBody, maxPostHandlerReadBytes+1)
			switch err {
			case nil:
				// There must be even more data left over.
				tooBig = true
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
		}
		if tooBig {
			w.closeAfterReply = true
			w.requestBodyLimitHit = true
			w.delHeader(header, owned, "Connection")
			setHeader.connection = "close"
		}
	}

	code := w.status
	if bodyAllowedForStatus(code) {
		// If no content type, apply sniffing algorithm to body.
		_, haveType := header["Content-Type"]
		// Not when a Content-Encoding is set (net/http issue 31753).
		hasCE := header.Get("Content-Encoding") != ""
		if !hasCE && !haveType && !hasTE && len(p) > 0 {
			setHeader.contentType = http.DetectContentType(p)
		}
	} else {
		sup := suppressedNoBody
		if code == 304 {
			sup = suppressed304
		}
		for _, k := range sup {
			w.delHeader(header, owned, k)
		}
	}

	if !hhas(header, "Date") {
		setHeader.date = currentDate()
	}

	if hasCL && hasTE && te != "identity" {
		w.c.srv.logError(fmt.Sprintf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.contentLength))
		w.delHeader(header, owned, "Content-Length")
		hasCL = false
	}

	switch {
	case isHEAD || !bodyAllowedForStatus(code) || code == http.StatusNoContent:
		// Response has no body.
		w.delHeader(header, owned, "Transfer-Encoding")
	case hasCL:
		// Content-Length has been provided, so no chunking is to be done.
		w.delHeader(header, owned, "Transfer-Encoding")
	case hasTE && te == "identity":
		// Unframed body: the connection must be closed after it.
		w.chunking = false
		w.closeAfterReply = true
		w.delHeader(header, owned, "Transfer-Encoding")
	default:
		w.chunking = true
		setHeader.transferEncoding = "chunked"
		if hasTE && te == "chunked" {
			// We will send the chunked Transfer-Encoding header later.
			w.delHeader(header, owned, "Transfer-Encoding")
		}
	}
	// Cannot use Content-Length with non-identity Transfer-Encoding.
	if w.chunking {
		w.delHeader(header, owned, "Content-Length")
	}

	// Override the Connection header when closing, except on a successful
	// protocol switch or when the handler already said "close".
	if w.closeAfterReply && (!keepAlivesEnabled || !h1syntax.HasToken(hget(header, "Connection"), "close")) && !isProtocolSwitchResponse(code, header) {
		w.delHeader(header, owned, "Connection")
		setHeader.connection = "close"
	}

	// Size the next response's header map for this one's fields: past 8
	// a map grows into a table, which costs more than making one.
	w.c.headerHint = min(len(header), 64)
	bw := w.c.bw
	writeStatusLine(bw, code, w.scratch[:0])
	writeHeader(bw, header, w.exclude)
	setHeader.write(bw)
	bw.Write(crlf)
	clear(w.exclude)
}

func isProtocolSwitchResponse(code int, h http.Header) bool {
	return code == http.StatusSwitchingProtocols && h.Get("Upgrade") != "" &&
		h1syntax.HeaderValuesContainsToken(h["Connection"], "Upgrade")
}
