package h1server

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// servedBy is a handler that answers "fast <path>" on the fast path and
// "fallback <path>" on the fallback.
func servedBy() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if _, ok := w.(*response); ok {
			io.WriteString(w, "fast "+r.URL.Path)
		} else {
			io.WriteString(w, "fallback "+r.URL.Path)
		}
	})
}

// expectBody reads one response from br and requires its status and body.
func expectBody(t *testing.T, br *bufio.Reader, method string, status int, body string) {
	t.Helper()
	resp, got := readResponse(t, br, method)
	if resp.StatusCode != status || got != body {
		t.Fatalf("got %d %q, want %d %q", resp.StatusCode, got, status, body)
	}
}

// TestEmptyLinesBeforeRequest: empty lines (CRLF or a bare LF) before a
// request line are ignored (RFC 9112 section 2.2), at the start of a
// connection and between requests, whichever path serves the request;
// net/http never sees them.
func TestEmptyLinesBeforeRequest(t *testing.T) {
	addr := startServer(t, &Server{Handler: servedBy(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute})
	chunked := "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	for _, tc := range []struct {
		name   string
		send   []string // written one after the other, a pause between
		method []string
		want   []string
	}{
		{"start CRLF", []string{"\r\n" + get("/a")}, []string{"GET"}, []string{"fast /a"}},
		{"start bare LFs", []string{"\n\n\r\n" + get("/a")}, []string{"GET"}, []string{"fast /a"}},
		{"start, alone first", []string{"\r\n", "\n", get("/a")}, []string{"GET"}, []string{"fast /a"}},
		{"split CRLF", []string{"\r", "\n" + get("/a")}, []string{"GET"}, []string{"fast /a"}},
		{"after GET", []string{get("/a") + "\r\n" + get("/b")}, []string{"GET", "GET"}, []string{"fast /a", "fast /b"}},
		{"after POST body", []string{post("/a", "body") + "\r\n\r\n\r\n" + get("/b")}, []string{"POST", "GET"}, []string{"fast /a", "fast /b"}},
		{"later, after GET", []string{get("/a"), "\r\n", get("/b")}, []string{"GET", "GET"}, []string{"fast /a", "fast /b"}},
		{"before a hand-off", []string{"\r\n" + chunked}, []string{"POST"}, []string{"fallback /chunked"}},
		{"before an HTTP/1.0 hand-off", []string{"\r\nGET /old HTTP/1.0\r\n\r\n"}, []string{"GET"}, []string{"fallback /old"}},
		{"before a hand-off mid-connection", []string{get("/a"), "\r\n" + chunked}, []string{"GET", "POST"}, []string{"fast /a", "fallback /chunked"}},
		{"the most skipped", []string{strings.Repeat("\r\n", maxEmptyLines) + get("/a")}, []string{"GET"}, []string{"fast /a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			for i, s := range tc.send {
				if i > 0 {
					time.Sleep(30 * time.Millisecond)
				}
				io.WriteString(c, s)
			}
			for i := range tc.want {
				expectBody(t, br, tc.method[i], http.StatusOK, tc.want[i])
			}
		})
	}

	t.Run("one too many", func(t *testing.T) {
		// Past the bound the next empty line is the request line: net/http
		// answers a malformed request.
		c := dial(t, addr)
		io.WriteString(c, strings.Repeat("\r\n", maxEmptyLines+1)+get("/a"))
		br := bufio.NewReader(c)
		expectBody(t, br, "GET", http.StatusBadRequest, "400 Bad Request")
		expectClosed(t, c, br, 3*time.Second)
	})
	t.Run("then EOF", func(t *testing.T) {
		// Nothing but empty lines: no request, closed without an answer.
		c := dial(t, addr)
		io.WriteString(c, "\r\n\n")
		c.(interface{ CloseWrite() error }).CloseWrite()
		expectClosed(t, c, nil, 3*time.Second)
	})
}

// TestEmptyLinesWhileIdle: an idle connection that receives only empty
// lines stays idle: it parks again, and its idle timeout still runs from
// the end of the last response.
func TestEmptyLinesWhileIdle(t *testing.T) {
	t.Run("parks again", func(t *testing.T) {
		s := &Server{Handler: okHandler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
			ParkIdleAfter: 20 * time.Millisecond}
		addr := startServer(t, s)
		if s.parker() == nil {
			t.Skip("no parking here")
		}
		k := openKeepAlive(t, addr, 0)
		waitParked(t, s, 1)
		io.WriteString(k.c, "\r\n")
		waitParked(t, s, 0)
		waitParked(t, s, 1)
		io.WriteString(k.c, "\n")
		time.Sleep(50 * time.Millisecond)
		waitParked(t, s, 1)
		k.get(t, "/after")

		// A CRLF sent right after a body is buffered with it: the
		// connection parks all the same.
		fmt.Fprintf(k.c, "POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab\r\n")
		if _, body := readResponse(t, k.br, "POST"); body != "ok /post" {
			t.Fatalf("body %q", body)
		}
		waitParked(t, s, 1)
		k.get(t, "/last")
	})
	t.Run("idle timeout", func(t *testing.T) {
		const idle = 600 * time.Millisecond
		for _, park := range []time.Duration{-1, 20 * time.Millisecond, time.Minute} {
			t.Run(fmt.Sprint(park), func(t *testing.T) {
				s := &Server{Handler: okHandler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: idle, ParkIdleAfter: park}
				addr := startServer(t, s)
				k := openKeepAlive(t, addr, 0)
				start := time.Now()
				for range 3 {
					time.Sleep(idle / 4)
					io.WriteString(k.c, "\r\n")
				}
				expectClosed(t, k.c, k.br, 5*time.Second)
				limit := idle + 300*time.Millisecond // restarted by the last CRLF, it would be 3*idle/4 later
				if park > 0 && park < idle {
					limit += parkLoopTick // the parker closes within its sweep period
				}
				if d := time.Since(start); d < idle || d > limit {
					t.Errorf("closed %v after the response, want the idle timeout (%v) from the response", d, idle)
				}
			})
		}
	})
}
