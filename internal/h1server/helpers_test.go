package h1server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// testParkIdleAfter is the ParkIdleAfter startServer gives servers that
// set none: short, so that keep-alive waits in the tests go through
// parking and resuming.
const testParkIdleAfter = time.Millisecond

// startServer runs s on a loopback listener and returns its address. The
// server is shut down (and its goroutines waited for) at cleanup.
func startServer(t testing.TB, s *Server) string {
	t.Helper()
	if s.ParkIdleAfter == 0 {
		s.ParkIdleAfter = testParkIdleAfter
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

// startStd runs a plain net/http server configured like s would configure
// its fallback.
func startStd(t testing.TB, h http.Handler, rht, idle time.Duration, maxHeader int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: rht, IdleTimeout: idle, MaxHeaderBytes: maxHeader}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-done
	})
	return ln.Addr().String()
}

func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
