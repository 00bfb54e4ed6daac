package cache

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rgate/rgate/internal/config"
)

const concurrent = 20

// TestSingleFlight sends concurrent misses through a real proxy and
// backend: the backend holds the first request until every other one is
// waiting for it.
func TestSingleFlight(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, concurrent)
	release := make(chan struct{})
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		text("shared", "Cache-Control", "max-age=60")(w, r)
	})
	s := NewStore(defaultCfg())
	waiting := make(chan struct{}, concurrent)
	s.waitHook = func() { waiting <- struct{}{} }
	srv := front(t, s, o)

	var wg sync.WaitGroup
	results := make([]response, concurrent)
	errs := make([]error, concurrent)
	for i := range concurrent {
		wg.Go(func() { results[i], errs[i] = do(srv, http.MethodGet, "/sf") })
	}
	<-arrived
	for range concurrent - 1 {
		<-waiting
	}
	close(release)
	wg.Wait()

	if n := o.count.Load(); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}
	misses, collapsed := 0, 0
	for i, r := range results {
		if errs[i] != nil || r.body != "shared" {
			t.Errorf("request %d: %q, %v", i, r.body, errs[i])
		}
		switch {
		case r.xcache() == "MISS":
			misses++
		case r.xcache() == "HIT" && strings.HasPrefix(r.cacheStatus(), "rgate; fwd=uri-miss; collapsed; ttl="):
			collapsed++
		default:
			t.Errorf("request %d: X-Cache %q Cache-Status %q", i, r.xcache(), r.cacheStatus())
		}
	}
	if misses != 1 || collapsed != concurrent-1 {
		t.Errorf("%d misses, %d collapsed; want 1, %d", misses, collapsed, concurrent-1)
	}
	if st := s.Stats(); st.Hits != concurrent-1 || st.Misses != 1 {
		t.Errorf("Stats() = %+v", st)
	}
}

// flightNext is an in-process next handler whose first call blocks until
// release is closed and then answers first; later calls answer later.
func flightNext(n *atomic.Int64, release <-chan struct{}, first, later http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-release
			first(w, r)
			return
		}
		later(w, r)
	})
}

// collapse serves concurrent GETs of target through h in a bubble: it lets
// them all block, releases the leader and returns every answer.
func collapse(ctx context.Context, h http.Handler, release chan struct{}) []response {
	var wg sync.WaitGroup
	results := make([]response, concurrent)
	for i := range concurrent {
		wg.Go(func() {
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/c", nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			results[i] = response{rec.Code, rec.Result().Header, rec.Body.String()}
		})
	}
	synctest.Wait() // the leader holds in next; the others wait for its flight
	close(release)
	wg.Wait()
	return results
}

func TestSingleFlightOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		first       http.HandlerFunc
		stale       bool // an expired entry exists before the flight
		wantCalls   int64
		wantXCache  map[string]int
		wantBodyAll string
	}{
		{"stored: followers served from it", text("v", "Cache-Control", "max-age=60"), false, 1,
			map[string]int{"MISS": 1, "HIT": concurrent - 1}, "v"},
		{"not cacheable: followers fetch", text("v", "Cache-Control", "no-store"), false, concurrent,
			map[string]int{"MISS": concurrent}, "v"},
		{"failed with stale: followers serve stale", status(503), true, 1,
			map[string]int{"STALE": concurrent}, "old"},
		{"failed without stale: followers fetch", status(503), false, concurrent,
			map[string]int{"MISS": concurrent}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := newStore(config.Duration(10*time.Second), 0, 0)
				if tc.stale {
					serve(New(s, http.HandlerFunc(text("old"))), http.MethodGet, "/c")
					time.Sleep(11 * time.Second)
				}
				var n atomic.Int64
				release := make(chan struct{})
				h := New(s, flightNext(&n, release, tc.first, tc.first))
				results := collapse(context.Background(), h, release)
				if n.Load() != tc.wantCalls {
					t.Errorf("next called %d times, want %d", n.Load(), tc.wantCalls)
				}
				got := map[string]int{}
				for _, r := range results {
					got[r.xcache()]++
					if tc.wantBodyAll != "" && r.body != tc.wantBodyAll {
						t.Errorf("body %q, want %q", r.body, tc.wantBodyAll)
					}
				}
				for k, v := range tc.wantXCache {
					if got[k] != v {
						t.Errorf("X-Cache counts %v, want %v", got, tc.wantXCache)
						break
					}
				}
			})
		})
	}
}

func TestFollowerLeavesWithItsContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		release := make(chan struct{})
		h := New(NewStore(defaultCfg()), flightNext(&n, release, text("v"), text("v")))
		leader := httptest.NewRecorder()
		go h.ServeHTTP(leader, httptest.NewRequest(http.MethodGet, "/c", nil))
		synctest.Wait()

		ctx, cancel := context.WithCancel(context.Background())
		follower := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			h.ServeHTTP(follower, httptest.NewRequestWithContext(ctx, http.MethodGet, "/c", nil))
			close(done)
		}()
		synctest.Wait()
		cancel()
		<-done
		if follower.Header().Get("X-Cache") != "" || follower.Body.Len() != 0 {
			t.Errorf("follower whose client left got an answer: %v %q", follower.Header(), follower.Body)
		}
		close(release)
		synctest.Wait()
		if leader.Body.String() != "v" || n.Load() != 1 {
			t.Errorf("leader body %q, next calls %d", leader.Body, n.Load())
		}
	})
}

func TestLeaderPanicReleasesFollowers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		release := make(chan struct{})
		h := New(NewStore(defaultCfg()), flightNext(&n, release,
			func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }, text("v")))
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				defer func() {
					if p := recover(); p != nil && i != 0 {
						t.Errorf("request %d: panic %v", i, p)
					}
				}()
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/c", nil))
			})
			synctest.Wait() // the first one leads
		}
		close(release)
		wg.Wait()
		if n.Load() != 3 {
			t.Errorf("next called %d times, want 3 (followers fetch after the leader panicked)", n.Load())
		}
	})
}
