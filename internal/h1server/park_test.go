//go:build linux

package h1server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// parkedCount is how many connections s has parked.
func parkedCount(s *Server) int {
	p := s.park.Load()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// waitParked waits up to 5 s for s to have n connections parked.
func waitParked(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for parkedCount(s) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections parked, want %d", parkedCount(s), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keepAlive is a client connection with one request answered.
type keepAlive struct {
	c  net.Conn
	br *bufio.Reader
}

func openKeepAlive(t *testing.T, addr string, i int) keepAlive {
	t.Helper()
	c := dial(t, addr)
	k := keepAlive{c, bufio.NewReader(c)}
	k.get(t, fmt.Sprintf("/first/%d", i))
	return k
}

func (k keepAlive) get(t *testing.T, path string) {
	t.Helper()
	k.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer k.c.SetReadDeadline(time.Time{})
	fmt.Fprintf(k.c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	if _, body := readResponse(t, k.br, "GET"); body != "ok "+path {
		t.Fatalf("GET %s: body %q", path, body)
	}
}

// TestParkIdle: idle keep-alive connections give their goroutines up, and
// are served again when a request comes, whole or in pieces.
func TestParkIdle(t *testing.T) {
	s := &Server{Handler: okHandler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		ParkIdleAfter: 20 * time.Millisecond}
	addr := startServer(t, s)
	const n = 50
	before := runtime.NumGoroutine()
	conns := make([]keepAlive, n)
	for i := range conns {
		conns[i] = openKeepAlive(t, addr, i)
	}
	waitParked(t, s, n)
	if g := runtime.NumGoroutine(); g > before+5 {
		t.Errorf("%d goroutines with %d connections parked, %d before they opened", g, n, before)
	}
	for i, k := range conns {
		k.get(t, fmt.Sprintf("/again/%d", i))
	}
	waitParked(t, s, n)

	// A head that arrives in pieces, the first while parked.
	k := conns[0]
	io.WriteString(k.c, "GE")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(k.c, "T /split HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := readResponse(t, k.br, "GET"); body != "ok /split" {
		t.Fatalf("split head: body %q", body)
	}
	// Two pipelined requests to a parked connection.
	waitParked(t, s, n)
	io.WriteString(conns[1].c, "GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"ok /p1", "ok /p2"} {
		if _, body := readResponse(t, conns[1].br, "GET"); body != want {
			t.Fatalf("pipelined: body %q, want %q", body, want)
		}
	}
	// The client closing a parked connection frees it on the server.
	waitParked(t, s, n)
	for _, k := range conns[:10] {
		k.c.Close()
	}
	waitParked(t, s, n-10)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		open := len(s.conns)
		s.mu.Unlock()
		if open == n-10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections tracked after 10 of %d closed", open, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestParkIdleTimeout: a parked connection is still closed at its idle
// timeout (within the parker's sweep period).
func TestParkIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	s := &Server{Handler: okHandler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: idle,
		ParkIdleAfter: 20 * time.Millisecond}
	addr := startServer(t, s)
	k := openKeepAlive(t, addr, 0)
	start := time.Now()
	waitParked(t, s, 1)
	expectClosed(t, k.c, k.br, 5*time.Second)
	if d := time.Since(start); d < idle {
		t.Errorf("closed %v after the response, before the idle timeout %v", d, idle)
	}
	waitParked(t, s, 0)
}

// TestParkShutdownAndClose: Shutdown and Close close parked connections
// and stop the parker (goleak checks its goroutine at exit).
func TestParkShutdownAndClose(t *testing.T) {
	for _, how := range []string{"Shutdown", "Close"} {
		t.Run(how, func(t *testing.T) {
			s := &Server{Handler: okHandler(), ParkIdleAfter: 10 * time.Millisecond}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			serveErr := make(chan error, 1)
			go func() { serveErr <- s.Serve(ln) }()
			conns := []keepAlive{openKeepAlive(t, ln.Addr().String(), 0), openKeepAlive(t, ln.Addr().String(), 1)}
			waitParked(t, s, 2)
			if how == "Shutdown" {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := s.Shutdown(ctx); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
			} else if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			for _, k := range conns {
				expectClosed(t, k.c, k.br, 3*time.Second)
			}
			if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
			s.connWG.Wait()
			if p := s.park.Load(); p == nil || !p.closed {
				t.Error("the parker is still running")
			}
		})
	}
}

// TestParkOff: with parking off (ParkIdleAfter <= 0; startServer only
// fills in zero) no parker starts.
func TestParkOff(t *testing.T) {
	s := &Server{Handler: okHandler(), ParkIdleAfter: -1}
	addr := startServer(t, s)
	k := openKeepAlive(t, addr, 0)
	time.Sleep(50 * time.Millisecond)
	k.get(t, "/later")
	if s.park.Load() != nil {
		t.Error("a parker started with parking off")
	}
}

// TestParkNudge: after a burst of parks (parkNudgeMin of them, then a loop
// tick without any) the parker has the runtime return free memory, once;
// a burst below parkNudgeMin does not.
func TestParkNudge(t *testing.T) {
	var nudges atomic.Int32
	min0, free0 := parkNudgeMin, freeOSMemory
	parkNudgeMin, freeOSMemory = 5, func() { nudges.Add(1) }
	t.Cleanup(func() { parkNudgeMin, freeOSMemory = min0, free0 })

	s := &Server{Handler: okHandler(), ParkIdleAfter: 5 * time.Millisecond}
	addr := startServer(t, s)
	var conns []keepAlive
	for i := range 4 {
		conns = append(conns, openKeepAlive(t, addr, i))
	}
	waitParked(t, s, 4)
	time.Sleep(2*parkLoopTick + 200*time.Millisecond)
	if n := nudges.Load(); n != 0 {
		t.Fatalf("%d nudges after 4 parks, want none below parkNudgeMin (5)", n)
	}
	conns = append(conns, openKeepAlive(t, addr, 4))
	waitParked(t, s, 5)
	deadline := time.Now().Add(3 * parkLoopTick)
	for nudges.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(parkLoopTick) // a second nudge would come by now
	if n := nudges.Load(); n != 1 {
		t.Fatalf("%d nudges after a burst of 5 parks, want 1", n)
	}
	// Another burst within parkNudgeEvery: no second nudge.
	for i, k := range conns {
		k.get(t, fmt.Sprintf("/again/%d", i))
	}
	waitParked(t, s, 5)
	time.Sleep(2*parkLoopTick + 200*time.Millisecond)
	if n := nudges.Load(); n != 1 {
		t.Fatalf("%d nudges after a second burst within %v, want still 1", n, parkNudgeEvery)
	}
}
