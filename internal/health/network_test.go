package health

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/upstream"
)

// TestRealBackend probes a real HTTP server over loopback with the
// checker's own client: healthy, failing, recovered, then gone.
func TestRealBackend(t *testing.T) {
	var (
		status atomic.Int32
		agent  atomic.Value
	)
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agent.Store(r.UserAgent())
		if r.URL.Path != "/health" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()

	u := upstream.NewRegistry().Get(upstream.Key{Scheme: "http", Host: srv.Listener.Addr().String()})
	c := NewChecker(nil, nil)
	defer c.Close()
	c.Sync([]Target{{U: u, Backend: "real", Check: config.HealthCheck{
		Path: "/health", Interval: config.Duration(10 * time.Millisecond), Timeout: config.Duration(time.Second),
		HealthyAfter: 1, UnhealthyAfter: 2,
	}}})

	waitFor(t, u, upstream.ActiveHealthy, "")
	if got, _ := agent.Load().(string); got != UserAgent {
		t.Errorf("User-Agent = %q, want %q", got, UserAgent)
	}
	status.Store(http.StatusServiceUnavailable)
	waitFor(t, u, upstream.ActiveUnhealthy, "GET /health: status 503")
	status.Store(http.StatusOK)
	waitFor(t, u, upstream.ActiveHealthy, "")
	srv.Close()
	waitFor(t, u, upstream.ActiveUnhealthy, "GET /health: connection refused")
}

// waitFor polls u until its verdict matches, failing after a deadline.
func waitFor(t *testing.T, u *upstream.Upstream, active, reason string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := u.Health()
		if h.Active == active && h.ActiveReason == reason {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %q %q, want %q %q", h.Active, h.ActiveReason, active, reason)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
