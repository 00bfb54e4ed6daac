package route

import (
	"fmt"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/stats"
)

func seedConfig() *config.Config {
	return &config.Config{
		Routes: []config.Route{
			{PathPrefix: "/api/payment", Backend: "payment"},
			{PathPrefix: "/api/orders", Backend: "orders"},
			{PathPrefix: "/api", Backend: "orders"},
		},
		DefaultResponse: config.DefaultResponse{Body: "This is not reachable", StatusCode: 403},
		Backends: []config.Backend{
			{Name: "payment", MatchLabels: []string{"app_name=payment", "env=production"}},
			{Name: "orders", MatchLabels: []string{"app_name=orders", "env=production"}, URLs: []string{"http://127.0.0.1:9000", "http://static.example"}},
		},
	}
}

func ctr(id string, port string, labels ...string) docker.Container {
	c := docker.Container{ID: id, Name: "n-" + id, State: "running", NetworkMode: "host", Labels: map[string]string{LabelPort: port}}
	for i := 0; i+1 < len(labels); i += 2 {
		c.Labels[labels[i]] = labels[i+1]
	}
	return c
}

func TestCompile(t *testing.T) {
	t.Parallel()
	snap := docker.Snapshot{Containers: []docker.Container{
		ctr("a1", "9001", "app_name", "payment", "env", "production"),
		ctr("a2", "9002", "app_name", "payment", "env", "production", "extra", "x"),
		ctr("a3", "9003", "app_name", "payment"), // missing env: unrelated
		ctr("a4", "bad", "app_name", "payment", "env", "production"),
		ctr("b1", "9101", "app_name", "orders", "env", "production"),
	}}
	st := stats.NewStore()
	tab := Compile(seedConfig(), snap, Deps{Stats: st})

	pay := tab.Backend("payment")
	if got := hosts(pay); fmt.Sprint(got) != "[127.0.0.1:9001 127.0.0.1:9002]" {
		t.Errorf("payment upstreams = %v", got)
	}
	if len(pay.Skipped) != 1 || pay.Skipped[0].ContainerID != "a4" || !pay.Skipped[0].Warn {
		t.Errorf("payment skipped = %+v, want a4 with a warning", pay.Skipped)
	}
	ord := tab.Backend("orders")
	if got := hosts(ord); fmt.Sprint(got) != "[127.0.0.1:9101 127.0.0.1:9000 static.example:80]" {
		t.Errorf("orders upstreams = %v (containers first, then URLs in order)", got)
	}
	if ord.Upstreams[0].Static() || !ord.Upstreams[1].Static() {
		t.Error("Static() wrong")
	}
	if tab.Default.Status != 403 || string(tab.Default.Body) != "This is not reachable" || fmt.Sprint(tab.Default.ContentLength) != "[21]" {
		t.Errorf("default = %+v", tab.Default)
	}
	if tab.Lookup("/api/payment/x").Stats != st.Route("/api/payment") {
		t.Error("route stats series not taken from the store")
	}
	if pay.Stats != st.Backend("payment") {
		t.Error("backend stats series not taken from the store")
	}
	if r := tab.Lookup("/api/payment"); r.Timeout != config.DefaultRouteTimeout {
		t.Errorf("timeout default = %v", r.Timeout)
	}
}

func TestCompileDefaultResponseDefaults(t *testing.T) {
	t.Parallel()
	cfg := seedConfig()
	cfg.DefaultResponse = config.DefaultResponse{}
	tab := Compile(cfg, docker.Snapshot{}, Deps{})
	if tab.Default.Status != config.DefaultStatusCode {
		t.Errorf("status = %d", tab.Default.Status)
	}
}

// seedLookups are the paths of TestLookup and the prefix of the route
// each gets in seedConfig ("" for none).
var seedLookups = []struct {
	path string
	want string
}{
	{"/api/payment", "/api/payment"},
	{"/api/payment/charge", "/api/payment"},
	{"/api/paymentX", "/api/payment"}, // plain string prefix, as the spec says
	{"/api/orders/1", "/api/orders"},
	{"/api/other", "/api"},
	{"/api", "/api"},
	{"/ap", ""},
	{"/", ""},
	{"", ""},
	{"/API/payment", ""},
}

func TestLookup(t *testing.T) {
	t.Parallel()
	tab := Compile(seedConfig(), docker.Snapshot{}, Deps{})
	for _, tc := range seedLookups {
		got := tab.Lookup(tc.path)
		gotP := ""
		if got != nil {
			gotP = got.Prefix
		}
		if gotP != tc.want {
			t.Errorf("Lookup(%q) = %q, want %q", tc.path, gotP, tc.want)
		}
	}
}

func hosts(b *Backend) []string {
	var out []string
	for _, u := range b.Upstreams {
		out = append(out, u.Host)
	}
	return out
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{3, 100, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			cfg := &config.Config{Backends: []config.Backend{{Name: "b", URLs: []string{"http://127.0.0.1:1"}}}}
			for i := range n {
				cfg.Routes = append(cfg.Routes, config.Route{PathPrefix: fmt.Sprintf("/svc%d/v%d", i, i%7), Backend: "b"})
			}
			tab := Compile(cfg, docker.Snapshot{}, Deps{})
			path := fmt.Sprintf("/svc%d/v%d/items/42", n/2, (n/2)%7)
			b.ReportAllocs()
			for b.Loop() {
				if tab.Lookup(path) == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}

func policyConfig() *config.Config {
	cfg := seedConfig()
	cfg.Routes[0].RateLimit = &config.RateLimit{Key: "client_ip", MaxKeys: 10, Default: config.Rate{Requests: 5, Per: config.Duration(time.Second), Burst: 5}}
	cfg.Routes[0].Cache = &config.Cache{TTL: config.Duration(time.Second), MaxBytes: 1 << 20, StaleIfError: config.Duration(time.Minute)}
	cfg.Routes[0].CORS = &config.CORS{AllowOrigins: []string{"*"}}
	cfg.Backends[0].CircuitBreaker = &config.CircuitBreaker{Failures: 1, Window: config.Duration(time.Second), MinRequests: 1, OpenFor: config.Duration(time.Second), HalfOpenRequests: 1}
	cfg.Backends[0].HealthCheck = &config.HealthCheck{Path: "/h", Interval: config.Duration(2 * time.Second), Timeout: config.Duration(time.Second), HealthyAfter: 1, UnhealthyAfter: 4}
	return cfg
}

func TestStateSurvivesRecompile(t *testing.T) {
	t.Parallel()
	st := NewState()
	snap := docker.Snapshot{Containers: []docker.Container{ctr("a1", "9001", "app_name", "payment", "env", "production")}}
	t1 := Compile(policyConfig(), snap, Deps{State: st})
	r1, b1 := t1.Lookup("/api/payment"), t1.Backend("payment")
	if r1.Limiter == nil || r1.Cache == nil || b1.Breaker == nil {
		t.Fatalf("policies not built: %+v", r1)
	}
	if got := fmt.Sprint(r1.Policies); got != "[cors rate_limit cache circuit_breaker]" {
		t.Errorf("policies = %s, want outermost first", got)
	}
	if b1.Passive.Threshold != 4 || b1.Passive.EjectFor != 2*time.Second {
		t.Errorf("passive = %+v, want the health check's unhealthy_after and interval", b1.Passive)
	}

	// an unrelated change (a new route) keeps every piece of state
	cfg := policyConfig()
	cfg.Routes = append(cfg.Routes, config.Route{PathPrefix: "/new", Backend: "orders"})
	t2 := Compile(cfg, snap, Deps{State: st})
	r2, b2 := t2.Lookup("/api/payment"), t2.Backend("payment")
	if r2.Limiter != r1.Limiter || r2.Cache != r1.Cache || b2.Breaker != b1.Breaker || b2.Upstreams[0] != b1.Upstreams[0] {
		t.Error("state was reset by an unrelated change")
	}

	// a changed policy gets fresh state; the others keep theirs
	cfg = policyConfig()
	cfg.Routes[0].RateLimit.Default.Requests = 50
	t3 := Compile(cfg, snap, Deps{State: st})
	r3 := t3.Lookup("/api/payment")
	if r3.Limiter == r1.Limiter {
		t.Error("changed rate_limit kept its old buckets")
	}
	if r3.Cache != r1.Cache || t3.Backend("payment").Breaker != b1.Breaker {
		t.Error("unchanged cache/breaker lost their state")
	}

	// a container that goes away loses its upstream state
	t4 := Compile(cfg, docker.Snapshot{}, Deps{State: st})
	if len(t4.Backend("payment").Upstreams) != 0 || st.Upstreams.Len() != 2 { // the two static URLs of orders are left
		t.Errorf("upstreams after removal: table %d, registry %d", len(t4.Backend("payment").Upstreams), st.Upstreams.Len())
	}
}
