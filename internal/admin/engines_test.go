package admin

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/stats"
)

// TestHealthNamesEndpoints: with docker.endpoints, /health lists each
// engine's state and names each container's engine; one engine down makes
// the gateway degraded.
func TestHealthNamesEndpoints(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Routes:   []config.Route{{PathPrefix: "/p", Backend: "pay"}},
		Backends: []config.Backend{{Name: "pay", MatchLabels: []string{"app=pay"}}},
	}
	snap := docker.Snapshot{Containers: []docker.Container{
		{ID: "0123456789abcdef", Name: "pay-a", Endpoint: "host-a", State: "running", NetworkMode: "host", Labels: map[string]string{"app": "pay", "rgate.port": "81"}},
		{ID: "fedcba9876543210", Name: "pay-b", Endpoint: "host-b", HostAddress: "10.0.0.12", State: "running", NetworkMode: "host", Labels: map[string]string{"app": "pay", "rgate.port": "x"}},
	}}
	tab := route.Compile(cfg, snap, route.Deps{})
	eps := []docker.EndpointStatus{
		{Name: "host-a", Host: "unix:///var/run/docker.sock", Status: docker.Status{Connected: true}},
		{Name: "host-b", Host: "tcp://10.0.0.12:2376", Status: docker.Status{LastError: "pinging docker: connection refused", Since: time.Now()}},
	}
	h := New(Options{
		Stats:   stats.NewStore(),
		Table:   func() *route.Table { return tab },
		Docker:  func() docker.Status { return docker.Status{LastError: "host-b: pinging docker: connection refused"} },
		Engines: func() []docker.EndpointStatus { return eps },
		Started: time.Now(),
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	var body healthBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "degraded" || len(body.Docker.Endpoints) != 2 {
		t.Fatalf("status %q, docker %+v", body.Status, body.Docker)
	}
	if e := body.Docker.Endpoints[1]; e.Name != "host-b" || e.Host != "tcp://10.0.0.12:2376" || e.Connected || !strings.Contains(e.LastError, "refused") {
		t.Errorf("endpoint host-b = %+v", e)
	}
	b := body.Backends["pay"]
	if len(b.Containers) != 1 || b.Containers[0].Endpoint != "host-a" || len(b.Skipped) != 1 || b.Skipped[0].Endpoint != "host-b" {
		t.Errorf("backend = %+v, want pay-a on host-a serving, pay-b on host-b skipped", b)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard/data", nil))
	if !strings.Contains(rec.Body.String(), `"endpoint":"host-a"`) || !strings.Contains(rec.Body.String(), `"name":"host-b","host":"tcp://10.0.0.12:2376"`) {
		t.Errorf("dashboard data does not name the endpoints: %s", rec.Body.String())
	}
}
