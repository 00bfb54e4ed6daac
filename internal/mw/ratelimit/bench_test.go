package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
)

// nopWriter is a ResponseWriter whose header map is reused, so benchmarks
// count the middleware's allocations, not the recorder's.
type nopWriter struct {
	h      http.Header
	status int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(status int)      { w.status = status }

func benchHandler(b *testing.B, cfg config.RateLimit) http.Handler {
	b.Helper()
	return New(NewLimiter(cfg), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
}

// fast never runs out: a billion tokens a second, bucket of 1000.
var fast = config.Rate{Requests: 1_000_000_000, Per: config.Duration(time.Second), Burst: 1000}

// BenchmarkAllowedOneKeyParallel: every goroutine is the same client (the
// worst case for contention: one shard, one bucket).
func BenchmarkAllowedOneKeyParallel(b *testing.B) {
	h := benchHandler(b, config.RateLimit{Key: "header:X-User-ID", Default: fast})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-User-ID", "alice")
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkAllowedManyKeysParallel: 10k clients by IP, all already tracked.
func BenchmarkAllowedManyKeysParallel(b *testing.B) {
	const clients = 10_000
	h := benchHandler(b, config.RateLimit{Default: fast})
	addrs := make([]string, clients)
	for i := range addrs {
		addrs[i] = "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + ":1234"
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		w := &nopWriter{h: http.Header{}}
		for i := 0; pb.Next(); i++ {
			r.RemoteAddr = addrs[i%clients]
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkNewKeysAtCap: every request is a client never seen before, with
// the map at its cap, so each one evicts (a key flood).
func BenchmarkNewKeysAtCap(b *testing.B) {
	const ring = 1 << 16
	h := benchHandler(b, config.RateLimit{Key: "header:X-User-ID", MaxKeys: 1000, Default: fast})
	keys := make([]string, ring)
	for i := range keys {
		keys[i] = "user-" + strconv.Itoa(i)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Header["X-User-Id"] = keys[i%ring : i%ring+1]
		i++
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkLimited: the 429 path (the JSON body is httperr's).
func BenchmarkLimited(b *testing.B) {
	h := benchHandler(b, config.RateLimit{Default: config.Rate{Requests: 1, Per: config.Duration(time.Hour), Burst: 1}})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &nopWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
	if w.status != http.StatusTooManyRequests {
		b.Fatalf("status %d, want 429", w.status)
	}
}
