package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestChaosWebSocket: promise "upgrades work". An upgrade to the testapp's
// /ws through the gateway switches protocols, raw bytes flow both ways, and
// a close from either side reaches the other: the client's close ends the
// backend's connection, the backend's close gives the client EOF, and the
// gateway's fds and goroutines return to their baseline.
func TestChaosWebSocket(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	// The testapp runs as a process: its /wsopen and ?close_after are newer
	// than images that concurrent runs of older trees may import under the
	// shared image tag.
	c := startProcess(t, "ws")
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /api/%s
    backend: b
default_response:
  body: "no route"
  status_code: 404
backends:
  - name: b
    urls: [%s]
`, label, c.url))
	g.waitBackend(t, "/api/"+label+"/x", c.name, 5*time.Second)
	wsOpen := func() int64 {
		t.Helper()
		resp, err := http.Get(c.url + "/wsopen")
		if err != nil {
			t.Fatalf("GET /wsopen on the backend: %v", err)
		}
		defer resp.Body.Close()
		var v struct {
			N *int64 `json:"ws_open"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.N == nil {
			t.Fatalf("GET /wsopen on the backend: %v (an old testapp?)", err)
		}
		return *v.N
	}
	base := g.chaosBaseline(t)
	t.Logf("baseline: %d fds, %d goroutines", base.fds, base.goroutines)

	messages := [][]byte{[]byte("hello rgate"), {0, 1, 2, 0xff, 0xfe, '\r', '\n', 0}, bytes.Repeat([]byte{0x81, 0x7e}, 32<<10), []byte("last")}
	t.Run("client closes", func(t *testing.T) {
		conn, br := chaosUpgrade(t, g, "/api/"+label+"/ws")
		defer conn.Close()
		sent := 0
		for _, m := range messages {
			if _, err := conn.Write(m); err != nil {
				t.Fatalf("writing %d bytes: %v", len(m), err)
			}
			got := make([]byte, len(m))
			if _, err := io.ReadFull(br, got); err != nil {
				t.Fatalf("reading the %d-byte echo: %v", len(m), err)
			}
			if !bytes.Equal(got, m) {
				t.Errorf("the echo of %d bytes differs", len(m))
			}
			sent += len(m)
		}
		if n := wsOpen(); n != 1 {
			t.Errorf("the backend has %d upgraded connections open, want 1", n)
		}
		conn.Close()
		d := eventually(t, 5*time.Second, "the backend's upgraded connection to end", func() bool { return wsOpen() == 0 })
		t.Logf("%d messages (%d bytes) echoed both ways; the backend saw the client's close after %v", len(messages), sent, d.Round(time.Millisecond))
		g.chaosCheckSettled(t, "after the client closed", base)
	})

	t.Run("backend closes", func(t *testing.T) {
		const closeAfter = 3000
		conn, br := chaosUpgrade(t, g, "/api/"+label+"/ws?close_after="+strconv.Itoa(closeAfter))
		defer conn.Close()
		for _, n := range []int{1000, 2000} {
			m := bytes.Repeat([]byte{byte(n)}, n)
			if _, err := conn.Write(m); err != nil {
				t.Fatalf("writing %d bytes: %v", n, err)
			}
			if _, err := io.ReadFull(br, make([]byte, n)); err != nil {
				t.Fatalf("reading the %d-byte echo: %v", n, err)
			}
		}
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.ReadAll(br)
		d := time.Since(start)
		if err != nil || len(rest) != 0 {
			t.Errorf("after the backend closed: %d more bytes, err %v after %v; want EOF", len(rest), err, d)
		} else {
			t.Logf("the client saw EOF %v after the backend's last echo", d.Round(time.Millisecond))
		}
		if d > 2*time.Second {
			t.Errorf("the client saw the backend's close after %v, want within 2s", d)
		}
		eventually(t, 5*time.Second, "the backend's upgraded connection to end", func() bool { return wsOpen() == 0 })
		conn.Close()
		g.chaosCheckSettled(t, "after the backend closed", base)
	})
}

// chaosUpgrade sends a WebSocket upgrade for path and returns the switched
// connection and its reader.
func chaosUpgrade(t *testing.T, g *gw, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(g.port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"+
		"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the upgrade answer: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		t.Fatalf("upgrade answered %d %q, want 101", resp.StatusCode, body)
	}
	return conn, br
}
