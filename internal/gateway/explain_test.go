package gateway

import (
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/route"
)

// TestExplain: Explain reads the table, config and snapshot the gateway
// serves now, and follows snapshot changes.
func TestExplain(t *testing.T) {
	t.Parallel()
	g, _ := newGateway(t, "http://127.0.0.1:9")
	if e := g.Explain("/nowhere"); e.Outcome != route.OutcomeDefault || e.Status != 403 {
		t.Errorf("/nowhere: %+v, want the default response", e)
	}
	if e := g.Explain("/none/x"); e.Outcome != route.OutcomeRouted || e.Status != 503 || len(e.Backend.Containers) != 0 {
		t.Errorf("/none/x: %+v, want routed to an empty backend: 503", e)
	}
	g.SetSnapshot(docker.Snapshot{Containers: []docker.Container{{
		ID: "0123456789abcdef", Name: "none-1", State: "exited", NetworkMode: "host",
		Labels: map[string]string{"app": "none", route.LabelPort: "9"},
	}}})
	e := g.Explain("/none/x")
	if len(e.Backend.Containers) != 1 {
		t.Fatalf("/none/x after a snapshot: containers %+v, want none-1", e.Backend.Containers)
	}
	if c := e.Backend.Containers[0]; c.Name != "none-1" || c.ID != "0123456789ab" || c.Verdict != route.VerdictExcluded ||
		len(c.Reasons) != 1 || c.Reasons[0] != "not running (state exited)" {
		t.Errorf("none-1 = %+v, want excluded as not running", c)
	}
}

// TestExplainHost: ExplainHost explains a request for a host, with the
// gateway's own choice of route; Explain is a request that names none.
func TestExplainHost(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Routes: []config.Route{
			{PathPrefix: "/", Host: "*.example.com", Backend: "b"},
			{PathPrefix: "/", Backend: "b"},
		},
		DefaultResponse: config.DefaultResponse{Body: "no", StatusCode: 404},
		Backends:        []config.Backend{{Name: "b", URLs: []string{"http://127.0.0.1:9"}}},
	}
	g := New(cfg, Options{})
	t.Cleanup(g.Close)
	if e := g.ExplainHost("B.Example.com:8080", "/x"); e.Host != "b.example.com" || e.Route == nil || e.Route.Host != "*.example.com" {
		t.Errorf("ExplainHost(B.Example.com:8080, /x) = host %q route %+v, want the *.example.com route", e.Host, e.Route)
	}
	if e := g.Explain("/x"); e.Host != "" || e.Route == nil || e.Route.Host != "" {
		t.Errorf("Explain(/x) = host %q route %+v, want the route without a host", e.Host, e.Route)
	}
}
