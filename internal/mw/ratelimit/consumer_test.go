package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/reqinfo"
)

// TestConsumerKeyAndTier: key consumer gives each consumer its own bucket
// (the IP for an anonymous request), and tier_from consumer takes the
// verified tier and ignores the client's tier header.
func TestConsumerKeyAndTier(t *testing.T) {
	t.Parallel()
	l := NewLimiter(config.RateLimit{Key: config.RateKeyConsumer, TierFrom: config.TierFromConsumer,
		Default: config.Rate{Requests: 1, Per: config.Duration(time.Hour)},
		Tiers:   map[string]config.Rate{"premium": {Requests: 3, Per: config.Duration(time.Hour)}}})
	h := New(l, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	allowed := func(consumer, tier string, n int) int {
		ok := 0
		for range n {
			w := &reqinfo.Writer{ResponseWriter: httptest.NewRecorder()}
			w.Info.Consumer, w.Info.ConsumerTier, w.Info.ClientIP = consumer, tier, "192.0.2.7"
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("X-User-Tier", "premium")
			h.ServeHTTP(w, r)
			if !w.Info.RateLimited {
				ok++
			}
		}
		return ok
	}
	if n := allowed("bob", "", 5); n != 1 {
		t.Errorf("bob (default tier, premium header) passed %d, want 1", n)
	}
	if n := allowed("acme", "premium", 5); n != 3 {
		t.Errorf("acme (premium) passed %d, want 3", n)
	}
	if n := allowed("", "", 5); n != 1 {
		t.Errorf("anonymous (by IP) passed %d, want 1", n)
	}
	if n := allowed("carol", "", 5); n != 1 {
		t.Errorf("carol passed %d, want her own bucket of 1", n)
	}
}
