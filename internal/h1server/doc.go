// Package h1server is an HTTP/1.1 server with a purpose-built fast path for
// the common request shapes and a real net/http.Server for everything else.
//
// # Why
//
// net/http's server spends much of a request's CPU on work that the common
// requests of a gateway do not need: a background-read goroutine started
// for every request, textproto parsing allocations, header-map work and the
// scheduler hand-offs between them. The fast path serves those requests
// without it and leaves every other connection to net/http.
// BenchmarkServeGET compares the two (bench/README.md has the figures
// measured when this package was written).
//
// # Fast path
//
// Each connection is served by one goroutine with a pooled 4 KiB
// bufio.Reader and bufio.Writer. It parses every request head itself and
// serves the request only when all of these hold; otherwise it hands the
// connection off (below), answering only two errors itself: 400 for an
// HTTP/1.0 request with a Transfer-Encoding field, and 431 for a head over
// a MaxHeaderBytes under 4097 (both below):
//
//   - the request line is "METHOD SP origin-form SP HTTP/1.1" with a token
//     method other than CONNECT and a target starting with "/" that
//     url.ParseRequestURI accepts;
//   - every line ends in CRLF (no bare LF), no line is folded (obs-fold),
//     every field is "token: value" with a value net/http accepts;
//   - there is exactly one Host field, valid by net/http's rules; no
//     Transfer-Encoding, Upgrade or Expect field; at most one
//     Content-Length, all digits, fitting an int64;
//   - the head fits in min(MaxHeaderBytes, 4096) bytes.
//
// Lines are checked as they arrive, so a malformed request line is handed
// off (and answered by net/http) without waiting for the rest of the head;
// an HTTP/1.0 head is read to its end first (see below).
//
// A head over MaxHeaderBytes (request line through the empty line that
// ends it) gets 431: the Fallback's own MaxHeaderBytes is set 4096 lower,
// since net/http reads that much more, and for a MaxHeaderBytes under
// 4097, which net/http cannot go down to, the fast path reads a head it
// declines to its end and answers 431 itself when it is too large.
//
// Empty lines (CRLF, or a bare LF) before a request line are skipped, as
// RFC 9112 section 2.2 allows, up to 8 of them before each request: at
// the start of a connection and between requests, before either path
// reads the head, so net/http never sees them. Between requests they
// leave the connection idle (it may park again, and its idle timeout runs
// on); a ninth is read as an empty request line, which net/http answers
// with 400.
//
// The *http.Request built is the one net/http's readRequest builds from the
// same bytes (FuzzParseHead checks this against http.ReadRequest): Method,
// URL, Proto, canonical Header without Host, Pragma: no-cache implying
// Cache-Control, Host, RequestURI, Close, ContentLength, a Body of exactly
// ContentLength bytes (http.NoBody for none), RemoteAddr, and a context
// carrying http.ServerContextKey (the Fallback) and http.LocalAddrContextKey.
// Its strings share one copy of the head, and a typical request's URL and
// header values are one allocation.
//
// The response writer reproduces net/http's response decisions: status
// line, Date, Content-Length computed for handlers that finish within 2 KiB
// and chunking otherwise (or on Flush), Content-Type sniffing, HEAD and
// 1xx/204/304 bodies, trailers (the Trailer header and http.TrailerPrefix),
// CR/LF in values, Connection: close, draining up to 256 KiB of unread
// request body (else closing), and keep-alive rules. TestDifferential runs
// a table of raw requests and handler behaviours through both servers and
// requires byte-identical responses (Date masked) and connection fates.
// When every input of that decision is known at WriteHeader (a valid
// Content-Length or no body allowed, a Content-Type set or a first write of
// at least 512 bytes to sniff, and the request body already consumed) the
// header is written at once, so that no header snapshot is needed; the
// bytes sent are the same (if the handler then panics before net/http
// would have sent anything, the buffered header is dropped).
//
// Deadlines follow net/http: ReadHeaderTimeout from accept for the first
// head; between requests IdleTimeout until the next request's first bytes,
// then ReadHeaderTimeout for the rest of its head; no read deadline while a
// handler runs. Pipelined requests are served in order. A handler panic is
// recovered, logged (except http.ErrAbortHandler) and closes the
// connection.
//
// # Client disconnects
//
// net/http starts a goroutine per request that reads ahead one byte to
// notice a client going away. Here each connection has one timer
// (time.AfterFunc, created once, Reset per request): when a handler has
// run for 50 ms with its request body done (no body, or read to EOF), the
// timer's goroutine starts the same 1-byte background read. A byte read is
// kept for the next request (pipelining); EOF or an error cancels the
// request's context. When the handler returns, the timer is stopped and an
// in-flight read is aborted with a past read deadline and waited for. So a
// disconnect in the first 50 ms of a handler is noticed at 50 ms, and
// handlers that finish sooner cost no goroutine at all. The request's
// context is also cancelled when ServeHTTP returns and when a write to the
// client fails.
//
// # Idle connections
//
// After a response, a keep-alive connection waits for its next request
// with its buffers for up to ParkIdleAfter, so that a busy connection
// reads each request in one system call. Past that it gives the buffers
// back to their pools and, on Linux, is parked: its goroutine ends (with
// the stack it grew serving the last request), and one loop per server
// waits on an epoll set of the parked descriptors, starting a goroutine
// for a connection again when it turns readable (its next request, or
// the peer closing). The loop also closes parked connections past
// IdleTimeout (checked every second), and Shutdown and Close close them.
// With parking off or unavailable, the connection waits on its goroutine
// for its first byte, holding no buffers. bench/idle.sh measures the memory
// of many idle connections.
//
// # Hand-off
//
// A declined connection is given to Fallback through an internal listener,
// wrapped so that its first reads return every byte the fast path had
// buffered (the current head from its first byte, and anything after it)
// and then the live connection. Deadlines are cleared and the pooled
// buffers returned first. This can happen at any request of a connection;
// from then on net/http owns it (smuggling defences, chunked bodies,
// Expect: 100-continue, upgrades and Hijack, HTTP/1.0, 400/431/501
// answers, its own timeouts, and Fallback.Shutdown). A truncated head
// (client EOF) is handed off too, so net/http answers it as before. TLS
// connections (*tls.Conn, from a tls.Listener) are handed off unread at
// accept (the handshake, ALPN and Request.TLS stay net/http's), unless
// HandshakeTLS is set: then the connection's goroutine completes the
// handshake within ReadHeaderTimeout, serves the connection here when
// the client chose HTTP/1.1 or no protocol by ALPN (each request gets
// Request.TLS), and hands it to Fallback with the handshake done
// otherwise (h2, acme-tls/1). A TLS connection handed off later reaches
// net/http wrapped, not as a *tls.Conn, so the Fallback's guard sets
// Request.TLS from it. TLS connections are never parked (the parker
// watches descriptors, and a *tls.Conn may hold decrypted bytes): idle
// past ParkIdleAfter they give their buffers back and wait on their
// goroutine.
//
// # HTTP/1.0 with Transfer-Encoding
//
// net/http ignores (and deletes) a Transfer-Encoding field in an HTTP/1.0
// request and frames the request by its Content-Length; RFC 9112 section
// 6.1 requires a server to treat that framing as faulty, since what
// follows may be body that a sender in front framed differently. Such a
// request is answered 400 (Connection: close) and the connection closed,
// wherever its head is read. A field counts as net/http reads fields: a
// line starting "Transfer-Encoding:" in any case, not one folded into the
// field before it. The fast path reads an HTTP/1.0 head it declines to its
// end, within the bytes it reads a head in (min(MaxHeaderBytes, 4096)),
// and refuses it there, as net/http answers a request it cannot read.
// Every other head net/http reads itself (a longer one, the later
// requests on a connection it owns) goes through the watch of the
// hand-off connection, which follows the bytes net/http reads line by line
// as its header reader does and ends a read at the end of each HTTP/1.0
// head; a guard in front of the Fallback's handler refuses the request if
// the head just read had the field. So that no handler is bypassed, the
// guard also gives net/http's answer to "OPTIONS *" (unless the Fallback
// disables it). TLS connections handed off unread, whose bytes net/http
// reads from the *tls.Conn itself, are not watched.
//
// # Differences from net/http
//
//   - A handed-off connection gets a fresh ReadHeaderTimeout from the
//     hand-off; a head declined mid-way may so take up to twice the
//     timeout in total.
//   - The disconnect watcher starts 50 ms into a handler, not at once.
//   - Empty lines before a request line are skipped (see Fast path);
//     net/http skips up to 4 CR or LF bytes after a POST only, and answers
//     400 otherwise. Empty lines before a request on a connection net/http
//     owns are net/http's business.
//   - Writing to a ResponseWriter after its ServeHTTP returned, which
//     http.ResponseWriter forbids, fails with errWriterDone; it never
//     lands in the next response.
//   - The ResponseWriter does not implement http.Hijacker (upgrades never
//     reach it; http.ResponseController.Hijack reports
//     http.ErrNotSupported) nor the deprecated http.CloseNotifier.
//   - http.MaxBytesReader cannot tell this ResponseWriter that its limit
//     was hit (net/http uses an unexported interface), so the connection
//     closing decision falls back to the 256 KiB drain rule.
//   - Superfluous WriteHeader calls are logged at debug level; panics and
//     misuse go to ErrorLog (slog.Default() when nil) rather than the log
//     package.
//   - MaxHeaderBytes counts exactly the head's bytes (see Fast path), not
//     up to 4096 more as net/http's does. On a connection net/http owns,
//     a later request's head is net/http's to count (see
//     Server.MaxHeaderBytes).
//   - Only ReadHeaderTimeout and IdleTimeout exist on the fast path: a
//     ReadTimeout or WriteTimeout set on Fallback applies to handed-off
//     connections only.
package h1server
