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

// sizedHead returns a head of exactly size bytes: start (a request line
// and any fields), a padding field, and the empty line.
func sizedHead(start string, size int) string {
	const pre, post = "X-Pad: ", "\r\n\r\n"
	n := size - len(start) - len(pre) - len(post)
	if n < 0 {
		panic(fmt.Sprintf("no head of %d bytes starts %q", size, start))
	}
	return start + pre + strings.Repeat("p", n) + post
}

// TestMaxHeaderBytesExact: a head (request line through the empty line
// that ends it) of exactly MaxHeaderBytes bytes is accepted and one byte
// more gets 431, whichever path reads it: the fast path, a hand-off at the
// request line, after some fields or mid-connection.
func TestMaxHeaderBytesExact(t *testing.T) {
	for _, limit := range []int{0, 8192, readBufSize, 1000} {
		n := limit
		if n == 0 {
			n = http.DefaultMaxHeaderBytes
		}
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			s := &Server{Handler: servedBy(), MaxHeaderBytes: limit, ReadHeaderTimeout: 10 * time.Second, ErrorLog: discardLogger()}
			s.init()
			addr := startServer(t, s)
			if want := max(n-4096, 1); s.Fallback.MaxHeaderBytes != want {
				t.Errorf("Fallback.MaxHeaderBytes %d, want %d", s.Fallback.MaxHeaderBytes, want)
			}
			sizes := []int{n - 1, n, n + 1}
			if n > readBufSize {
				sizes = append(sizes, readBufSize, readBufSize+1) // the fast path's own limit
			}
			for _, size := range sizes {
				for _, tc := range []struct {
					shape  string
					before string // sent first on the connection, answered "fast /first"
					start  string
					method string
					body   string
					fast   bool // served by the fast path
				}{
					{shape: "GET", start: "GET /x HTTP/1.1\r\nHost: x\r\n", method: "GET", fast: size <= readBufSize},
					{shape: "HTTP/1.0", start: "GET /x HTTP/1.0\r\n", method: "GET"},
					{shape: "chunked", start: "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n", method: "POST", body: "0\r\n\r\n"},
					{shape: "GET after a fast request", before: get("/first"), start: "GET /x HTTP/1.1\r\nHost: x\r\n", method: "GET", fast: size <= readBufSize},
					{shape: "chunked after a fast request", before: get("/first"), start: "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n", method: "POST", body: "0\r\n\r\n"},
				} {
					t.Run(fmt.Sprintf("%s/%d", tc.shape, size), func(t *testing.T) {
						c := dial(t, addr)
						c.SetDeadline(time.Now().Add(10 * time.Second))
						go io.WriteString(c, tc.before+sizedHead(tc.start, size)+tc.body)
						br := bufio.NewReader(c)
						if tc.before != "" {
							expectBody(t, br, "GET", http.StatusOK, "fast /first")
						}
						if size > n {
							expectBody(t, br, tc.method, http.StatusRequestHeaderFieldsTooLarge, "431 Request Header Fields Too Large")
							expectClosed(t, c, br, 5*time.Second)
							return
						}
						want := "fallback /x"
						if tc.fast {
							want = "fast /x"
						}
						expectBody(t, br, tc.method, http.StatusOK, want)
					})
				}
			}
		})
	}
}
