package e2e

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// engineSocket is the Docker engine's unix socket the tests use.
func engineSocket() string {
	if h, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok {
		return h
	}
	return "/var/run/docker.sock"
}

// TestDockerEngineRestart: rgate talks to the engine through a socket proxy
// that the test drops and brings back, as an engine restart would. During
// the outage the known container keeps serving; afterwards a container
// started during the outage gets traffic within a few seconds.
func TestDockerEngineRestart(t *testing.T) {
	t.Parallel()
	if !strings.HasPrefix(os.Getenv("DOCKER_HOST"), "unix://") && os.Getenv("DOCKER_HOST") != "" {
		t.Skipf("DOCKER_HOST=%s is not a unix socket", os.Getenv("DOCKER_HOST"))
	}
	label := uniq(t)
	px := newSockProxy(t, engineSocket())
	old := runContainer(t, "old", map[string]string{"app_name": label})
	g := startGatewayWith(t, oneBackend(label, ""), gwOptions{env: []string{"DOCKER_HOST=unix://" + px.path}})
	path := "/api/" + label + "/x"
	g.waitBackend(t, path, old.name, 5*time.Second)

	px.Close()
	outage := time.Now()
	fresh := runContainer(t, "new", map[string]string{"app_name": label})
	// For a while, the old container alone keeps serving.
	var n int
	for time.Since(outage) < 1500*time.Millisecond {
		r := g.get(t, path)
		if r.status != http.StatusOK || r.backend() != old.name {
			t.Fatalf("during the outage: GET = %d from %q, want 200 from %s; body %q", r.status, r.backend(), old.name, r.body)
		}
		n++
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d requests served during the outage", n)

	if err := px.Reopen(); err != nil {
		t.Fatalf("reopening the socket proxy: %v", err)
	}
	back := time.Now()
	g.waitBackend(t, path, fresh.name, 15*time.Second)
	t.Logf("the new container got traffic %v after the engine came back", time.Since(back).Round(time.Millisecond))
	if d := time.Since(back); d > 5*time.Second {
		t.Errorf("the new container got traffic %v after the engine came back, want within 5s", d)
	}
	seen := g.countBackends(t, path, 40)
	if len(seen) != 2 || seen[old.name] == 0 || seen[fresh.name] == 0 {
		t.Errorf("after the outage 40 GETs answered by %v, want both %s and %s", seen, old.name, fresh.name)
	}

	// The event stream works again: a container started now gets traffic
	// as fast as ever.
	third := startContainer(t, "third", ctrSpec{labels: map[string]string{"app_name": label}, create: true})
	started := third.start()
	g.waitBackend(t, path, third.name, 5*time.Second)
	if d := time.Since(started); d > routingDelay {
		t.Errorf("container started after the reconnect got traffic %v after docker start, want within %v", d, routingDelay)
	}
}
