package e2e

import (
	"net/http"
	"testing"
	"time"
)

// breakerStates are the values of rgate_backend_breaker_state.
var breakerStates = map[string]float64{"closed": 0, "open": 1, "half_open": 2}

// TestCircuitBreaker: a container answering 500s opens its backend's
// breaker after `failures` of them; while open, every request of the backend
// is a quick 503 with Retry-After, made by the gateway; after open_for one
// probe goes through: a failing probe opens it again, a passing one closes
// it. The state shows in /health, /stats and /metrics.
func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "flaky", map[string]string{"app_name": label})
	g := startGateway(t, policyConfig(label, "    retries: 0\n",
		"    circuit_breaker: {failures: 3, window: 10s, min_requests: 3, open_for: 1s, half_open_requests: 1}\n"))
	base := "/api/" + label
	g.waitBackend(t, base+"/x", c.name, 5*time.Second)
	checkBreaker(t, g, "closed")

	fail := base + "/status?code=500"
	for i := range 3 {
		if r := g.get(t, fail); r.status != http.StatusInternalServerError || r.backend() != c.name {
			t.Fatalf("failing request %d = %d from %q, want the container's 500", i+1, r.status, r.backend())
		}
	}
	opened := time.Now()
	checkOpen(t, g, base+"/x", fail, "/free/"+label+"/x")

	// After open_for, a failing probe reaches the container and opens the
	// breaker again.
	eventually(t, 3*time.Second, "a half-open probe reaching the container", func() bool {
		r := g.get(t, fail)
		if r.status == http.StatusServiceUnavailable && r.backend() == "" {
			return false
		}
		if r.status != http.StatusInternalServerError || r.backend() != c.name {
			t.Fatalf("GET %s while open/half-open = %d from %q, want 503 from the gateway or the container's 500",
				fail, r.status, r.backend())
		}
		return true
	})
	if d := time.Since(opened); d < 900*time.Millisecond {
		t.Errorf("probe went through %v after the breaker opened, want after open_for (1s)", d)
	}
	checkBreakerRefusal(t, base+"/x", g.get(t, base+"/x"))

	// A passing probe closes it.
	reopened := time.Now()
	g.waitBackend(t, base+"/x", c.name, 3*time.Second)
	if d := time.Since(reopened); d < 800*time.Millisecond {
		t.Errorf("passing probe went through %v after the breaker reopened, want after open_for (1s)", d)
	}
	for i := range 5 {
		if r := g.get(t, base+"/x"); r.status != http.StatusOK || r.backend() != c.name {
			t.Fatalf("request %d after recovery = %d from %q, want 200 from %s", i+1, r.status, r.backend(), c.name)
		}
	}
	checkBreaker(t, g, "closed")
}

// checkOpen asserts an open breaker: every path of the backend, even one
// that would pass, is refused quickly; /health, /stats and /metrics say so.
func checkOpen(t *testing.T, g *gw, paths ...string) {
	t.Helper()
	for _, p := range paths {
		start := time.Now()
		r := g.get(t, p)
		checkBreakerRefusal(t, p, r)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("GET %s refused after %v, want a quick answer", p, d)
		}
	}
	checkBreaker(t, g, "open")
	if trip := jsonString(g.adminJSON(t, "/health"), "backends", "b", "breaker", "last_trip"); trip == "" {
		t.Errorf("GET /health: backends.b.breaker.last_trip empty with the breaker open, want the reason")
	}
	if _, ok := jsonAt(g.adminJSON(t, "/stats"), "backends", "b", "breaker"); !ok {
		t.Errorf("GET /stats: no backends.b.breaker")
	}
}

// checkBreakerRefusal asserts a gateway-made 503 with Retry-After.
func checkBreakerRefusal(t *testing.T, path string, r reply) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable || r.backend() != "" {
		t.Fatalf("GET %s with the breaker open = %d from %q, want 503 made by the gateway; body %q",
			path, r.status, r.backend(), r.body)
	}
	checkErrorBody(t, r)
	if ra, err := headerInt(r.header, "Retry-After"); err != nil {
		t.Errorf("GET %s with the breaker open: %v", path, err)
	} else if ra > 2 {
		t.Errorf("GET %s with the breaker open: Retry-After %d, want at most open_for (1s), rounded up", path, ra)
	}
}

// checkBreaker asserts the breaker state of backend b in /health and
// /metrics.
func checkBreaker(t *testing.T, g *gw, want string) {
	t.Helper()
	if got := g.breakerState(t, "b"); got != want {
		t.Errorf("GET /health: backends.b.breaker.state = %q, want %q", got, want)
	}
	v, ok := metricValue(g.metrics(t), "rgate_backend_breaker_state", map[string]string{"backend": "b"})
	if !ok || v != breakerStates[want] {
		t.Errorf("GET /metrics: rgate_backend_breaker_state{backend=\"b\"} = %v (found %v), want %v (%s)",
			v, ok, breakerStates[want], want)
	}
}
