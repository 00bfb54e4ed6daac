package cache

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/httperr"
)

// flaky answers good until down is set, then fail.
func flaky(down *atomic.Bool, good, fail http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			fail(w, r)
			return
		}
		good(w, r)
	}
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-From-Error", "1")
		w.WriteHeader(code)
		_, _ = w.Write([]byte("upstream error"))
	}
}

// breakerOpen writes what the gateway writes for an open breaker or no
// upstream: httperr's 503.
func breakerOpen(w http.ResponseWriter, r *http.Request) {
	httperr.Write(w, r, httperr.ErrCircuitOpen)
}

func TestStaleIfError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		good     http.HandlerFunc
		fail     http.HandlerFunc
		staleFor time.Duration // route stale_if_error
		at       time.Duration // when the failing request comes (ttl 10s)
		want     int           // status seen
		xcache   string
	}{
		{"breaker open", text("good"), breakerOpen, time.Hour, 15 * time.Second, 200, "STALE"},
		{"upstream 503", text("good"), status(503), time.Hour, 15 * time.Second, 200, "STALE"},
		{"upstream 500", text("good"), status(500), time.Hour, 15 * time.Second, 200, "STALE"},
		{"gateway 504", text("good"), status(504), time.Hour, 15 * time.Second, 200, "STALE"},
		{"4xx passes", text("good"), status(404), time.Hour, 15 * time.Second, 404, "MISS"},
		{"within stale_if_error", text("good"), breakerOpen, 30 * time.Second, 39 * time.Second, 200, "STALE"},
		{"beyond stale_if_error", text("good"), breakerOpen, 30 * time.Second, 41 * time.Second, 503, "MISS"},
		{"stale-if-error=5 within", text("good", "Cache-Control", "stale-if-error=5"), breakerOpen, time.Hour, 14 * time.Second, 200, "STALE"},
		{"stale-if-error=5 beyond", text("good", "Cache-Control", "stale-if-error=5"), breakerOpen, time.Hour, 16 * time.Second, 503, "MISS"},
		{"must-revalidate", text("good", "Cache-Control", "must-revalidate"), breakerOpen, time.Hour, 15 * time.Second, 503, "MISS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var down atomic.Bool
				s := newStore(config.Duration(10*time.Second), config.Duration(tc.staleFor), 0)
				h := New(s, flaky(&down, tc.good, tc.fail))
				start := time.Now()
				serve(h, http.MethodGet, "/s")
				down.Store(true)
				sleepUntil(start, tc.at)
				r := serve(h, http.MethodGet, "/s")
				if r.status != tc.want || r.xcache() != tc.xcache {
					t.Fatalf("status %d X-Cache %q, want %d %q", r.status, r.xcache(), tc.want, tc.xcache)
				}
				if tc.xcache != "STALE" {
					return
				}
				if r.body != "good" || r.header.Get("X-From-Error") != "" || r.header.Get("Content-Type") != "text/plain" {
					t.Errorf("stale answer: body %q header %v", r.body, r.header)
				}
				wantPrefix(t, r, "Cache-Status", "rgate; fwd=stale; fwd-status=")
				wantHeader(t, r, "Age", strings.TrimSuffix(tc.at.String(), "s"))
				if st := s.Stats(); st.Stale != 1 || st.Misses != 1 {
					t.Errorf("Stats() = %+v", st)
				}
			})
		})
	}
}

func TestStaleRecovers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var down atomic.Bool
		var n atomic.Int64
		h := New(newStore(config.Duration(10*time.Second), 0, 0), counting(&n, flaky(&down, text("good"), breakerOpen)))
		serve(h, http.MethodGet, "/s")
		time.Sleep(15 * time.Second)
		down.Store(true)
		wantHeader(t, serve(h, http.MethodGet, "/s"), "Cache-Status", "rgate; fwd=stale; fwd-status=503; ttl=-5")
		down.Store(false)
		if r := serve(h, http.MethodGet, "/s"); r.xcache() != "MISS" || r.cacheStatus() != "rgate; fwd=stale; stored" {
			t.Errorf("after recovery: X-Cache %q Cache-Status %q", r.xcache(), r.cacheStatus())
		}
		if r := serve(h, http.MethodGet, "/s"); r.xcache() != "HIT" {
			t.Errorf("then: X-Cache %q, want HIT", r.xcache())
		}
		if n.Load() != 3 {
			t.Errorf("next called %d times, want 3", n.Load())
		}
	})
}

// TestStaleWhenOriginFails drives a real backend through ReverseProxy. The
// origin's first answer arrives already stale (Age > max-age), so no clock
// is needed.
func TestStaleWhenOriginFails(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	o := newOrigin(t, flaky(&down, text("good", "Cache-Control", "max-age=60", "Age", "120"), status(503)))
	srv := front(t, NewStore(defaultCfg()), o)
	if r := get(t, srv, http.MethodGet, "/s"); r.xcache() != "MISS" || r.cacheStatus() != "rgate; fwd=uri-miss; stored" {
		t.Fatalf("first: X-Cache %q Cache-Status %q", r.xcache(), r.cacheStatus())
	}
	down.Store(true)
	r := get(t, srv, http.MethodGet, "/s")
	if r.status != 200 || r.body != "good" || r.xcache() != "STALE" {
		t.Fatalf("origin 503: status %d body %q X-Cache %q", r.status, r.body, r.xcache())
	}
	wantPrefix(t, r, "Cache-Status", "rgate; fwd=stale; fwd-status=503; ttl=-6")

	o.srv.Close() // backend down: the proxy's error becomes httperr's 503
	r = get(t, srv, http.MethodGet, "/s")
	if r.status != 200 || r.body != "good" || r.xcache() != "STALE" {
		t.Fatalf("origin down: status %d body %q X-Cache %q", r.status, r.body, r.xcache())
	}
	if r := get(t, srv, http.MethodGet, "/other"); r.status != http.StatusServiceUnavailable || r.xcache() != "MISS" {
		t.Errorf("no stale entry: status %d X-Cache %q, want 503 MISS", r.status, r.xcache())
	}
}
