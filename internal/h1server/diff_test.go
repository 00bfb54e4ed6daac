package h1server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The differential tests send the same raw bytes to a plain net/http.Server
// and to an h1server.Server running the same handler, and require the raw
// response streams (Date values masked) to be identical, including whether
// the server closed the connection, and the handler's observations (errors
// returned by Write, context values) to match.

const diffMaxHeaderBytes = 8192

// recorder collects what the handler observed, per client connection.
type recorder struct {
	mu   sync.Mutex
	ev   map[string][]string
	path map[string]string // per connection: "F" per fast-path request, "N" per net/http one
}

func (rec *recorder) served(r *http.Request, w http.ResponseWriter) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.path == nil {
		rec.path = make(map[string]string)
	}
	if _, ok := w.(*response); ok {
		rec.path[r.RemoteAddr] += "F"
	} else {
		rec.path[r.RemoteAddr] += "N"
	}
}

func (rec *recorder) paths(addr string) string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.path[addr]
}

var addrRE = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)

func (rec *recorder) add(r *http.Request, s string) {
	s = addrRE.ReplaceAllString(s, "ADDR")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.ev == nil {
		rec.ev = make(map[string][]string)
	}
	rec.ev[r.RemoteAddr] = append(rec.ev[r.RemoteAddr], s)
}

// forget drops what was recorded for addr (a client port can be reused).
func (rec *recorder) forget(addr string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	delete(rec.ev, addr)
	delete(rec.path, addr)
}

func (rec *recorder) get(addr string) []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.ev[addr]
}

// describe renders everything the handler can see of the request.
func describe(r *http.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "method=%q uri=%q url=%q path=%q rawpath=%q query=%q host=%q proto=%q %d.%d\n",
		r.Method, r.RequestURI, r.URL.String(), r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Host, r.Proto, r.ProtoMajor, r.ProtoMinor)
	fmt.Fprintf(&b, "cl=%d close=%v te=%q nobody=%v trailer=%v urlhost=%q\n",
		r.ContentLength, r.Close, r.TransferEncoding, r.Body == http.NoBody, r.Trailer, r.URL.Host)
	_, srvOK := r.Context().Value(http.ServerContextKey).(*http.Server)
	_, laOK := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	fmt.Fprintf(&b, "ctx server=%v localaddr=%v remote=%v\n", srvOK, laOK, r.RemoteAddr != "")
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %q\n", k, r.Header[k])
	}
	return b.String()
}

func diffHandler(rec *recorder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note := func(format string, args ...any) { rec.add(r, fmt.Sprintf(format, args...)) }
		rec.served(r, w)
		note("request %s", describe(r))
		mode, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		readBody := func() []byte {
			b, err := io.ReadAll(r.Body)
			note("body %d %q err=%v", len(b), b, err)
			return b
		}
		write := func(s string) {
			n, err := io.WriteString(w, s)
			note("write %d %v", n, err)
		}
		switch mode {
		case "echo":
			b := readBody()
			write(describe(r))
			write(string(b))
		case "big": // no Content-Length, > 2 KiB: chunked
			readBody()
			write(describe(r))
			write(strings.Repeat("0123456789abcdef", 300))
		case "cl":
			b := readBody()
			s := describe(r) + string(b)
			w.Header().Set("Content-Length", strconv.Itoa(len(s)))
			w.Header().Set("Content-Type", "text/plain")
			write(s)
		case "clsniff": // Content-Length, no Content-Type, first write >= 512
			s := "<html><body>" + strings.Repeat("x", 700)
			w.Header().Set("Content-Length", strconv.Itoa(len(s)))
			write(s)
		case "clsniffsmall": // Content-Length, no Content-Type, small writes
			w.Header().Set("Content-Length", "30")
			write("<html><body>")
			write("hello, world!!!!!!")
		case "short": // declares more than it writes
			w.Header().Set("Content-Length", "100")
			write("only ten b")
		case "over": // writes more than it declares
			w.Header().Set("Content-Length", "5")
			write("hello")
			write("world")
		case "noread": // ignores the request body
			write("ignored your body\n")
		case "readsome":
			buf := make([]byte, 10)
			n, err := io.ReadFull(r.Body, buf)
			note("readsome %d %v", n, err)
			note("close %v", r.Body.Close())
			write("read some\n")
		case "status":
			code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
			w.Header().Set("X-Code", strconv.Itoa(code))
			w.Header().Set("Content-Length", "0")
			w.Header().Set("Content-Type", "text/weird")
			w.WriteHeader(code)
			write("body?")
		case "nocontent":
			w.WriteHeader(http.StatusNoContent)
			write("nope")
		case "notmodified":
			w.Header().Set("Etag", `"x"`)
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotModified)
		case "early": // 103 then 200
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.Header().Set("Content-Length", "5") // not sent on the 1xx
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Content-Length")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusOK)
			write("final")
		case "trailer":
			w.Header().Set("Trailer", "X-Sum, X-Other, Content-Type")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			write("body part 1\n")
			w.Header().Set("X-Sum", "42")
			w.Header().Set(http.TrailerPrefix+"X-Late", "late")
			write("body part 2\n")
		case "flush":
			write("before flush\n")
			w.(http.Flusher).Flush()
			write("after flush\n")
		case "flushcl":
			w.Header().Set("Content-Length", "11")
			write("hello")
			err := http.NewResponseController(w).Flush()
			note("flush %v", err)
			write(" world")
		case "sniff":
			write("<!DOCTYPE html><html>hi</html>")
		case "sniffbin":
			write("\x00\x01\x02binary")
		case "ctempty": // Content-Type key present and empty: no sniffing
			w.Header()["Content-Type"] = nil
			write("<html>not sniffed</html>")
		case "crlf":
			w.Header().Set("X-Injected", "a\r\nX-Evil: 1")
			w.Header().Set("X-Lf", "b\nc")
			w.Header()["Bad Key"] = []string{"v"}
			w.Header().Set("X-Spaces", "  padded  ")
			write("ok")
		case "connclose":
			w.Header().Set("Connection", "close")
			write("bye")
		case "keepaliveclose":
			w.Header().Set("Connection", "keep-alive, close")
			write("bye?")
		case "retain": // header map retained past WriteHeader
			h := w.Header()
			h.Set("X-Before", "1")
			w.WriteHeader(http.StatusAccepted)
			h.Set("X-After", "1")
			w.Header().Set("X-After2", "1")
			write("retained")
		case "retaincl":
			h := w.Header()
			h.Set("Content-Length", "8")
			h.Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusAccepted)
			h.Set("X-After", "1")
			write("retained")
		case "superfluous":
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusTeapot)
			write("created")
		case "badcl":
			w.Header().Set("Content-Length", "abc")
			write("bad content length")
		case "teidentity":
			w.Header().Set("Transfer-Encoding", "identity")
			write("until close")
		case "techunked":
			w.Header().Set("Transfer-Encoding", "chunked")
			write("explicit chunked")
		case "cltegzip":
			w.Header().Set("Transfer-Encoding", "gzip")
			w.Header().Set("Content-Length", "3")
			write("abc")
		case "ce": // Content-Encoding set: no sniffing
			w.Header().Set("Content-Encoding", "gzip")
			write("\x1f\x8b not really")
		case "empty": // nothing at all
		case "head":
			if r.URL.Query().Get("cl") != "" {
				w.Header().Set("Content-Length", r.URL.Query().Get("cl"))
			}
			if r.URL.Query().Get("write") != "" {
				write(r.URL.Query().Get("write"))
			}
		case "panic":
			if r.URL.Query().Get("flush") != "" {
				write("partial")
				w.(http.Flusher).Flush()
			}
			panic("boom")
		case "abort":
			panic(http.ErrAbortHandler)
		case "panicaftercl": // header decided at WriteHeader, then a panic
			w.Header().Set("Content-Length", "10")
			w.Header().Set("Content-Type", "text/plain")
			write("hello")
			panic("boom")
		case "panicafter204":
			w.WriteHeader(http.StatusNoContent)
			panic("boom")
		case "panicafterbigcl":
			w.Header().Set("Content-Length", "9000")
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(strings.Repeat("p", 1000)))
			w.Write([]byte(strings.Repeat("q", 3000)))
			io.WriteString(w, strings.Repeat("r", 3000))
			w.Write([]byte(strings.Repeat("s", 100)))
			panic("boom")
		case "echowh": // reads the body after WriteHeader, no Content-Length
			w.WriteHeader(http.StatusOK)
			n, err := io.Copy(w, r.Body)
			note("copy %d %v", n, err)
		case "echowhcl":
			w.Header().Set("Content-Length", r.Header.Get("Content-Length"))
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(http.StatusOK)
			n, err := io.Copy(w, r.Body)
			note("copy %d %v", n, err)
		case "readpart":
			buf := make([]byte, 10)
			n, err := io.ReadFull(r.Body, buf)
			note("readpart %d %v", n, err)
			write("read part\n")
		case "trailerprefix":
			write("body")
			w.Header().Set(http.TrailerPrefix+"X-Only", "v")
		case "servecontent":
			content := strings.Repeat("0123456789", 500)
			if r.URL.Query().Get("small") != "" {
				content = "<html>small</html>"
			}
			http.ServeContent(w, r, "file.txt", time.Unix(1e9, 0), strings.NewReader(content))
		case "copy": // io.Copy from a reader without WriteTo: ReadFrom
			n, err := io.Copy(w, io.LimitReader(strings.NewReader(strings.Repeat("<p>copy</p>", 600)), 6000))
			note("copy %d %v", n, err)
		case "copysmall":
			n, err := io.Copy(w, io.LimitReader(strings.NewReader("<p>small</p>"), 100))
			note("copy %d %v", n, err)
		case "flushonly":
			w.(http.Flusher).Flush()
		case "writestring":
			io.WriteString(w, strings.Repeat("<p>", 200))
		case "bigwrite":
			w.Header().Set("Content-Type", "application/octet-stream")
			write(strings.Repeat("z", 10000))
		case "status999":
			w.WriteHeader(999)
			write("x")
		default:
			http.NotFound(w, r)
		}
	})
}

type diffCase struct {
	name string
	req  string // raw bytes sent
	// closeWrite half-closes the client side after sending.
	closeWrite bool
	// path, if set, is which server served each request on the
	// h1server side: F for the fast path, N for the fallback.
	path string
}

func get(path string, extra ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: example.com\r\n" + strings.Join(extra, "") + "\r\n"
}

func post(path, body string, extra ...string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: example.com\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n" + strings.Join(extra, "") + "\r\n" + body
}

func diffCases() []diffCase {
	typical := "User-Agent: test/1.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nX-Request-Id: abc\r\nCookie: a=b\r\n"
	return []diffCase{
		{name: "get", path: "F", req: get("/echo", typical)},
		{name: "get-lower-names", path: "F", req: "GET /echo HTTP/1.1\r\nhost: example.com\r\nuser-agent: x\r\nx-MIXED-case: y\r\ncontent-type: text/plain\r\n\r\n"},
		{name: "head", path: "F", req: "HEAD /echo HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "head-cl", req: "HEAD /head?cl=42 HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "head-write", req: "HEAD /head?write=hello HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "head-cl-write", req: "HEAD /head?cl=5&write=hello HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "head-nothing", req: "HEAD /head HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "head-big", req: "HEAD /big HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "post", path: "F", req: post("/echo", "hello body")},
		{name: "post-cl", path: "F", req: post("/cl", "hello body")},
		{name: "post-zero", req: post("/echo", "")},
		{name: "get-with-body", req: "GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "pipelined", path: "FFFFF", req: get("/echo") + post("/echo", "first body") + get("/cl") + "HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\n" + get("/big")},
		{name: "pipelined-noread", path: "FF", req: post("/noread", "unread body") + get("/echo")},
		{name: "percent-path", path: "F", req: get("/echo/a%20b%2Fc/%7e?x=1&y=%20z")},
		{name: "query", req: get("/echo?a=1&b=2&a=3")},
		{name: "force-query", req: get("/echo?")},
		{name: "odd-path", req: get("/echo//double/./dot/../x;param!$&'()*+,=:@")},
		{name: "nonascii-path", req: get("/echo/\xc3\xa9t\xc3\xa9")},
		{name: "bad-escape", req: get("/echo/%zz")},
		{name: "bad-escape-query", req: get("/echo?q=%zz")},
		{name: "dup-headers", path: "F", req: get("/echo", "X-A: 1\r\nx-a: 2\r\nX-A: 3\r\nAccept: a\r\n")},
		{name: "ows", req: get("/echo", "X-Pad: \t padded value \t \r\nX-Empty:\r\nX-Empty2:   \r\n")},
		{name: "obs-text", req: get("/echo", "X-Latin: caf\xe9\r\n")},
		{name: "pragma", path: "F", req: get("/echo", "Pragma: no-cache\r\n")},
		{name: "pragma-cc", req: get("/echo", "Pragma: no-cache\r\nCache-Control: max-age=1\r\n")},
		{name: "big-headers-fast", path: "F", req: get("/echo", "X-Big: "+strings.Repeat("b", 3000)+"\r\n")},
		{name: "big-headers-fallback", path: "N", req: get("/echo", "X-Big: "+strings.Repeat("b", 6000)+"\r\n")},
		{name: "headers-too-large", path: "", req: get("/echo", "X-Big: "+strings.Repeat("b", 20000)+"\r\n")},
		{name: "head-fast-limit", path: "F", req: sizedHead("GET /echo HTTP/1.1\r\nHost: x\r\n", readBufSize)},
		{name: "head-over-fast-limit", path: "N", req: sizedHead("GET /echo HTTP/1.1\r\nHost: x\r\n", readBufSize+1)},
		{name: "head-at-limit", path: "N", req: sizedHead("GET /echo HTTP/1.1\r\nHost: x\r\n", diffMaxHeaderBytes)},
		{name: "head-over-limit", req: sizedHead("GET /echo HTTP/1.1\r\nHost: x\r\n", diffMaxHeaderBytes+1)},
		// A head over the limit after a request: net/http does not count
		// what of it came in with the request before, and takes it; here
		// it gets 431 (TestMaxHeaderBytesExact).
		{name: "many-headers", path: "F", req: get("/echo", strings.Repeat("X-Many: v\r\n", 100))},
		{name: "cl-and-te", path: "N", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{name: "te-chunked", path: "NN", req: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get("/echo")},
		{name: "te-gzip", req: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{name: "double-cl-same", path: "N", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "double-cl-differ", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
		{name: "bad-cl", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"},
		{name: "neg-cl", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
		{name: "plus-cl", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc"},
		{name: "empty-cl", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n"},
		{name: "leading-zero-cl", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 003\r\n\r\nabc"},
		{name: "huge-cl", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"},
		{name: "obs-fold", path: "N", req: "GET /echo HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n  b\r\n\r\n"},
		{name: "leading-space-header", req: "GET /echo HTTP/1.1\r\n Host: x\r\n\r\n"},
		{name: "bare-lf", path: "N", req: "GET /echo HTTP/1.1\nHost: x\nX-A: b\n\n"},
		{name: "bare-lf-mixed", path: "N", req: "GET /echo HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n"},
		{name: "bare-cr", req: "GET /echo HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n"},
		{name: "missing-host", path: "", req: "GET /echo HTTP/1.1\r\nX-A: b\r\n\r\n"},
		{name: "two-hosts", path: "", req: "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		{name: "bad-host", req: "GET /echo HTTP/1.1\r\nHost: a b\r\n\r\n"},
		{name: "bad-host2", req: "GET /echo HTTP/1.1\r\nHost: a/b\r\n\r\n"},
		{name: "empty-host", req: "GET /echo HTTP/1.1\r\nHost:\r\n\r\n"},
		{name: "ipv6-host", req: "GET /echo HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
		{name: "absolute-form", path: "N", req: "GET http://example.org/echo?x=1 HTTP/1.1\r\nHost: ignored\r\n\r\n"},
		{name: "asterisk-options", req: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "connect", req: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"},
		{name: "http10", path: "N", req: "GET /echo HTTP/1.0\r\nHost: x\r\n\r\n"},
		{name: "http10-keepalive", path: "NN", req: "GET /cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + "GET /cl HTTP/1.0\r\n\r\n"},
		{name: "http2-preface", req: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
		{name: "http12", req: "GET /echo HTTP/1.2\r\nHost: x\r\n\r\n"},
		{name: "lower-proto", req: "GET /echo http/1.1\r\nHost: x\r\n\r\n"},
		{name: "expect-continue", path: "N", req: "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "expect-other", req: "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "upgrade", path: "N", req: "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
		{name: "invalid-header-byte", req: "GET /echo HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n"},
		{name: "invalid-header-del", req: "GET /echo HTTP/1.1\r\nHost: x\r\nX-Bad: a\x7fb\r\n\r\n"},
		{name: "invalid-header-name", req: "GET /echo HTTP/1.1\r\nHost: x\r\nX(Bad): a\r\n\r\n"},
		{name: "space-before-colon", req: "GET /echo HTTP/1.1\r\nHost : x\r\n\r\n"},
		{name: "no-colon", req: "GET /echo HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"},
		{name: "empty-name", req: "GET /echo HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n"},
		{name: "nul-in-path", req: "GET /echo\x00 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "double-space", req: "GET  /echo HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "trailing-space", req: "GET /echo HTTP/1.1 \r\nHost: x\r\n\r\n"},
		{name: "lower-method", req: "get /echo HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "custom-method", req: "PURGE /echo HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "bad-method", req: "G(T /echo HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "garbage", req: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"},
		// Empty lines before a request line are skipped here and answered
		// 400 by net/http (which skips up to 4 CR/LF bytes after a POST
		// only): TestEmptyLinesBeforeRequest, not this table. Likewise an
		// HTTP/1.0 request with a Transfer-Encoding field, refused here and
		// served by net/http: TestHTTP10TransferEncoding.
		{name: "crlf-after-post", path: "FF", req: post("/echo", "abc") + "\r\n" + get("/echo")},
		{name: "conn-close", path: "F", req: get("/echo", "Connection: close\r\n") + get("/echo")},
		{name: "conn-close-token", req: get("/echo", "Connection: keep-alive, Close\r\n") + get("/echo")},
		{name: "conn-close-second", req: get("/echo", "Connection: keep-alive\r\nConnection: close\r\n") + get("/echo")},
		{name: "truncated-head", req: "GET /echo HTTP/1.1\r\nHost: x\r\nX-A: b\r\n", closeWrite: true},
		{name: "truncated-line", req: "GET /echo HTT", closeWrite: true},
		{name: "truncated-body", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", closeWrite: true},
		{name: "empty-conn", req: "", closeWrite: true},
		{name: "half-close-after-request", req: get("/echo"), closeWrite: true},
		{name: "handoff-mid-connection", path: "FFNN", req: get("/echo") + post("/cl", "fast body") + "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + get("/echo")},
		{name: "handoff-after-head", path: "FN", req: "HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\n" + "GET /echo HTTP/1.0\r\n\r\n"},
		{name: "unread-big-body", path: "F", req: post("/noread", strings.Repeat("u", 300<<10)) + get("/echo")},
		{name: "unread-256k-body", req: post("/noread", strings.Repeat("u", 256<<10)) + get("/echo")},
		{name: "unread-medium-body", path: "FF", req: post("/noread", strings.Repeat("u", 100<<10)) + get("/echo")},
		{name: "readsome-close", req: post("/readsome", strings.Repeat("r", 1000)) + get("/echo")},
		{name: "readsome-close-big", req: post("/readsome", strings.Repeat("r", 300<<10)) + get("/echo")},
		{name: "resp-big", path: "FF", req: get("/big") + get("/big")},
		{name: "resp-cl", path: "FF", req: get("/cl") + get("/cl")},
		{name: "resp-clsniff", path: "FF", req: get("/clsniff") + get("/clsniff")},
		{name: "resp-clsniff-small", req: get("/clsniffsmall") + get("/echo")},
		{name: "resp-short", req: get("/short") + get("/echo")},
		{name: "resp-over", req: get("/over") + get("/echo")},
		{name: "resp-204", req: get("/nocontent") + get("/echo")},
		{name: "resp-304", req: get("/notmodified") + get("/echo")},
		{name: "resp-status-204", req: get("/status/204") + get("/echo")},
		{name: "resp-status-304", req: get("/status/304") + get("/echo")},
		{name: "resp-status-404", req: get("/status/404") + get("/echo")},
		{name: "resp-status-599", req: get("/status/599") + get("/echo")},
		{name: "resp-status-101", req: get("/status/101") + get("/echo")},
		{name: "resp-status-999", req: get("/status999") + get("/echo")},
		{name: "resp-103", path: "FF", req: get("/early") + get("/echo")},
		{name: "resp-trailer", path: "FF", req: get("/trailer") + get("/echo")},
		{name: "resp-flush", req: get("/flush") + get("/echo")},
		{name: "resp-flushcl", req: get("/flushcl") + get("/echo")},
		{name: "resp-sniff", req: get("/sniff") + get("/sniffbin")},
		{name: "resp-ctempty", req: get("/ctempty")},
		{name: "resp-crlf", req: get("/crlf") + get("/echo")},
		{name: "resp-connclose", req: get("/connclose") + get("/echo")},
		{name: "resp-keepaliveclose", req: get("/keepaliveclose") + get("/echo")},
		{name: "resp-retain", req: get("/retain") + get("/retaincl")},
		{name: "resp-superfluous", req: get("/superfluous")},
		{name: "resp-badcl", req: get("/badcl") + get("/echo")},
		{name: "resp-teidentity", req: get("/teidentity") + get("/echo")},
		{name: "resp-techunked", req: get("/techunked") + get("/echo")},
		{name: "resp-cltegzip", req: get("/cltegzip") + get("/echo")},
		{name: "resp-ce", req: get("/ce")},
		{name: "resp-empty", req: get("/empty") + get("/empty")},
		{name: "resp-notfound", req: get("/nope")},
		{name: "resp-panic", req: get("/panic") + get("/echo")},
		{name: "resp-panic-flushed", req: get("/panic?flush=1") + get("/echo")},
		{name: "resp-abort", req: get("/abort") + get("/echo")},
		{name: "resp-writestring", req: get("/writestring")},
		{name: "resp-bigwrite", req: get("/bigwrite") + get("/bigwrite")},
		{name: "resp-panicaftercl", req: get("/panicaftercl") + get("/echo")},
		{name: "resp-panicafter204", req: get("/panicafter204") + get("/echo")},
		{name: "resp-panicafterbigcl", req: get("/panicafterbigcl") + get("/echo")},
		{name: "echowh-small", req: post("/echowh", strings.Repeat("s", 1000)) + get("/echo")},
		{name: "echowh-big", req: post("/echowh", strings.Repeat("b", 5000)) + get("/echo")},
		{name: "echowhcl-small", req: post("/echowhcl", strings.Repeat("s", 1000)) + get("/echo")},
		{name: "echowhcl-big", req: post("/echowhcl", strings.Repeat("b", 5000)) + get("/echo")},
		{name: "readpart", req: post("/readpart", strings.Repeat("r", 1000)) + get("/echo")},
		{name: "readpart-big", req: post("/readpart", strings.Repeat("r", 300<<10)) + get("/echo")},
		{name: "noread-close", req: post("/noread", "body", "Connection: close\r\n") + get("/echo")},
		{name: "resp-trailerprefix", req: get("/trailerprefix") + get("/echo")},
		{name: "resp-flushonly", req: get("/flushonly") + "HEAD /flushonly HTTP/1.1\r\nHost: x\r\n\r\n" + get("/echo")},
		{name: "servecontent", req: get("/servecontent") + get("/servecontent", "Range: bytes=10-99\r\n") +
			get("/servecontent", "If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT\r\n") +
			"HEAD /servecontent HTTP/1.1\r\nHost: x\r\n\r\n" + get("/servecontent?small=1")},
		{name: "copy", req: get("/copy") + get("/copysmall") + "HEAD /copy HTTP/1.1\r\nHost: x\r\n\r\n" + get("/echo")},
		{name: "post-big-echo", req: post("/echo", strings.Repeat("e", 20000)) + get("/echo")},
	}
}

var dateRE = regexp.MustCompile(`(?m)^Date: [^\r]*\r$`)

// roundTrip sends c.req on a new connection to addr and returns everything
// the server sent, with Date values masked, followed by how the stream
// ended.
func roundTrip(t *testing.T, addr string, rec *recorder, c diffCase, silence time.Duration) (out string, local string) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Errorf("%s: dial: %v", c.name, err)
		return "", ""
	}
	defer conn.Close()
	local = conn.LocalAddr().String()
	rec.forget(local)
	go func() {
		io.WriteString(conn, c.req)
		if c.closeWrite {
			conn.(*net.TCPConn).CloseWrite()
		}
	}()
	var buf bytes.Buffer
	tmp := make([]byte, 64<<10)
	end := ""
	for {
		// An open connection is one that stays silent this long.
		conn.SetReadDeadline(time.Now().Add(silence))
		n, err := conn.Read(tmp)
		buf.Write(tmp[:n])
		if err != nil {
			var ne net.Error
			switch {
			case err == io.EOF:
				end = "[closed]"
			case asNetErr(err, &ne) && ne.Timeout():
				end = "[open]"
			default:
				end = "[reset]"
			}
			break
		}
	}
	return dateRE.ReplaceAllString(buf.String(), "Date: <date>\r") + end, local
}

func asNetErr(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}

func TestDifferential(t *testing.T) {
	stdRec, fastRec := new(recorder), new(recorder)
	const rht, idle = 5 * time.Second, 5 * time.Second
	// net/http configured as h1server configures its Fallback, so that
	// both take heads of up to diffMaxHeaderBytes bytes.
	stdAddr := startStd(t, diffHandler(stdRec), rht, idle, diffMaxHeaderBytes-netHTTPHeadSlack)
	fast := &Server{Handler: diffHandler(fastRec), ReadHeaderTimeout: rht, IdleTimeout: idle, MaxHeaderBytes: diffMaxHeaderBytes,
		ErrorLog: discardLogger()}
	fastAddr := startServer(t, fast)

	cases := diffCases()
	type result struct {
		std, fast           string
		stdLocal, fastLocal string
	}
	results := make([]result, len(cases))
	var wg sync.WaitGroup
	sem := make(chan struct{}, len(cases))
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var r result
			var inner sync.WaitGroup
			inner.Add(2)
			go func() {
				defer inner.Done()
				r.std, r.stdLocal = roundTrip(t, stdAddr, stdRec, c, 1500*time.Millisecond)
			}()
			go func() {
				defer inner.Done()
				r.fast, r.fastLocal = roundTrip(t, fastAddr, fastRec, c, 1500*time.Millisecond)
			}()
			inner.Wait()
			results[i] = r
		}()
	}
	wg.Wait()

	// "Open" means silent for a while, which a loaded machine can fake:
	// retry differing cases alone, with more patience.
	for i, c := range cases {
		for try := 0; try < 2 && results[i].std != results[i].fast; try++ {
			t.Logf("%s: retrying", c.name)
			var r result
			var inner sync.WaitGroup
			inner.Add(2)
			go func() { defer inner.Done(); r.std, r.stdLocal = roundTrip(t, stdAddr, stdRec, c, 3*time.Second) }()
			go func() { defer inner.Done(); r.fast, r.fastLocal = roundTrip(t, fastAddr, fastRec, c, 3*time.Second) }()
			inner.Wait()
			results[i] = r
		}
	}

	for i, c := range cases {
		r := results[i]
		t.Run(c.name, func(t *testing.T) {
			if r.std != r.fast {
				t.Errorf("responses differ\nnet/http:\n%s\nh1server:\n%s", quoteLines(r.std), quoteLines(r.fast))
			}
			se, fe := stdRec.get(r.stdLocal), fastRec.get(r.fastLocal)
			if got := fastRec.paths(r.fastLocal); c.path != "" && got != c.path {
				t.Errorf("served by %q, want %q (F: fast path, N: fallback)", got, c.path)
			}
			if !slices.Equal(se, fe) {
				t.Errorf("handler observations differ\nnet/http:\n%s\nh1server:\n%s", strings.Join(se, "\n"), strings.Join(fe, "\n"))
			}
		})
	}
}

// squeezeRuns abbreviates runs of one byte longer than 40.
func squeezeRuns(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == s[i] {
			j++
		}
		if j-i > 40 {
			fmt.Fprintf(&b, "%c<x%d>", s[i], j-i)
		} else {
			b.WriteString(s[i:j])
		}
		i = j
	}
	return b.String()
}

func quoteLines(s string) string {
	s = squeezeRuns(s)
	if len(s) > 3000 {
		s = s[:1500] + "\n...\n" + s[len(s)-1500:]
	}
	var b strings.Builder
	for line := range strings.SplitAfterSeq(s, "\n") {
		b.WriteString("  ")
		b.WriteString(strconv.Quote(line))
		b.WriteString("\n")
	}
	return b.String()
}
