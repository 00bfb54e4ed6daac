package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestRateLimit: a token bucket per (route, key): the default tier allows 3
// requests a minute, premium 10, an unknown tier gets the default; the
// request past the limit is a JSON 429 with Retry-After, and every answer of
// the route carries RateLimit-Limit/-Remaining/-Reset. A request without
// the key header is keyed by its client IP.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "limited", map[string]string{"app_name": label})
	g := startGateway(t, policyConfig(label, `    rate_limit:
      key: header:X-User-ID
      tier_header: X-User-Tier
      default: {requests: 3, per: 1m}
      tiers:
        premium: {requests: 10, per: 1m}
        bursty: {requests: 60, per: 1m, burst: 2}
`, ""))
	g.waitBackend(t, "/free/"+label+"/x", c.name, 5*time.Second)
	path := "/api/" + label + "/x"

	for _, tc := range []struct {
		name  string
		kv    []string // request headers
		limit int
	}{
		{"default tier", []string{"X-User-ID", "alice"}, 3},
		{"premium tier", []string{"X-User-ID", "bob", "X-User-Tier", "premium"}, 10},
		{"unknown tier gets the default", []string{"X-User-ID", "carol", "X-User-Tier", "gold"}, 3},
		{"no key header: client IP", nil, 3},
		{"another user is not limited by alice", []string{"X-User-ID", "dave"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.limit {
				r := g.getH(t, path, tc.kv...)
				if r.status != http.StatusOK || r.backend() != c.name {
					t.Fatalf("request %d of %d = %d from %q, want 200 from %s; body %q",
						i+1, tc.limit, r.status, r.backend(), c.name, r.body)
				}
				if !t.Failed() { // once is enough
					checkRateLimitHeaders(t, r, tc.limit, tc.limit-i-1)
				}
			}
			r := g.getH(t, path, tc.kv...)
			if r.status != http.StatusTooManyRequests {
				t.Fatalf("request %d = %d, want 429; body %q", tc.limit+1, r.status, r.body)
			}
			if r.backend() != "" {
				t.Errorf("429 came from backend %q, want it made by the gateway", r.backend())
			}
			checkErrorBody(t, r)
			checkRateLimitHeaders(t, r, tc.limit, 0)
			// One token comes back every 60s/limit: Retry-After is about that.
			if ra, err := headerInt(r.header, "Retry-After"); err != nil {
				t.Errorf("429: %v", err)
			} else if ra < 1 || ra > 60 {
				t.Errorf("429: Retry-After %d, want 1..60 seconds", ra)
			}
		})
	}

	t.Run("burst, then one token a second", func(t *testing.T) { testBurstRefill(t, g, path) })

	// The unlimited route of the same backend is not affected.
	if r := g.getH(t, "/free/"+label+"/x", "X-User-ID", "alice"); r.status != http.StatusOK {
		t.Errorf("GET on the route without rate_limit = %d, want 200", r.status)
	}
	if r := g.getH(t, "/free/"+label+"/x", "X-User-ID", "alice"); r.header.Get("RateLimit-Limit") != "" {
		t.Errorf("route without rate_limit answered RateLimit-Limit %q, want none", r.header.Get("RateLimit-Limit"))
	}
}

// checkRateLimitHeaders asserts the IETF RateLimit-* headers of an answer.
func checkRateLimitHeaders(t *testing.T, r reply, limit, remaining int) {
	t.Helper()
	if n, err := headerInt(r.header, "RateLimit-Limit"); err != nil || n != limit {
		t.Errorf("status %d: RateLimit-Limit %q (%v), want %d", r.status, r.header.Get("RateLimit-Limit"), err, limit)
	}
	if n, err := headerInt(r.header, "RateLimit-Remaining"); err != nil || n != remaining {
		t.Errorf("status %d: RateLimit-Remaining %q (%v), want %d", r.status, r.header.Get("RateLimit-Remaining"), err, remaining)
	}
	if n, err := headerInt(r.header, "RateLimit-Reset"); err != nil || n > 60 {
		t.Errorf("status %d: RateLimit-Reset %q (%v), want 0..60 seconds", r.status, r.header.Get("RateLimit-Reset"), err)
	}
}

// testBurstRefill: tier bursty (60 a minute, burst 2) allows 2 requests at
// once, then one a second.
func testBurstRefill(t *testing.T, g *gw, path string) {
	kv := []string{"X-User-ID", "erin", "X-User-Tier", "bursty"}
	for i := range 2 {
		if r := g.getH(t, path, kv...); r.status != http.StatusOK {
			t.Fatalf("request %d of the burst of 2 = %d, want 200", i+1, r.status)
		}
	}
	r := g.getH(t, path, kv...)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("request past the burst = %d, want 429", r.status)
	}
	refused := time.Now()
	if ra, err := headerInt(r.header, "Retry-After"); err != nil || ra < 1 || ra > 2 {
		t.Errorf("Retry-After %q (%v), want 1 (one token a second)", r.header.Get("Retry-After"), err)
	}
	eventually(t, 3*time.Second, "a refilled token", func() bool {
		return g.getH(t, path, kv...).status == http.StatusOK
	})
	if d := time.Since(refused); d < 500*time.Millisecond {
		t.Errorf("token refilled %v after the 429, want about 1s", d)
	}
}
