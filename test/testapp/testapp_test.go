package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWebsocketAccept(t *testing.T) {
	// The example of RFC 6455 section 1.3.
	got := websocketAccept("dGhlIHNhbXBsZSBub25jZQ==")
	if want := "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("websocketAccept = %q, want %q", got, want)
	}
}

func TestEndpoints(t *testing.T) {
	srv := httptest.NewServer(newApp("t1"))
	defer srv.Close()
	client := srv.Client()

	t.Run("echo", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/x/thing?a=1&b=2", strings.NewReader("hello"))
		req.Header.Set("X-Custom", "v")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if got := resp.Header.Get("X-Backend-Name"); got != "t1" {
			t.Errorf("X-Backend-Name = %q, want %q", got, "t1")
		}
		var e echoReply
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte("hello"))
		if e.Method != "PUT" || e.Path != "/api/x/thing" || e.RawQuery != "a=1&b=2" ||
			e.BodyLen != 5 || e.BodySHA256 != hex.EncodeToString(sum[:]) || e.Headers["X-Custom"][0] != "v" {
			t.Errorf("echo = %+v", e)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		resp, err := client.Get(srv.URL + "/p/bytes?n=100000")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.ContentLength != 100000 || len(b) != 100000 {
			t.Fatalf("length %d / %d, want 100000", resp.ContentLength, len(b))
		}
		for i, c := range b {
			if c != patternByte(int64(i)) {
				t.Fatalf("byte %d = %d, want %d", i, c, patternByte(int64(i)))
			}
		}
	})
	t.Run("status", func(t *testing.T) {
		resp, err := client.Get(srv.URL + "/p/status?code=418")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 418 {
			t.Errorf("status = %d, want 418", resp.StatusCode)
		}
	})
	t.Run("ws", func(t *testing.T) {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET /a/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nearly")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
			t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
		}
		io.WriteString(conn, "+late")
		buf := make([]byte, len("early+late"))
		if _, err := io.ReadFull(br, buf); err != nil {
			t.Fatal(err)
		}
		if string(buf) != "early+late" {
			t.Errorf("echo = %q, want %q", buf, "early+late")
		}
	})
	t.Run("malformed", func(t *testing.T) {
		_, err := client.Get(srv.URL + "/p/malformed")
		if err == nil {
			t.Error("malformed answer parsed as HTTP, want an error")
		}
	})
}

func TestRespondHitsAndFailStatus(t *testing.T) {
	srv := httptest.NewServer(newApp("t2"))
	defer srv.Close()
	client := srv.Client()
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := get("/a/respond?h=Cache-Control:max-age=5&h=Server:x&h=Server:y&status=201")
	if resp.StatusCode != 201 || resp.Header.Get("Cache-Control") != "max-age=5" ||
		strings.Join(resp.Header.Values("Server"), ",") != "x,y" {
		t.Errorf("respond = %d %v", resp.StatusCode, resp.Header)
	}
	get("/ping")
	var h struct{ Hits int64 }
	resp, err := client.Get(srv.URL + "/x/hits")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.Hits != 1 {
		t.Errorf("hits = %d (%v), want 1", h.Hits, err)
	}
	resp.Body.Close()

	t.Setenv("FAIL_STATUS", "503")
	failing := httptest.NewServer(newApp("t3"))
	defer failing.Close()
	for path, want := range map[string]int{"/a/x": 503, "/a/status?code=200": 503, "/ping": 200, "/health": 200} {
		resp, err := failing.Client().Get(failing.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("FAIL_STATUS=503: GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}
