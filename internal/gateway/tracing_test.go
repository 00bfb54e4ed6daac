package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/rgate/rgate/internal/accesslog"
	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/stats"
)

func tracedConfig(ratio float64) *config.Config {
	return &config.Config{
		Routes:          []config.Route{{PathPrefix: "/a", Backend: "a"}},
		DefaultResponse: config.DefaultResponse{Body: "none", StatusCode: 404},
		Backends:        []config.Backend{{Name: "a", URLs: []string{"http://127.0.0.1:1"}}},
		AccessLog:       config.AccessLog{Enabled: true},
		Tracing:         &config.Tracing{OTLPEndpoint: "http://127.0.0.1:1", SampleRatio: &ratio, ServiceName: "rgate"},
	}
}

// TestTracingReload: a reload that changes the tracing section replaces
// the tracer (or removes it); one that does not keeps it.
func TestTracingReload(t *testing.T) {
	t.Parallel()
	g := New(tracedConfig(0), Options{Stats: stats.NewStore()})
	defer g.Close()
	first := g.tracer.Load()
	if first == nil {
		t.Fatal("tracing configured but no tracer")
	}
	g.SetConfig(tracedConfig(0))
	if g.tracer.Load() != first {
		t.Error("an unchanged tracing section replaced the tracer")
	}
	g.SetConfig(tracedConfig(0.5))
	second := g.tracer.Load()
	if second == nil || second == first || second.Config().Ratio() != 0.5 {
		t.Errorf("a new sample_ratio was not applied: %v", second)
	}
	cfg := tracedConfig(0)
	cfg.Tracing = nil
	g.SetConfig(cfg)
	if g.tracer.Load() != nil {
		t.Error("tracing still on after its section was removed")
	}
}

// syncBuffer is a bytes.Buffer safe for the access log's writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// TestTracedAccessLog: a routed request's access log line carries the
// trace id with tracing on (the client's when it sent one), and none with
// tracing off or for a request no route took.
func TestTracedAccessLog(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	g := New(tracedConfig(0), Options{Stats: stats.NewStore(), AccessLog: accesslog.New(&out)})
	defer g.Close()
	g.apply.deps.Forward = func(*route.Route) http.Handler { return stubUpstream{} }
	g.SetConfig(tracedConfig(0))
	line := func(path, tp string) map[string]any {
		out.mu.Lock()
		out.b.Reset()
		out.mu.Unlock()
		r := httptest.NewRequest("GET", path, nil)
		if tp != "" {
			r.Header.Set("Traceparent", tp)
		}
		serve(g, r)
		var m map[string]any
		out.mu.Lock()
		defer out.mu.Unlock()
		if err := json.Unmarshal(out.b.Bytes(), &m); err != nil {
			t.Fatalf("access log %q: %v", out.b.String(), err)
		}
		return m
	}
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	if got := line("/a/x", "00-"+tid+"-00f067aa0ba902b7-00")["trace_id"]; got != tid {
		t.Errorf("trace_id = %v, want the client's %s", got, tid)
	}
	if got, _ := line("/a/x", "")["trace_id"].(string); len(got) != 32 || got == tid {
		t.Errorf("trace_id = %q, want a new one", got)
	}
	if got, ok := line("/nowhere", "00-"+tid+"-00f067aa0ba902b7-01")["trace_id"]; ok {
		t.Errorf("a request no route took has trace_id %v", got)
	}
	cfg := tracedConfig(0)
	cfg.Tracing = nil
	g.SetConfig(cfg)
	if got, ok := line("/a/x", "00-"+tid+"-00f067aa0ba902b7-01")["trace_id"]; ok {
		t.Errorf("tracing off, trace_id %v", got)
	}
}

// TestTracingAllocations: tracing on at sample_ratio 0 allocates nothing
// more per request than tracing absent when the client's traceparent is
// unsampled (it is passed on as it came), and one string (the new
// traceparent) when the request starts a trace: no span either way.
func TestTracingAllocations(t *testing.T) {
	allocs := func(cfg *config.Config, tp string) float64 {
		g := New(cfg, Options{Stats: stats.NewStore()})
		defer g.Close()
		g.apply.deps.Forward = func(*route.Route) http.Handler { return stubUpstream{} }
		g.SetConfig(cfg)
		r := httptest.NewRequest("GET", "/a/x", nil)
		if tp != "" {
			r.Header.Set("Traceparent", tp)
		}
		w := discardWriter{h: http.Header{}}
		return testing.AllocsPerRun(200, func() {
			clear(w.h)
			g.ServeHTTP(w, r)
		})
	}
	absentCfg := tracedConfig(0)
	absentCfg.Tracing, absentCfg.AccessLog.Enabled = nil, false
	onCfg := tracedConfig(0)
	onCfg.AccessLog.Enabled = false
	const unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	absent := allocs(absentCfg, unsampled)
	if on := allocs(onCfg, unsampled); on != absent {
		t.Errorf("unsampled parent: %v allocations per request with tracing at ratio 0, %v with it absent", on, absent)
	}
	if on := allocs(onCfg, ""); on > absent+1 {
		t.Errorf("new trace: %v allocations per request with tracing at ratio 0, %v with it absent", on, absent)
	}
}
