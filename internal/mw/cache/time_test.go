package cache

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rgate/rgate/internal/config"
)

// sleepUntil sleeps until at after start (fake time in a bubble).
func sleepUntil(start time.Time, at time.Duration) {
	time.Sleep(time.Until(start.Add(at)))
}

func TestTTLExpiry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		h := New(newStore(config.Duration(10*time.Second), 0, 0), counting(&n, text("x")))
		start := time.Now()
		if r := serve(h, http.MethodGet, "/t"); r.xcache() != "MISS" {
			t.Fatalf("first: X-Cache %q", r.xcache())
		}
		sleepUntil(start, 4*time.Second)
		r := serve(h, http.MethodGet, "/t")
		if r.xcache() != "HIT" {
			t.Fatalf("at 4s: X-Cache %q, want HIT", r.xcache())
		}
		wantHeader(t, r, "Age", "4")
		wantHeader(t, r, "Cache-Status", "rgate; hit; ttl=6")
		sleepUntil(start, 11*time.Second)
		r = serve(h, http.MethodGet, "/t")
		if r.xcache() != "MISS" {
			t.Fatalf("at 11s: X-Cache %q, want MISS", r.xcache())
		}
		wantHeader(t, r, "Cache-Status", "rgate; fwd=stale; stored")
		if r := serve(h, http.MethodGet, "/t"); r.xcache() != "HIT" {
			t.Errorf("after refetch: X-Cache %q, want HIT", r.xcache())
		}
		if n.Load() != 2 {
			t.Errorf("next called %d times, want 2", n.Load())
		}
	})
}

func TestFreshnessLifetime(t *testing.T) {
	t.Parallel()
	dated := func(expiresIn time.Duration) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			now := time.Now().UTC()
			w.Header().Set("Date", now.Format(http.TimeFormat))
			w.Header().Set("Expires", now.Add(expiresIn).Format(http.TimeFormat))
			text("x")(w, r)
		}
	}
	for _, tc := range []struct {
		name     string
		origin   http.HandlerFunc
		hit, mis time.Duration // still a HIT at hit; a MISS at mis
	}{
		{"route ttl", text("x"), 9 * time.Second, 11 * time.Second},
		{"max-age beats ttl", text("x", "Cache-Control", "max-age=30"), 29 * time.Second, 31 * time.Second},
		{"s-maxage beats max-age", text("x", "Cache-Control", "max-age=30, s-maxage=5"), 4 * time.Second, 6 * time.Second},
		{"upstream Age counts", text("x", "Cache-Control", "max-age=30", "Age", "25"), 4 * time.Second, 6 * time.Second},
		{"expires", dated(20 * time.Second), 19 * time.Second, 21 * time.Second},
		{"max-age beats expires", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=3")
			dated(20*time.Second)(w, r)
		}, 2 * time.Second, 4 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int64
				h := New(newStore(config.Duration(10*time.Second), 0, 0), counting(&n, tc.origin))
				start := time.Now()
				serve(h, http.MethodGet, "/f")
				sleepUntil(start, tc.hit)
				if r := serve(h, http.MethodGet, "/f"); r.xcache() != "HIT" {
					t.Errorf("at %v: X-Cache %q, want HIT", tc.hit, r.xcache())
				}
				sleepUntil(start, tc.mis)
				if r := serve(h, http.MethodGet, "/f"); r.xcache() != "MISS" {
					t.Errorf("at %v: X-Cache %q, want MISS", tc.mis, r.xcache())
				}
				if n.Load() != 2 {
					t.Errorf("next called %d times, want 2", n.Load())
				}
			})
		})
	}
}

func TestRequestMaxAge(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := New(NewStore(defaultCfg()), http.HandlerFunc(text("x")))
		serve(h, http.MethodGet, "/m")
		time.Sleep(5 * time.Second)
		for _, tc := range []struct{ maxAge, want string }{{"10", "HIT"}, {"5", "HIT"}, {"4", "MISS"}} {
			r := serve(h, http.MethodGet, "/m", "Cache-Control", "max-age="+tc.maxAge)
			if r.xcache() != tc.want {
				t.Errorf("max-age=%s: X-Cache %q, want %q", tc.maxAge, r.xcache(), tc.want)
			}
		}
	})
}

func TestAgeHeaderGrows(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := New(NewStore(defaultCfg()), http.HandlerFunc(text("x", "Age", "7")))
		serve(h, http.MethodGet, "/age")
		for i := range 3 {
			r := serve(h, http.MethodGet, "/age")
			wantHeader(t, r, "Age", strconv.Itoa(7+i*2))
			time.Sleep(2 * time.Second)
		}
	})
}
