package breaker

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/reqinfo"
)

// discard is the client's side of a benchmark request.
type discard struct{ header http.Header }

func (w *discard) Header() http.Header         { return w.header }
func (w *discard) WriteHeader(int)             {}
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }

// newWriter is the writer a route's chain answers into: like the
// gateway's pooled one, it allocates nothing per request.
func newWriter() *reqinfo.Writer {
	return &reqinfo.Writer{ResponseWriter: &discard{header: http.Header{}}}
}

func BenchmarkAllowDone(b *testing.B) {
	br := NewBreaker(testConfig())
	b.ReportAllocs()
	for b.Loop() {
		t, _, _ := br.Allow()
		br.Done(t, false)
	}
}

// BenchmarkAllowDoneFailing records failures that never reach the
// threshold: the closed path plus the sum of the ten buckets.
func BenchmarkAllowDoneFailing(b *testing.B) {
	cfg := testConfig()
	cfg.Failures = 1 << 30
	br := NewBreaker(cfg)
	b.ReportAllocs()
	for b.Loop() {
		t, _, _ := br.Allow()
		br.Done(t, true)
	}
}

func BenchmarkAllowDoneParallel(b *testing.B) {
	br := NewBreaker(testConfig())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, _, _ := br.Allow()
			br.Done(t, false)
		}
	})
}

// BenchmarkMiddleware compares next alone with next behind a closed
// breaker; the difference is the breaker's cost per request.
func BenchmarkMiddleware(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"off", next},
		{"on", New(NewBreaker(testConfig()), "payment", next)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/api", nil)
			w := newWriter()
			b.ReportAllocs()
			for b.Loop() {
				w.Info.Status = 0
				bc.h.ServeHTTP(w, r)
			}
		})
	}
}

func BenchmarkMiddlewareParallel(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	h := New(NewBreaker(config.CircuitBreaker{}), "payment", next)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/api", nil)
		w := newWriter()
		for pb.Next() {
			w.Info.Status = 0
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkMiddlewareOpen is the refusal path: a 503 JSON answer.
func BenchmarkMiddlewareOpen(b *testing.B) {
	br := NewBreaker(testConfig())
	for range 10 {
		t, _, _ := br.Allow()
		br.Done(t, true)
	}
	h := New(br, "payment", http.NotFoundHandler())
	r := httptest.NewRequest(http.MethodGet, "/api", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := newWriter()
		h.ServeHTTP(w, r)
	}
}
