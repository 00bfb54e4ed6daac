package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestIdleConnectionsHoldNoGoroutine: keep-alive client connections idle
// for more than a second are parked (no goroutine each), and each is
// served again, on the same connection, when its next request comes.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	b := startProcess(t, "idle")
	g := startGateway(t, chaosMemoryConfig(label, b.url))
	path := "/p/" + label + "/x"
	g.waitBackend(t, path, b.name, 5*time.Second)
	base := g.chaosBaseline(t).goroutines

	const n = 200
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	addr := g.url[len("http://"):]
	get := func(cl client, i int) {
		t.Helper()
		cl.c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(cl.c, "GET %s?i=%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path, i)
		resp, err := http.ReadResponse(cl.br, nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("connection %d: status %d, close %v", i, resp.StatusCode, resp.Close)
		}
	}
	clients := make([]client, n)
	for i := range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = client{c, bufio.NewReader(c)}
		get(clients[i], i)
	}
	// Without parking, each idle connection keeps a goroutine.
	start := time.Now()
	for {
		gr := g.chaosGoroutines(t)
		if gr <= base+10 {
			t.Logf("%d idle connections: goroutines %d -> %d after %v", n, base, gr, time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("with %d idle keep-alive connections the gateway has %d goroutines (%d before they opened), want them parked",
				n, gr, base)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, cl := range clients {
		get(cl, n+i)
	}
}
