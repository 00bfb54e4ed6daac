package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/route"
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

// BenchmarkPoliciesTracing is BenchmarkPolicies' "off" case (the gateway's
// own work, the proxy replaced by a stub) with tracing on: at ratio 0 a
// request without traceparent (a new trace id and traceparent) and one
// with an unsampled traceparent (passed on); at ratio 1, and a sampled
// parent at ratio 0, every request is a span exported to a local sink.
func BenchmarkPoliciesTracing(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
	for _, v := range []struct {
		name   string
		on     bool
		ratio  float64
		parent string
	}{
		{"absent", false, 0, ""},
		{"ratio0", true, 0, ""},
		{"ratio0_unsampled_parent", true, 0, "00-" + tid + "-00"},
		{"ratio0_sampled_parent", true, 0, "00-" + tid + "-01"},
		{"ratio1", true, 1, ""},
	} {
		b.Run(v.name, func(b *testing.B) {
			cfg := tracedConfig(v.ratio)
			cfg.AccessLog.Enabled = false
			cfg.Tracing.OTLPEndpoint = sink.URL
			if !v.on {
				cfg.Tracing = nil
			}
			g := New(cfg, Options{Stats: stats.NewStore()})
			defer g.Close()
			g.apply.deps.Forward = func(*route.Route) http.Handler { return stubUpstream{} }
			g.SetConfig(cfg)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/a/x", nil)
				if v.parent != "" {
					r.Header.Set("Traceparent", v.parent)
				}
				w := discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					g.ServeHTTP(w, r)
				}
			})
		})
	}
}
