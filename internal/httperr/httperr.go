// Package httperr is the one place where a failure becomes an HTTP status
// and a body. Handlers return or forward typed errors; only Write answers
// the client.
//
// The mapping (DESIGN "Answers the gateway gives itself"):
//
//	ErrNoUpstream, ErrUpstreamDown, connection refused/reset -> 503
//	ErrUpstreamTimeout, net.Error timeouts, deadline exceeded -> 504
//	ErrBadPath, ErrRequestBody                                -> 400
//	ErrMethodNotAllowed                                       -> 405
//	ErrBodyTooLarge, *http.MaxBytesError                      -> 413
//	ErrRateLimited                                            -> 429
//	ErrCircuitOpen                                            -> 503
//	ErrUnauthorized                                           -> 401
//	ErrForbidden                                              -> 403
//	ErrAuthUnavailable                                        -> 503
//	client went away (context.Canceled)                       -> 499, nothing written
//	anything else from the upstream exchange                  -> 502
//
// Bodies are small JSON objects: {"error": "...", "request_id": "..."}.
package httperr

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"syscall"

	"github.com/rgate/rgate/internal/reqid"
)

// Sentinel errors. Wrap them with %w to add detail; Status uses errors.Is.
var (
	// ErrNoUpstream: a route matched but no container or URL serves its backend.
	ErrNoUpstream = errors.New("no upstream available for this backend")
	// ErrUpstreamDown: every upstream tried refused or reset the connection.
	ErrUpstreamDown = errors.New("upstream unavailable")
	// ErrUpstreamTimeout: the route timeout passed before the upstream answered.
	ErrUpstreamTimeout = errors.New("upstream timed out")
	// ErrBadPath: the request path is ambiguous (dot-segments or encoded
	// slashes that would change which route matches).
	ErrBadPath = errors.New("ambiguous request path")
	// ErrRequestBody: the client's request body could not be read as its
	// framing says (a malformed chunk, a body cut short).
	ErrRequestBody = errors.New("malformed request body")
	// ErrMethodNotAllowed: the route does not serve the request's method.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrBodyTooLarge: the request body is over the route's max_body_bytes.
	ErrBodyTooLarge = errors.New("request body too large")
	// ErrRateLimited: the client used up its rate limit.
	ErrRateLimited = errors.New("rate limit exceeded")
	// ErrCircuitOpen: the backend's circuit breaker is open.
	ErrCircuitOpen = errors.New("circuit breaker open")
	// ErrUnauthorized: the route's auth found no valid credential.
	ErrUnauthorized = errors.New("authentication required")
	// ErrForbidden: the caller authenticated but the route does not allow it.
	ErrForbidden = errors.New("consumer not allowed on this route")
	// ErrAuthUnavailable: the forward auth service failed or timed out.
	ErrAuthUnavailable = errors.New("authentication service unavailable")
)

// StatusClientClosed is the de facto status (nginx's 499) for a request whose
// client went away before the answer; it is counted, never written.
const StatusClientClosed = 499

// Status maps err to the HTTP status the gateway answers with.
func Status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrBadPath), errors.Is(err, ErrRequestBody):
		return http.StatusBadRequest
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrNoUpstream), errors.Is(err, ErrUpstreamDown), errors.Is(err, ErrCircuitOpen),
		errors.Is(err, ErrAuthUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrUpstreamTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return StatusClientClosed
	case IsConnectError(err):
		return http.StatusServiceUnavailable
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// Message is the short text put in an error body for err's status.
func Message(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad request path"
	case http.StatusMethodNotAllowed:
		return "method not allowed"
	case http.StatusServiceUnavailable:
		return "service unavailable"
	case http.StatusGatewayTimeout:
		return "gateway timeout"
	case http.StatusBadGateway:
		return "bad gateway"
	case http.StatusRequestEntityTooLarge:
		return "request body too large"
	case http.StatusTooManyRequests:
		return "rate limit exceeded"
	case http.StatusUnauthorized:
		return "authentication required"
	case http.StatusForbidden:
		return "forbidden"
	}
	return http.StatusText(status)
}

// IsConnectError reports whether err means the request never reached an
// upstream process: the dial failed, or the connection was refused or reset
// before an answer. Such a request may safely go to another upstream.
func IsConnectError(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		return true
	}
	return false
}

// Write answers the client of r for err. A 499 writes nothing (nobody is
// listening). The request id goes into the body so a user can quote it; a
// gRPC call gets the same refusal in gRPC's form instead (see IsGRPC).
func Write(w http.ResponseWriter, r *http.Request, err error) int {
	status := Status(err)
	if status == StatusClientClosed {
		return status
	}
	msg := Message(status)
	if errors.Is(err, ErrRequestBody) {
		msg = ErrRequestBody.Error()
	}
	if IsGRPC(r) {
		writeGRPC(w, status, msg)
		return status
	}
	writeBody(w, status, msg, r.Header.Get(reqid.Header))
	return status
}

// Abort ends the request being served without finishing its answer: the
// server closes the connection (http.ErrAbortHandler). It is how the
// gateway answers a client that left, and cuts off an answer whose body
// failed halfway. Called without a server (a handler under test) it
// returns.
func Abort(r *http.Request) {
	if r.Context().Value(http.ServerContextKey) != nil {
		panic(http.ErrAbortHandler)
	}
}

// WriteStatus writes a gateway-made JSON error body with the given status.
func WriteStatus(w http.ResponseWriter, status int, requestID string) {
	writeBody(w, status, Message(status), requestID)
}

func writeBody(w http.ResponseWriter, status int, msg, requestID string) {
	b := make([]byte, 0, 96)
	b = append(b, `{"error":`...)
	b = strconv.AppendQuote(b, msg)
	b = append(b, `,"request_id":`...)
	b = strconv.AppendQuote(b, requestID)
	b = append(b, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
