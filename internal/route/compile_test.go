package route

import (
	"fmt"
	"testing"

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
	if tab.Default.Status != 403 || string(tab.Default.Body) != "This is not reachable" || tab.Default.ContentLength != "21" {
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

func TestLookup(t *testing.T) {
	t.Parallel()
	tab := Compile(seedConfig(), docker.Snapshot{}, Deps{})
	for _, tc := range []struct {
		path string
		want string // prefix, "" for none
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
	} {
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
