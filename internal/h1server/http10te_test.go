package h1server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// pathLog records the paths a handler served.
type pathLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *pathLog) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		l.mu.Lock()
		l.paths = append(l.paths, r.URL.Path)
		l.mu.Unlock()
		io.WriteString(w, "ok "+r.URL.Path)
	})
}

func (l *pathLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.paths
	l.paths = nil
	return p
}

// sendAll writes req on a new connection and returns all the server sent
// until it closed the connection (failing if it does not within 5 s).
func sendAll(t *testing.T, addr, req string) string {
	t.Helper()
	c := dial(t, addr)
	go io.WriteString(c, req)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open; got %q", out)
	}
	return string(out)
}

const smuggled = "GET /private/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// TestHTTP10TransferEncoding: an HTTP/1.0 request with a Transfer-Encoding
// field gets 400 and a close, and no handler sees it or what follows,
// whichever path reads its head and however the field is dressed up.
func TestHTTP10TransferEncoding(t *testing.T) {
	var log pathLog
	addr := startServer(t, &Server{Handler: log.handler(), MaxHeaderBytes: 8192, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: discardLogger()})

	attack := func(head string) string {
		return "POST /public/a HTTP/1.0\r\nHost: x\r\n" + head + "Content-Length: 5\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n" + smuggled
	}
	const te = "Transfer-Encoding: chunked\r\n"
	const refused = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
	pad := "X-Pad: " + strings.Repeat("p", 5000) + "\r\n"
	chunked := "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	for _, tc := range []struct {
		name   string
		req    string
		before []string // paths served before the refusal
		status string   // the refusal's status line
	}{
		// The fast path reads these heads to their end and refuses them.
		{"the issue's", attack(te), nil, refused},
		{"odd case", attack("tRANSFER-eNCODING: chunked\r\n"), nil, refused},
		{"empty value", attack("Transfer-Encoding:\r\n"), nil, refused},
		{"other coding", attack("Transfer-Encoding: identity\r\n"), nil, refused},
		{"folded value", attack("Transfer-Encoding:\r\n chunked\r\n"), nil, refused},
		{"after a fold", attack("X-A: a\r\n b\r\n" + te), nil, refused},
		{"last field", "POST /public/a HTTP/1.0\r\nContent-Length: 5\r\n" + te + "\r\n0\r\n\r\n" + smuggled, nil, refused},
		{"bare LFs", "POST /public/a HTTP/1.0\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\r\n\r\n" + smuggled, nil, refused},
		{"after empty lines", "\r\n\n" + attack(te), nil, refused},
		{"pipelined after a fast request", get("/first") + attack(te), []string{"/first"}, refused},
		{"OPTIONS *", "OPTIONS * HTTP/1.0\r\n" + te + "Content-Length: 5\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n" + smuggled, nil, refused},
		// net/http reads these heads: its guard refuses them.
		{"field after 4 KiB", attack(pad + te), nil, "HTTP/1.0 400 Bad Request"},
		{"request line over 4 KiB", strings.Replace(attack(te), "/public/a", "/public/a?"+strings.Repeat("q", 5000), 1), nil, "HTTP/1.0 400 Bad Request"},
		{"after a hand-off", chunked + attack(te), []string{"/chunked"}, "HTTP/1.0 400 Bad Request"},
		{"after an HTTP/1.0 request", "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + attack(te), []string{"/old"}, "HTTP/1.0 400 Bad Request"},
		{"after a hand-off, with empty lines", chunked + "\r\n" + attack(te), []string{"/chunked"}, "HTTP/1.0 400 Bad Request"},
		{"OPTIONS * after a hand-off", chunked + "OPTIONS * HTTP/1.0\r\n" + te + "Content-Length: 5\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n" + smuggled,
			[]string{"/chunked"}, "HTTP/1.0 400 Bad Request"},
		// net/http reads well past the head before the guard asks (its read
		// buffer): this much more in the same write must not hide it.
		{"after a hand-off, much more sent", chunked + attack(te) + strings.Repeat(smuggled, 2000), []string{"/chunked"}, "HTTP/1.0 400 Bad Request"},
		// net/http refuses these itself.
		{"space before the colon", attack("Transfer-Encoding : chunked\r\n"), nil, "HTTP/1.1 400 Bad Request"},
		{"head too large", attack(strings.Repeat(pad, 4) + te), nil, "HTTP/1.1 431 Request Header Fields Too Large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := sendAll(t, addr, tc.req)
			i := strings.LastIndex(out, "HTTP/1.")
			if i < 0 || !strings.HasPrefix(out[i:], tc.status) {
				t.Errorf("last response %q, want %q", out[max(i, 0):], tc.status)
			}
			if tc.status == refused && out[i:] != refused {
				t.Errorf("refusal %q, want %q", out[i:], refused)
			}
			if !strings.Contains(strings.ToLower(out[max(i, 0):]), "connection: close") {
				t.Errorf("refusal without Connection: close: %q", out[max(i, 0):])
			}
			if got := log.take(); strings.Join(got, " ") != strings.Join(tc.before, " ") {
				t.Errorf("handler served %q, want %q", got, tc.before)
			}
		})
	}
}

// TestHTTP10WithoutTransferEncoding: HTTP/1.0 requests without a
// Transfer-Encoding field, and HTTP/1.1 requests with one, are served as
// before, on keep-alive connections too.
func TestHTTP10WithoutTransferEncoding(t *testing.T) {
	var log pathLog
	addr := startServer(t, &Server{Handler: log.handler(), ReadHeaderTimeout: 5 * time.Second})
	for _, tc := range []struct {
		name  string
		req   string
		paths []string
	}{
		{"keep-alive", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /c HTTP/1.0\r\n\r\n", []string{"/a", "/b", "/c"}},
		{"folded into another field", "POST /a HTTP/1.0\r\nX-A: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nab", []string{"/a"}},
		{"another name", "GET /a HTTP/1.0\r\nTransfer-Encodings: chunked\r\nX-Transfer-Encoding: chunked\r\n\r\n", []string{"/a"}},
		{"in a value", "GET /a HTTP/1.0\r\nX-A: Transfer-Encoding: chunked\r\n\r\n", []string{"/a"}},
		{"HTTP/1.1 chunked, then HTTP/1.0", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /b HTTP/1.0\r\n\r\n", []string{"/a", "/b"}},
		{"HTTP/1.2 chunked", "POST /a HTTP/1.2\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n0\r\n\r\n", []string{"/a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := sendAll(t, addr, tc.req)
			if n := strings.Count(out, " 200 OK\r\n"); n != len(tc.paths) {
				t.Errorf("%d answers 200, want %d: %q", n, len(tc.paths), out)
			}
			if got := log.take(); strings.Join(got, " ") != strings.Join(tc.paths, " ") {
				t.Errorf("handler served %q, want %q", got, tc.paths)
			}
		})
	}
}

// feedAll feeds w all of p.
func feedAll(w *headWatch, p []byte) {
	for len(p) > 0 {
		p = p[w.feed(p):]
	}
}

func TestHeadWatch(t *testing.T) {
	for _, tc := range []struct {
		name            string
		stream          string
		firstEnd, teEnd int // -1: the stream's length
	}{
		{"HTTP/1.1 with TE", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -1, 0},
		{"HTTP/1.0 with TE", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -1, -1},
		{"HTTP/1.0 without", "POST / HTTP/1.0\r\nX-Transfer-Encoding: chunked\r\n\r\n", -1, 0},
		{"HTTP/1.0, folded in", "POST / HTTP/1.0\r\nX: a\r\n\tTransfer-Encoding: chunked\r\n\r\n", -1, 0},
		{"HTTP/1.0, CR only", "POST / HTTP/1.0\rTransfer-Encoding: chunked\r\n\r\n", -1, 0},
		{"HTTP/1.0 with TE, bare LF", "POST / HTTP/1.0\ntransfer-ENCODING:\n\n", -1, -1},
		{"a space line is no end", "GET / HTTP/1.0\r\nX: a\r\n \r\nTransfer-Encoding: x\r\n\r\n", -1, -1},
		{"incomplete", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n", 0, 0},
		{"later, after a body", "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", len("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n"), -1},
		{"later, in a false head", "POST / HTTP/1.1\r\n\r\nx HTTP/1.0\r\nX: y\r\nPOST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 19, -1},
		{"later, HTTP/1.1", "GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 18, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := func(n int) int64 {
				if n < 0 {
					return int64(len(tc.stream))
				}
				return int64(n)
			}
			var whole, bytewise headWatch
			feedAll(&whole, []byte(tc.stream))
			for i := range len(tc.stream) {
				bytewise.feed([]byte(tc.stream[i : i+1]))
			}
			for _, w := range []headWatch{whole, bytewise} {
				if w.firstEnd != want(tc.firstEnd) || w.teEnd != want(tc.teEnd) {
					t.Errorf("first head ends at %d, TE head at %d; want %d, %d", w.firstEnd, w.teEnd, want(tc.firstEnd), want(tc.teEnd))
				}
			}
		})
	}
}

// FuzzHeadWatch checks headWatch against net/http's own reading of a
// head: when net/http reads data as an HTTP/1.0 head with a
// Transfer-Encoding field, the watcher flags it at its end, whether the
// head starts the stream or follows any bytes after an earlier head; and
// it finds the end of every head net/http reads.
func FuzzHeadWatch(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), []byte("body"))
	f.Add([]byte("POST / HTTP/1.0\r\nX: a\r\n b\r\ntransfer-encoding:\r\n\r\n"), []byte("x HTTP/1.0\r\nY: z\r\n"))
	f.Add([]byte("GET / HTTP/1.0\nX: a\n\tTransfer-Encoding: chunked\n\n"), []byte("\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), []byte(""))
	f.Fuzz(func(t *testing.T, data, junk []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		tp := textproto.NewReader(br)
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		hdr, err := tp.ReadMIMEHeader()
		if err != nil {
			return
		}
		n := int64(len(data) - br.Buffered())
		var w headWatch
		feedAll(&w, data)
		if w.firstEnd != n {
			t.Fatalf("%q: first head ends at %d, net/http read %d", data, w.firstEnd, n)
		}
		_, rest, _ := strings.Cut(line, " ")
		_, proto, _ := strings.Cut(rest, " ")
		_, te := hdr["Transfer-Encoding"]
		if te && proto == "HTTP/1.0" {
			if !w.firstHeadTE() {
				t.Fatalf("%q: an HTTP/1.0 head with Transfer-Encoding not flagged", data)
			}
			first := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
			var later headWatch
			feedAll(&later, []byte(first))
			feedAll(&later, junk)
			feedAll(&later, data[:n])
			if later.teEnd != later.off {
				t.Fatalf("%q after %q: not flagged at its end (%d), last flag %d", data, junk, later.off, later.teEnd)
			}
		}
	})
}
