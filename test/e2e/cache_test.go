package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// cacheRig is a gateway whose route /api/<label> caches (ttl 1m) in front
// of one container, with the testapp's hit counter on an uncached route.
type cacheRig struct {
	g              *gw
	c              *ctr
	base, hitsPath string
}

func newCacheRig(t *testing.T) *cacheRig {
	t.Helper()
	label := uniq(t)
	c := runContainer(t, "cached", map[string]string{"app_name": label})
	g := startGateway(t, policyConfig(label, "    cache: {ttl: 1m, max_bytes: 1MiB}\n", ""))
	g.waitBackend(t, "/free/"+label+"/x", c.name, 5*time.Second)
	return &cacheRig{g: g, c: c, base: "/api/" + label, hitsPath: "/free/" + label + "/hits"}
}

// do sends a request to base+path and reports whether the container was
// reached.
func (k *cacheRig) do(t *testing.T, method, path string, kv ...string) (r reply, reached bool) {
	t.Helper()
	before := k.g.upstreamHits(t, k.hitsPath)
	r = k.g.do(t, k.g.requestH(t, method, k.base+path, nil, kv...))
	return r, k.g.upstreamHits(t, k.hitsPath) > before
}

// TestCacheHit: the second GET of a path is a HIT served without reaching
// the container, byte for byte the first answer, and Cache-Status says so;
// the query is part of the key; concurrent misses make one upstream request.
func TestCacheHit(t *testing.T) {
	t.Parallel()
	k := newCacheRig(t)
	miss, reached := k.do(t, http.MethodGet, "/item?id=1")
	if miss.status != http.StatusOK || !reached || miss.header.Get("X-Cache") != "MISS" {
		t.Fatalf("first GET = %d, X-Cache %q, reached container %v; want 200 MISS from the container",
			miss.status, miss.header.Get("X-Cache"), reached)
	}
	if cs := strings.ToLower(miss.header.Get("Cache-Status")); !strings.Contains(cs, "miss") {
		t.Errorf("first GET: Cache-Status %q, want it to say miss (e.g. `rgate; fwd=miss`)", cs)
	}
	hit, reached := k.do(t, http.MethodGet, "/item?id=1")
	if hit.status != http.StatusOK || reached || hit.header.Get("X-Cache") != "HIT" {
		t.Fatalf("second GET = %d, X-Cache %q, reached container %v; want 200 HIT from the cache",
			hit.status, hit.header.Get("X-Cache"), reached)
	}
	if !bytes.Equal(hit.body, miss.body) || hit.backend() != k.c.name {
		t.Errorf("HIT body/X-Backend-Name differ from the cached answer:\n%q %q\n%q %q",
			miss.backend(), miss.body, hit.backend(), hit.body)
	}
	if cs := strings.ToLower(hit.header.Get("Cache-Status")); !strings.Contains(cs, "hit") {
		t.Errorf("second GET: Cache-Status %q, want it to say hit (e.g. `rgate; hit`)", cs)
	}
	checkProxyHeaders(t, "cache HIT", hit, "b")
	if id := hit.header.Get("X-Request-Id"); id == miss.header.Get("X-Request-Id") {
		t.Errorf("HIT carries the X-Request-Id %q of the request that filled the cache, want its own", id)
	}
	if r, reached := k.do(t, http.MethodGet, "/item?id=2"); r.header.Get("X-Cache") != "MISS" || !reached {
		t.Errorf("GET ?id=2 after ?id=1: X-Cache %q, reached %v; want MISS", r.header.Get("X-Cache"), reached)
	}
	t.Run("concurrent misses make one upstream request", func(t *testing.T) { testSingleFlight(t, k) })
}

func testSingleFlight(t *testing.T, k *cacheRig) {
	const n = 8
	before := k.g.upstreamHits(t, k.hitsPath)
	done := make(chan reply, n)
	for range n {
		req := k.g.request(t, http.MethodGet, k.base+"/sleep?d=300ms", nil)
		go func() {
			r, err := k.g.tryDo(req)
			if err != nil {
				r.status = -1
			}
			done <- r
		}()
	}
	for range n {
		if r := <-done; r.status != http.StatusOK || string(r.body) != "slept 300ms" {
			t.Errorf("concurrent GET = %d %q, want 200 \"slept 300ms\"", r.status, r.body)
		}
	}
	if got := k.g.upstreamHits(t, k.hitsPath) - before; got != 1 {
		t.Errorf("%d concurrent GETs of one uncached path reached the container %d times, want once", n, got)
	}
}

// TestCacheVary: an answer with Vary: X-Lang is stored per X-Lang value.
func TestCacheVary(t *testing.T) {
	t.Parallel()
	k := newCacheRig(t)
	p := "/respond?h=" + url.QueryEscape("Vary:X-Lang")
	for i, s := range []struct {
		lang, want string
	}{{"en", "MISS"}, {"en", "HIT"}, {"fr", "MISS"}, {"fr", "HIT"}, {"en", "HIT"}} {
		r, reached := k.do(t, http.MethodGet, p, "X-Lang", s.lang)
		if r.status != http.StatusOK || r.header.Get("X-Cache") != s.want || reached != (s.want == "MISS") {
			t.Errorf("GET %d with X-Lang %s = %d, X-Cache %q, reached container %v; want %s",
				i+1, s.lang, r.status, r.header.Get("X-Cache"), reached, s.want)
		} else if got := decodeEcho(t, r).header("X-Lang"); got != s.lang {
			t.Errorf("GET %d with X-Lang %s got the answer for X-Lang %s", i+1, s.lang, got)
		}
	}
}

// TestCacheNotStored: POSTs, non-200 answers and answers marked no-store,
// private or max-age=0 reach the container every time.
func TestCacheNotStored(t *testing.T) {
	t.Parallel()
	k := newCacheRig(t)
	for _, tc := range []struct {
		name, method, path string
	}{
		{"POST", http.MethodPost, "/item?id=1"},
		{"404", http.MethodGet, "/status?code=404"},
		{"no-store", http.MethodGet, "/respond?h=" + url.QueryEscape("Cache-Control:no-store")},
		{"private", http.MethodGet, "/respond?h=" + url.QueryEscape("Cache-Control:private, max-age=60")},
		{"max-age=0", http.MethodGet, "/respond?h=" + url.QueryEscape("Cache-Control:max-age=0")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.method != http.MethodGet {
				k.do(t, http.MethodGet, tc.path) // cached for GET, which must not matter
			}
			for i := range 2 {
				r, reached := k.do(t, tc.method, tc.path)
				if r.header.Get("X-Cache") == "HIT" || !reached {
					t.Errorf("%s %s #%d = %d, X-Cache %q: want it to reach the container, not the cache",
						tc.method, tc.path, i+1, r.status, r.header.Get("X-Cache"))
				}
			}
		})
	}
}

// TestCacheStaleWhenBackendDown: once the only container is stopped, a
// cached answer is still served after its ttl (X-Cache: STALE) instead of a
// 503, while an uncached path gets the 503.
func TestCacheStaleWhenBackendDown(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "gone", map[string]string{"app_name": label})
	g := startGateway(t, policyConfig(label, "    retries: 0\n    cache: {ttl: 1s}\n", ""))
	p := "/api/" + label + "/thing"
	g.waitBackend(t, "/free/"+label+"/x", c.name, 5*time.Second)
	if r := g.get(t, p); r.status != http.StatusOK || r.header.Get("X-Cache") != "MISS" {
		t.Fatalf("first GET = %d, X-Cache %q; want 200 MISS", r.status, r.header.Get("X-Cache"))
	}
	c.stop()

	// The entry may have been refreshed while docker stop ran: take what
	// the cache holds now as the reference.
	first := g.get(t, p)
	if first.status != http.StatusOK || first.header.Get("X-Cache") == "MISS" {
		t.Fatalf("GET after docker stop = %d, X-Cache %q; want 200 from the cache (HIT or STALE); body %q",
			first.status, first.header.Get("X-Cache"), first.body)
	}
	eventually(t, 5*time.Second, "X-Cache: STALE", func() bool {
		r := g.get(t, p)
		if r.status != http.StatusOK || !bytes.Equal(r.body, first.body) {
			t.Fatalf("GET %s with the container stopped = %d (X-Cache %q), body %q; want 200 with the cached body",
				p, r.status, r.header.Get("X-Cache"), r.body)
		}
		switch xc := r.header.Get("X-Cache"); xc {
		case "STALE":
			return true
		case "HIT":
			return false
		default:
			t.Fatalf("GET %s with the container stopped: X-Cache %q, want HIT then STALE", p, xc)
			return false
		}
	})
	if r := g.get(t, "/api/"+label+"/never-cached"); r.status != http.StatusServiceUnavailable {
		t.Errorf("GET of an uncached path with the container stopped = %d, want 503; body %q", r.status, r.body)
	}
}
