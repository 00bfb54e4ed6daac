package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/stats"
)

// BenchmarkHandlerTracing is BenchmarkHandler (the whole request path,
// proxy included, to a local upstream) with tracing absent, on at
// sample_ratio 0 and on at 1, exporting to a local sink: the figures of
// the tracing rows, in process.
func BenchmarkHandlerTracing(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer be.Close()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()
	for _, v := range []struct {
		name  string
		ratio float64
		on    bool
	}{{"absent", 0, false}, {"ratio0", 0, true}, {"ratio1", 1, true}} {
		b.Run(v.name, func(b *testing.B) {
			cfg := &config.Config{
				Routes:          []config.Route{{PathPrefix: "/a", Backend: "a"}},
				DefaultResponse: config.DefaultResponse{StatusCode: 404},
				Backends:        []config.Backend{{Name: "a", URLs: []string{be.URL}}},
			}
			if v.on {
				ratio := v.ratio
				cfg.Tracing = &config.Tracing{OTLPEndpoint: sink.URL, SampleRatio: &ratio, ServiceName: "rgate"}
			}
			cfg.ApplyDefaults()
			g := New(cfg, Options{Stats: stats.NewStore()})
			defer g.Close()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("GET", "/a/x", nil)
					g.ServeHTTP(discardWriter{h: http.Header{}}, r)
				}
			})
		})
	}
}
