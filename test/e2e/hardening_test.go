package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientGoneGetsNoSuccess: a client that half-closes its connection
// while the upstream is slow is never told 200; the request counts as an
// error (499 in the access log), and the upstream attempt ends.
func TestClientGoneGetsNoSuccess(t *testing.T) {
	t.Parallel()
	var closedEarly atomic.Int64
	slow := newRecorder(t, func(c net.Conn, _ *recorded) bool {
		// Answer after 3 s, unless rgate gives the attempt up first.
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			closedEarly.Add(1)
			return false
		}
		return okAnswer(c, nil)
	})
	g := startGateway(t, staticRoutes([3]string{"/slow", slow.url(), ""}))
	_, errsBefore := g.stats(t).counts(t)
	reqs := map[string]string{
		"GET":          "GET /slow/a HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST":         "POST /slow/b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"chunked POST": "POST /slow/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	}
	for name, raw := range reqs {
		c, err := net.Dial("tcp", g.url[len("http://"):])
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, raw)
		time.Sleep(100 * time.Millisecond) // the request is with the upstream
		_ = c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(6 * time.Second))
		got, _ := io.ReadAll(c)
		c.Close()
		if bytes.HasPrefix(got, []byte("HTTP/1.1 2")) {
			t.Errorf("%s: a client that left was answered %q", name, firstLine(got))
		}
	}
	eventually(t, 5*time.Second, "three client-closed requests counted as errors", func() bool {
		_, errs := g.stats(t).counts(t)
		return errs-errsBefore == 3
	})
	eventually(t, 5*time.Second, "three access-log lines with status 499", func() bool {
		n := 0
		for _, l := range g.accessLogLines() {
			if l["status"] == float64(499) {
				n++
			}
		}
		return n == 3
	})
	eventually(t, 5*time.Second, "the upstream attempts ended before the upstream answered", func() bool {
		return closedEarly.Load() == 3
	})
}

// TestReusedUpstreamConnectionClosed: an upstream that closes each
// keep-alive connection right after its answer, without saying so, fails
// no request of any method.
func TestReusedUpstreamConnectionClosed(t *testing.T) {
	t.Parallel()
	closer := newRecorder(t, func(c net.Conn, _ *recorded) bool {
		okAnswer(c, nil)
		return false // close, without Connection: close
	})
	g := startGateway(t, staticRoutes([3]string{"/c", closer.url(), "    retries: 0\n"}))
	failed := 0
	for i := range 60 {
		method := []string{"POST", "PUT", "PATCH", "GET"}[i%4]
		r := g.do(t, g.request(t, method, "/c/x", strings.NewReader("body-"+strconv.Itoa(i))))
		if r.status != http.StatusOK {
			failed++
			t.Logf("%s #%d: %d %s", method, i, r.status, r.body)
		}
		time.Sleep(time.Duration(10+i%50) * time.Millisecond)
	}
	if failed != 0 {
		t.Errorf("%d of 60 requests failed on connections the upstream closed after each answer", failed)
	}
	for _, r := range closer.requests() {
		if !strings.HasPrefix(r.Body, "body-") {
			t.Errorf("the upstream received %s %s with body %q", r.Method, r.URI, r.Body)
		}
	}
}

// TestUpgradesOnlyAsAllowed: h2c (and any upgrade a route does not list)
// is never forwarded; the request is served as an ordinary one.
func TestUpgradesOnlyAsAllowed(t *testing.T) {
	t.Parallel()
	// The upstream switches protocols whenever it is asked to.
	up := newRecorder(t, func(c net.Conn, r *recorded) bool {
		if r.Header.Get("Upgrade") != "" {
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+r.Header.Get("Upgrade")+"\r\n\r\n")
			return false
		}
		return okAnswer(c, nil)
	})
	g := startGateway(t, staticRoutes([3]string{"/d", up.url(), ""}, [3]string{"/none", up.url(), "    upgrades: []\n"}))
	for _, tc := range []struct{ path, upgrade string }{
		{"/d/x", "h2c"}, {"/d/x", "tls/1.2"}, {"/none/x", "websocket"},
	} {
		raw := "GET " + tc.path + " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: " + tc.upgrade +
			"\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
			"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
		got := g.rawExchange(t, raw, 2*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 200") {
			t.Errorf("Upgrade: %s on %s: answered %q, want 200 (the upgrade ignored)", tc.upgrade, tc.path, firstLine([]byte(got)))
		}
	}
	for _, r := range up.requests() {
		if r.Header.Get("Upgrade") != "" || r.Header.Get("Http2-Settings") != "" || strings.Contains(r.Header.Get("Connection"), "pgrade") {
			t.Errorf("the upstream received upgrade fields: %v", r.Header)
		}
		if r.Method != "GET" {
			t.Errorf("the bytes after the request reached the upstream as %s %s", r.Method, r.URI)
		}
	}
}

// TestMalformedRequestBodies: a chunked body that breaks its framing is
// the client's error (400), one over max_body_bytes is 413, both counted,
// and the upstream sees nothing of either.
func TestMalformedRequestBodies(t *testing.T) {
	t.Parallel()
	up := newRecorder(t, nil)
	g := startGateway(t, staticRoutes([3]string{"/b", up.url(), "    max_body_bytes: 1KiB\n"}))
	_, errsBefore := g.stats(t).counts(t)
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"bad chunk size", "5\r\nhello\r\nzz\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk longer than its size", "3\r\nhello\r\n0\r\n\r\n", 400},
		{"over max_body_bytes", "800\r\n" + strings.Repeat("a", 0x800) + "\r\n0\r\n\r\n", 413},
	} {
		raw := "POST /b/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + tc.body
		got := g.rawExchange(t, raw, 3*time.Second)
		if want := "HTTP/1.1 " + strconv.Itoa(tc.want); !strings.HasPrefix(got, want) {
			t.Errorf("%s: answered %q, want %d", tc.name, firstLine([]byte(got)), tc.want)
		}
	}
	if got := up.requests(); len(got) != 0 {
		t.Errorf("the upstream received %s", describe(got))
	}
	if _, errs := g.stats(t).counts(t); errs-errsBefore != 3 {
		t.Errorf("stats counted %d errors, want 3", errs-errsBefore)
	}
}

// TestExpectContinueAnsweredByGateway: rgate itself answers
// "100 Continue" when it reads the body, and never passes Expect on (so an
// upstream that does not answer 100 itself costs the client no wait).
func TestExpectContinueAnsweredByGateway(t *testing.T) {
	t.Parallel()
	up := newRecorder(t, nil)
	g := startGateway(t, staticRoutes([3]string{"/e", up.url(), ""}))
	for _, size := range []int{10, 2 << 20} { // read first, and streamed
		c, err := net.Dial("tcp", g.url[len("http://"):])
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		start := time.Now()
		fmt.Fprintf(c, "PUT /e/up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", size)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := br.ReadString('\n')
		waited := time.Since(start)
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("size %d: first answer %q (%v), want 100 Continue", size, line, err)
		}
		t.Logf("size %d: 100 Continue after %v", size, waited.Round(100*time.Microsecond))
		_, _ = br.ReadString('\n') // the blank line after it
		_, _ = c.Write(bytes.Repeat([]byte("u"), size))
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("size %d: final answer %v %v", size, res, err)
		}
		c.Close()
	}
	for _, r := range up.requests() {
		if r.Header.Get("Expect") != "" {
			t.Errorf("the upstream received Expect: %q", r.Header.Get("Expect"))
		}
		if n := len(r.Body); n != 10 && n != 2<<20 {
			t.Errorf("the upstream received a body of %d bytes", n)
		}
	}
}

// TestQueryPassedUnchanged: the query reaches the upstream byte for byte,
// on both engines (a small request, and one with a large streamed body).
func TestQueryPassedUnchanged(t *testing.T) {
	t.Parallel()
	up := newRecorder(t, nil)
	g := startGateway(t, staticRoutes([3]string{"/q", up.url(), ""}))
	queries := []string{"?a=1;b=2&c=3", "?a=%zz&b=2", "?", "?x=%2F&y=a+b&&z", "?k=%E2%82%AC;v"}
	big := strings.Repeat("b", 100<<10)
	for _, q := range queries {
		for _, body := range []string{"", big} {
			method := "GET"
			if body != "" {
				method = "POST"
			}
			raw := fmt.Sprintf("%s /q/x%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", method, q, len(body), body)
			if got := g.rawExchange(t, raw, 3*time.Second); !strings.HasPrefix(got, "HTTP/1.1 200") {
				t.Errorf("%s %s: %q", method, q, firstLine([]byte(got)))
			}
		}
	}
	got := up.requests()
	if len(got) != 2*len(queries) {
		t.Fatalf("the upstream received %d requests, want %d", len(got), 2*len(queries))
	}
	for i, r := range got {
		if want := "/q/x" + queries[i/2]; r.URI != want {
			t.Errorf("%s: the upstream received %q, want %q", r.Method, r.URI, want)
		}
	}
}

// TestTrailersFiltered: trailer fields that a trailer must not carry
// (framing, cookies, content metadata) are dropped on both engines; the
// others pass.
func TestTrailersFiltered(t *testing.T) {
	t.Parallel()
	up := newRecorder(t, func(c net.Conn, _ *recorded) bool {
		// (An answer that announces Content-Length as a trailer is
		// malformed, 502, as net/http reads it; sent unannounced it must
		// still not pass.)
		_, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nTrailer: X-Checksum, Set-Cookie\r\n"+
			"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: 42\r\nContent-Length: 99\r\n"+
			"Set-Cookie: session=evil\r\nContent-Type: text/evil\r\nGrpc-Status: 0\r\n\r\n")
		return err == nil
	})
	g := startGateway(t, staticRoutes([3]string{"/t", up.url(), ""}))
	for _, body := range []string{"", strings.Repeat("p", 100<<10)} {
		r := g.do(t, g.request(t, "POST", "/t/x", strings.NewReader(body)))
		if r.status != 200 || string(r.body) != "abc" {
			t.Fatalf("answer %d %q", r.status, r.body)
		}
		tr := r.trailer
		if tr.Get("X-Checksum") != "42" || tr.Get("Grpc-Status") != "0" {
			t.Errorf("body %d B: allowed trailers lost: %v", len(body), tr)
		}
		for _, k := range []string{"Content-Length", "Set-Cookie", "Content-Type"} {
			if tr.Get(k) != "" {
				t.Errorf("body %d B: forbidden trailer %s passed: %v", len(body), k, tr)
			}
		}
		if ann := r.header.Get("Trailer"); strings.Contains(ann, "Set-Cookie") || strings.Contains(ann, "Content-Length") {
			t.Errorf("body %d B: forbidden trailers announced: %q", len(body), ann)
		}
	}
}

// TestTraceRefused: TRACE gets 405 (with Allow) and never reaches the
// upstream, unless the route lists it in methods; a route with methods
// refuses every other method.
func TestTraceRefused(t *testing.T) {
	t.Parallel()
	up := newRecorder(t, nil)
	g := startGateway(t, staticRoutes([3]string{"/plain", up.url(), ""},
		[3]string{"/traced", up.url(), "    methods: [GET, TRACE]\n"}))
	for _, tc := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"TRACE", "/plain/x", 405, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"},
		{"GET", "/plain/x", 200, ""},
		{"TRACE", "/traced/x", 200, ""},
		{"POST", "/traced/x", 405, "GET, TRACE"},
	} {
		r := g.do(t, g.request(t, tc.method, tc.path, nil))
		if r.status != tc.want || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q", tc.method, tc.path, r.status, r.header.Get("Allow"), tc.want, tc.allow)
		}
	}
	var seen []string
	for _, r := range up.requests() {
		seen = append(seen, r.Method+" "+r.URI)
	}
	if strings.Join(seen, ",") != "GET /plain/x,TRACE /traced/x" {
		t.Errorf("the upstream received %v, want [GET /plain/x TRACE /traced/x]", seen)
	}
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	return string(line)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestMaxHeaderBytesExact: a request head (request line through the blank
// line) of exactly server.max_header_bytes is served; one byte more gets
// 431. Checked at the default (1 MiB) and at 8 KiB, on a request the fast
// path reads and on one it hands off (chunked).
func TestMaxHeaderBytesExact(t *testing.T) {
	t.Parallel()
	up := newRecorder(t, nil)
	for _, limit := range []int{1 << 20, 8192} {
		cfg := staticRoutes([3]string{"/h", up.url(), ""})
		if limit != 1<<20 {
			cfg += fmt.Sprintf("server: {max_header_bytes: %d}\n", limit)
		}
		g := startGateway(t, cfg)
		for _, kind := range []string{"plain", "chunked"} {
			for _, size := range []int{limit, limit + 1} {
				raw := headOfSize(t, kind, size)
				got := g.rawExchange(t, raw, 5*time.Second)
				want := "HTTP/1.1 200"
				if size > limit {
					want = "HTTP/1.1 431"
				}
				if !strings.HasPrefix(got, want) {
					t.Errorf("limit %d, %s head of %d bytes: answered %q, want %s", limit, kind, size, firstLine([]byte(got)), want)
				}
			}
		}
	}
}

// headOfSize builds a request whose head is exactly size bytes (a padding
// field makes up the difference), with Connection: close.
func headOfSize(t *testing.T, kind string, size int) string {
	t.Helper()
	start := "GET /h/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	body := ""
	if kind == "chunked" {
		start = "POST /h/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
		body = "0\r\n\r\n"
	}
	const field, end = "X-Pad: ", "\r\n\r\n"
	pad := size - len(start) - len(field) - len(end)
	if pad < 1 {
		t.Fatalf("a head of %d bytes is too small to build", size)
	}
	return start + field + strings.Repeat("p", pad) + end + body
}
