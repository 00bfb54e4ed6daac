package h1client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func connOver(raw []byte, size int) *Conn {
	return &Conn{br: bufio.NewReaderSize(bytes.NewReader(raw), size)}
}

// readAll reads one answer (after any 1xx) with our parser: the final
// head, the body, and the trailers.
func readAll(raw []byte, head bool, size int) (*Response, []byte, error) {
	cn := connOver(raw, size)
	res, err := cn.ReadResponse(head)
	if err != nil {
		return nil, nil, err
	}
	var body bytes.Buffer
	_, rerr, _ := cn.WriteBodyTo(&body, nil, make([]byte, 7))
	return res, body.Bytes(), rerr
}

func TestReadResponse(t *testing.T) {
	for _, c := range []struct {
		name, raw string
		head      bool
		status    int
		body      string
		cl        int64
		header    http.Header
		trailer   http.Header
		close     bool
		err       bool
	}{
		{name: "content-length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello",
			status: 200, body: "hello", cl: 5, header: http.Header{"Content-Length": {"5"}, "X-A": {"1", "2"}}},
		{name: "no reason", raw: "HTTP/1.1 204\r\n\r\n", status: 204, cl: 0, header: http.Header{}},
		{name: "chunked with trailers", raw: "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Sum: 9\r\nX-More: m\r\n\r\n",
			status: 200, body: "abcde", cl: -1, header: http.Header{}, trailer: http.Header{"X-Sum": {"9"}, "X-More": {"m"}}},
		{name: "until close", raw: "HTTP/1.1 200 OK\r\n\r\nall of it", status: 200, body: "all of it", cl: -1, header: http.Header{}, close: true},
		{name: "bare LF", raw: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", status: 200, body: "ok", cl: 2, header: http.Header{"Content-Length": {"2"}}},
		{name: "HEAD keeps length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", head: true, status: 200, cl: 10, header: http.Header{"Content-Length": {"10"}}},
		{name: "304 has no body", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", status: 304, cl: 0, header: http.Header{"Content-Length": {"10"}}},
		{name: "connection close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", status: 200, cl: 0,
			header: http.Header{"Connection": {"close"}, "Content-Length": {"0"}}, close: true},
		{name: "HTTP/1.0 closes", raw: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, cl: 0, header: http.Header{"Content-Length": {"0"}}, close: true},
		{name: "short body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", err: true},
		{name: "differing lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", err: true},
		{name: "bad length", raw: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: true},
		{name: "gzip coding", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", err: true},
		{name: "folded line", raw: "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\n\r\n", err: true},
		{name: "space before colon", raw: "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n", err: true},
		{name: "bad status", raw: "HTTP/1.1 2000 OK\r\n\r\n", err: true},
		{name: "bad proto", raw: "HTTP/2.0 200 OK\r\n\r\n", err: true},
		{name: "nothing", raw: "", err: true},
		{name: "chunk cut", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", err: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body, err := readAll([]byte(c.raw), c.head, 16)
			if c.err {
				if err == nil {
					t.Fatalf("no error; got %d %q", res.StatusCode, body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != c.status || string(body) != c.body || res.ContentLength != c.cl || res.Close != c.close {
				t.Errorf("got %d %q cl=%d close=%v", res.StatusCode, body, res.ContentLength, res.Close)
			}
			if !reflect.DeepEqual(res.Header, c.header) {
				t.Errorf("header %v, want %v", res.Header, c.header)
			}
			if c.trailer != nil && !reflect.DeepEqual(res.Trailer, c.trailer) {
				t.Errorf("trailer %v, want %v", res.Trailer, c.trailer)
			}
		})
	}
}

func TestNothingRead(t *testing.T) {
	cn := connOver(nil, 16)
	if _, err := cn.ReadResponse(false); !errors.Is(err, ErrNothingRead) {
		t.Fatalf("err = %v, want ErrNothingRead", err)
	}
	cn = connOver([]byte("HTTP/1.1 2"), 16)
	if _, err := cn.ReadResponse(false); err == nil || errors.Is(err, ErrNothingRead) {
		t.Fatalf("err = %v, want a failure after bytes were read", err)
	}
}

func TestLongHead(t *testing.T) {
	big := strings.Repeat("v", 40<<10)
	raw := "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\nContent-Length: 2\r\n\r\nok"
	res, body, err := readAll([]byte(raw), false, 4096)
	if err != nil || res.Header.Get("X-Big") != big || string(body) != "ok" {
		t.Fatalf("err=%v body=%q", err, body)
	}
	huge := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("v", maxHeadBytes) + "\r\n\r\n"
	if _, _, err := readAll([]byte(huge), false, 4096); !errors.Is(err, errHeadTooLarge) {
		t.Fatalf("err = %v, want errHeadTooLarge", err)
	}
}

// FuzzReadResponse: whatever our parser accepts, net/http reads the same
// way (status, headers, length, body, trailers). Being stricter is
// allowed; reading a message differently is not.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 1\n\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, head bool) {
		res, body, err := readAll(raw, head, 64)
		if err != nil {
			return
		}
		method := "GET"
		if head {
			method = "HEAD"
		}
		want, werr := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), &http.Request{Method: method})
		if werr != nil {
			t.Fatalf("accepted a head net/http refuses (%v): %q", werr, raw)
		}
		wbody, wberr := io.ReadAll(want.Body)
		if wberr != nil {
			t.Fatalf("accepted a body net/http refuses (%v): %q", wberr, raw)
		}
		if want.StatusCode != res.StatusCode || want.ContentLength != res.ContentLength || !bytes.Equal(wbody, body) {
			t.Fatalf("read differently: net/http %d cl=%d %q; ours %d cl=%d %q; input %q",
				want.StatusCode, want.ContentLength, wbody, res.StatusCode, res.ContentLength, body, raw)
		}
		wh := want.Header.Clone()
		if !reflect.DeepEqual(normal(wh), normal(res.Header)) {
			t.Fatalf("headers differ: net/http %v; ours %v; input %q", wh, res.Header, raw)
		}
		if !reflect.DeepEqual(normal(want.Trailer), normal(res.Trailer)) {
			t.Fatalf("trailers differ: net/http %v; ours %v; input %q", want.Trailer, res.Trailer, raw)
		}
	})
}

func normal(h http.Header) http.Header {
	if len(h) == 0 {
		return nil
	}
	return h
}
