package cache

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// sink is a ResponseWriter that keeps nothing, with a header map reused
// across requests, so a benchmark counts the cache's allocations only.
type sink struct {
	h      http.Header
	status int
}

func (w *sink) Header() http.Header         { return w.h }
func (w *sink) WriteHeader(code int)        { w.status = code }
func (w *sink) Write(b []byte) (int, error) { return len(b), nil }

func (w *sink) reset() {
	clear(w.h)
	w.status = 0
}

var benchBody = strings.Repeat("x", 1024)

func BenchmarkHit(b *testing.B) {
	h := New(NewStore(defaultCfg()), http.HandlerFunc(text(benchBody, "Cache-Control", "max-age=3600")))
	serve(h, http.MethodGet, "/bench?id=1")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/bench?id=1", nil)
		w := &sink{h: make(http.Header)}
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, r)
			if w.h["X-Cache"][0] != "HIT" {
				b.Fatal("not a hit")
			}
		}
	})
}

// BenchmarkHitManyKeys spreads hits over 1024 URLs (all shards).
func BenchmarkHitManyKeys(b *testing.B) {
	h := New(NewStore(defaultCfg()), http.HandlerFunc(text(benchBody)))
	const keys = 1024
	for i := range keys {
		serve(h, http.MethodGet, "/bench?id="+strconv.Itoa(i))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		reqs := make([]*http.Request, keys)
		for i := range reqs {
			reqs[i] = httptest.NewRequest(http.MethodGet, "/bench?id="+strconv.Itoa(i), nil)
		}
		w := &sink{h: make(http.Header)}
		i := 0
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, reqs[i%keys])
			i++
		}
	})
}

// BenchmarkMiss: every request is a new URL, so each one leads a flight,
// captures and stores (evicting once the store is full).
func BenchmarkMiss(b *testing.B) {
	h := New(NewStore(defaultCfg()), http.HandlerFunc(text(benchBody)))
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/bench?id="+strconv.Itoa(i), nil)
	}
	w := &sink{h: make(http.Header)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w.reset()
		h.ServeHTTP(w, reqs[i])
	}
}

// BenchmarkMissNotStored: the answer is no-store, so the cost is the
// lookup, the flight and the capture writer, without storing.
func BenchmarkMissNotStored(b *testing.B) {
	h := New(NewStore(defaultCfg()), http.HandlerFunc(text(benchBody, "Cache-Control", "no-store")))
	r := httptest.NewRequest(http.MethodGet, "/bench", nil)
	w := &sink{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
}

// BenchmarkNext is the next handler alone, the baseline of the two above.
func BenchmarkNext(b *testing.B) {
	h := http.HandlerFunc(text(benchBody, "Cache-Control", "no-store"))
	r := httptest.NewRequest(http.MethodGet, "/bench", nil)
	w := &sink{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
}
