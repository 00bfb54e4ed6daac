package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/accesslog"
	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/metrics"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/stats"
)

// BenchmarkPolicies measures the gateway's own cost per request with each
// policy on, against all off. The proxy step is replaced by a handler that
// writes a small answer, so the numbers are the gateway's work alone
// (writer, request id, lookup, stats, and the policy), not a backend's.
func BenchmarkPolicies(b *testing.B) {
	type variant struct {
		name    string
		mut     func(*config.Config)
		metrics bool
	}
	for _, v := range []variant{
		{name: "off"},
		{name: "rate_limit", mut: func(c *config.Config) {
			c.Routes[0].RateLimit = &config.RateLimit{Key: "client_ip", MaxKeys: 1000,
				Default: config.Rate{Requests: 1 << 30, Per: config.Duration(time.Second), Burst: 1 << 30}}
		}},
		{name: "circuit_breaker", mut: func(c *config.Config) {
			c.Backends[0].CircuitBreaker = &config.CircuitBreaker{Failures: 5, Window: config.Duration(10 * time.Second),
				MinRequests: 10, OpenFor: config.Duration(30 * time.Second), HalfOpenRequests: 1}
		}},
		{name: "cache_hit", mut: func(c *config.Config) {
			c.Routes[0].Cache = &config.Cache{TTL: config.Duration(time.Hour), MaxBytes: 1 << 20, StaleIfError: config.Duration(time.Hour)}
		}},
		{name: "cors", mut: func(c *config.Config) {
			c.Routes[0].CORS = &config.CORS{AllowOrigins: []string{"https://app.example.com"}}
		}},
		{name: "metrics", metrics: true},
		{name: "access_log", mut: func(c *config.Config) { c.AccessLog.Enabled = true }},
		{name: "all", metrics: true, mut: func(c *config.Config) {
			c.Routes[0].RateLimit = &config.RateLimit{Key: "client_ip", MaxKeys: 1000,
				Default: config.Rate{Requests: 1 << 30, Per: config.Duration(time.Second), Burst: 1 << 30}}
			c.Backends[0].CircuitBreaker = &config.CircuitBreaker{Failures: 5, Window: config.Duration(10 * time.Second),
				MinRequests: 10, OpenFor: config.Duration(30 * time.Second), HalfOpenRequests: 1}
			c.Routes[0].CORS = &config.CORS{AllowOrigins: []string{"https://app.example.com"}}
			c.AccessLog.Enabled = true
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			cfg := &config.Config{
				Routes:   []config.Route{{PathPrefix: "/a", Backend: "a", Timeout: config.Duration(time.Second)}},
				Backends: []config.Backend{{Name: "a", URLs: []string{"http://127.0.0.1:1"}}},
			}
			cfg.DefaultResponse = config.DefaultResponse{StatusCode: 404}
			if v.mut != nil {
				v.mut(cfg)
			}
			o := Options{Stats: stats.NewStore(), AccessLog: accesslog.New(io.Discard)}
			if v.metrics {
				o.Metrics = metrics.New()
			}
			g := New(cfg, o)
			defer g.Close()
			g.apply.deps.Forward = func(*route.Route) http.Handler { return stubUpstream{} }
			g.SetConfig(cfg)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/a/x", nil)
				r.Header.Set("Origin", "https://app.example.com")
				w := discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					g.ServeHTTP(w, r)
				}
			})
		})
	}
}

// stubUpstream answers like a small upstream would, through the same
// writer chain.
type stubUpstream struct{}

var stubBody = []byte(`{"ok":true}`)

func (stubUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{"11"}
	w.WriteHeader(200)
	_, _ = w.Write(stubBody)
}
