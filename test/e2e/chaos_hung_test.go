package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// chaosHungListener accepts TCP connections, reads whatever comes and never
// answers; it records when each connection is closed by the other side.
type chaosHungListener struct {
	ln     net.Listener
	mu     sync.Mutex
	opened []time.Time
	closed []time.Time // zero while open
	wg     sync.WaitGroup
}

func newChaosHungListener(t *testing.T) *chaosHungListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	h := &chaosHungListener{ln: ln}
	var conns []net.Conn
	h.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			i := len(h.opened)
			h.opened = append(h.opened, time.Now())
			h.closed = append(h.closed, time.Time{})
			conns = append(conns, c)
			h.mu.Unlock()
			h.wg.Go(func() {
				_, _ = io.Copy(io.Discard, c)
				h.mu.Lock()
				h.closed[i] = time.Now()
				h.mu.Unlock()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	return h
}

// counts is how many connections were accepted and how many are still open.
func (h *chaosHungListener) counts() (accepted, open int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.closed {
		if c.IsZero() {
			open++
		}
	}
	return len(h.opened), open
}

// closedAt is when connection i was closed (zero while open).
func (h *chaosHungListener) closedAt(i int) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i >= len(h.closed) {
		return time.Time{}
	}
	return h.closed[i]
}

// TestChaosHungBackend: promise "hung backends cost nothing". A backend that
// accepts and never answers gets 504 after the route's 500ms timeout; a
// client that gives up after 100ms frees the upstream connection at once;
// every upstream connection is closed afterwards and the gateway's fds and
// goroutines are back at their baseline.
func TestChaosHungBackend(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	h := newChaosHungListener(t)
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /api/%[1]s
    backend: hung
    timeout: 500ms
default_response:
  body: "no route"
  status_code: 404
backends:
  - name: hung
    urls: [http://%[2]s]
`, label, h.ln.Addr()))
	base := g.chaosBaseline(t)
	t.Logf("baseline: %d fds, %d goroutines", base.fds, base.goroutines)
	client := newClient(t, 10*time.Second)
	path := "/api/" + label + "/x"

	t.Run("504 after the timeout", func(t *testing.T) {
		const timeout, slack = 500 * time.Millisecond, time.Second
		var lat []time.Duration
		for range 5 {
			start := time.Now()
			r, err := doWith(client, g.request(t, http.MethodGet, path, nil))
			d := time.Since(start)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			lat = append(lat, d)
			if r.status != http.StatusGatewayTimeout {
				t.Errorf("GET %s from a hung backend = %d %q, want 504", path, r.status, r.body)
			}
			if d < timeout-50*time.Millisecond || d > timeout+slack {
				t.Errorf("504 came after %v, want the route timeout %v (+%v at most)", d, timeout, slack)
			}
		}
		t.Logf("504 latency over %d requests: min %v, p50 %v, max %v (route timeout %v)", len(lat),
			chaosPercentile(lat, 0).Round(time.Millisecond), chaosPercentile(lat, 50).Round(time.Millisecond),
			chaosPercentile(lat, 100).Round(time.Millisecond), timeout)
		eventually(t, 2*time.Second, "the hung backend's connections closed after the timeouts", func() bool {
			_, open := h.counts()
			return open == 0
		})
		accepted, _ := h.counts()
		t.Logf("the hung backend accepted %d connections; all closed", accepted)
	})

	t.Run("client gives up", func(t *testing.T) {
		var freed []time.Duration
		for range 3 {
			before, _ := h.counts()
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = doWith(client, req)
			gaveUp := time.Now()
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("GET with a 100ms deadline: %v, want the deadline to pass", err)
			}
			accepted, _ := h.counts()
			if accepted != before+1 {
				t.Fatalf("the hung backend accepted %d connections for one request, want 1", accepted-before)
			}
			var at time.Time
			eventually(t, 2*time.Second, "the upstream connection closed after the client gave up", func() bool {
				at = h.closedAt(before)
				return !at.IsZero()
			})
			freed = append(freed, at.Sub(gaveUp))
		}
		t.Logf("after the client gave up (at 100ms), the upstream connection was closed within %v..%v",
			chaosPercentile(freed, 0).Round(time.Millisecond), chaosPercentile(freed, 100).Round(time.Millisecond))
		if m := chaosPercentile(freed, 100); m > 400*time.Millisecond {
			t.Errorf("the upstream connection stayed open %v after the client gave up, want under 400ms (before the route timeout)", m)
		}
	})
	client.CloseIdleConnections()
	g.chaosCheckSettled(t, "after the hung requests", base)
}
