package hclient

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name      string
		raw       string
		status    int
		n         int64
		mustClose bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, 5, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n", 200, 5, false},
		{"close", "HTTP/1.1 503 x\r\nconnection: Close\r\ncontent-length: 2\r\n\r\nno", 503, 2, true},
		{"no length", "HTTP/1.1 200 OK\r\n\r\nuntil eof", 200, 9, true},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", 204, 0, false},
		{"interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, 1, false},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.raw))
			status, n, mustClose, err := readResponse(br)
			if err != nil || status != tc.status || n != tc.n || mustClose != tc.mustClose {
				t.Errorf("= %d, %d, close %v, %v; want %d, %d, close %v", status, n, mustClose, err, tc.status, tc.n, tc.mustClose)
			}
		})
	}
	for _, bad := range []string{"", "HTTP/2 200\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nbad\r\n\r\n"} {
		if _, _, _, err := readResponse(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readResponse(%q): no error", bad)
		}
	}
}

func TestConnKeepAlive(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write(make([]byte, 100000)) // chunked
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	tgt, err := ParseURL(srv.URL + "/x?y=1")
	if err != nil {
		t.Fatal(err)
	}
	c := Conn{Addr: tgt.Addr}
	defer c.Close()
	for _, path := range []string{tgt.Path, "/big", tgt.Path} {
		status, n, err := c.Do(tgt.Request(path))
		if err != nil || status != 200 {
			t.Fatalf("GET %s: %d, %v", path, status, err)
		}
		if want := map[bool]int64{true: 100000, false: 2}[path == "/big"]; n != want {
			t.Errorf("GET %s: %d body bytes, want %d", path, n, want)
		}
	}
	if c.Dials != 1 {
		t.Errorf("%d dials for three requests, want 1 (keep-alive)", c.Dials)
	}
}
