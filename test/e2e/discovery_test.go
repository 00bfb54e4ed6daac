package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// routingDelay is how fast the contract says a container start or stop
// changes routing.
const routingDelay = time.Second

// TestTwoContainersShareTraffic: both matching containers get requests.
func TestTwoContainersShareTraffic(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	a := runContainer(t, "a", map[string]string{"app_name": label})
	b := runContainer(t, "b", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	path := "/api/" + label + "/x"
	g.waitBackend(t, path, a.name, 5*time.Second)
	g.waitBackend(t, path, b.name, 5*time.Second)

	seen := g.countBackends(t, path, 50)
	if len(seen) != 2 || seen[a.name] == 0 || seen[b.name] == 0 {
		t.Errorf("50 GETs answered by %v, want both %s and %s and nothing else", seen, a.name, b.name)
	}
}

// TestOnlyMatchingContainersServe: a container missing a label, one with
// rgate.enable=false and one with an unusable rgate.port never get traffic,
// and do not disturb the one that matches.
func TestOnlyMatchingContainersServe(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	good := runContainer(t, "good", map[string]string{"app_name": label, "env": "prod"})
	missing := runContainer(t, "missing", map[string]string{"app_name": label})
	disabled := runContainer(t, "disabled", map[string]string{"app_name": label, "env": "prod", "rgate.enable": "false"})
	badPort := runContainer(t, "badport", map[string]string{"app_name": label, "env": "prod", "rgate.port": "abc"})
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /api
    backend: b
backends:
  - name: b
    match_labels: [app_name=%s, env=prod]
`, label))
	g.waitBackend(t, "/api/x", good.name, 5*time.Second)

	seen := g.countBackends(t, "/api/x", 50)
	if len(seen) != 1 || seen[good.name] != 50 {
		t.Errorf("50 GETs answered by %v, want all by %s (not %s, %s, %s)",
			seen, good.name, missing.name, disabled.name, badPort.name)
	}
	if h := g.get(t, "/health"); h.status != http.StatusOK {
		t.Errorf("GET /health = %d, want 200; body %q", h.status, h.body)
	}
}

// TestContainerStartedLater: a container started after rgate gets traffic
// within routingDelay of `docker start` returning.
func TestContainerStartedLater(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	g := startGateway(t, oneBackend(label, ""))
	path := "/api/" + label + "/x"
	if r := g.get(t, path); r.status != http.StatusServiceUnavailable {
		t.Fatalf("GET %s before any container = %d, want 503; body %q", path, r.status, r.body)
	}
	c := startContainer(t, "late", ctrSpec{labels: map[string]string{"app_name": label}, create: true})
	if r := g.get(t, path); r.status != http.StatusServiceUnavailable {
		t.Errorf("GET %s with a created, not started container = %d, want 503", path, r.status)
	}
	started := c.start()
	g.waitBackend(t, path, c.name, 5*time.Second)
	d := time.Since(started)
	t.Logf("new container got traffic %v after docker start", d.Round(time.Millisecond))
	if d > routingDelay {
		t.Errorf("new container got traffic %v after docker start returned, want within %v", d, routingDelay)
	}
}

// TestStopAndKill: stopping or killing the only container turns its route
// into 503 within routingDelay; starting it again brings it back as fast.
func TestStopAndKill(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "only", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	path := "/api/" + label + "/x"
	g.waitBackend(t, path, c.name, 5*time.Second)

	for _, step := range []struct {
		name string
		down func()
	}{
		{"stop", c.stop},
		{"kill", c.kill},
	} {
		step.down()
		downAt := time.Now()
		g.waitStatus(t, path, http.StatusServiceUnavailable, 5*time.Second)
		d := time.Since(downAt)
		t.Logf("docker %s: 503 after %v", step.name, d.Round(time.Millisecond))
		if d > routingDelay {
			t.Errorf("after docker %s: 503 came %v later, want within %v", step.name, d, routingDelay)
		}
		checkErrorBody(t, g.get(t, path))
		// A refused connection gives 503 by itself; discovery must also drop
		// the container, which /health shows.
		eventually(t, routingDelay, "/health without "+c.name+" serving", func() bool {
			return !g.healthServes(t, "b", c.name)
		})

		started := c.start()
		g.waitBackend(t, path, c.name, 5*time.Second)
		d = time.Since(started)
		t.Logf("docker %s, start: traffic after %v", step.name, d.Round(time.Millisecond))
		if d > routingDelay {
			t.Errorf("after docker %s and start: traffic came back %v after start, want within %v", step.name, d, routingDelay)
		}
	}
}

// TestPausedContainerLeavesRotation: a paused container (which still accepts
// TCP connections but never answers) stops getting traffic, and comes back
// when unpaused.
func TestPausedContainerLeavesRotation(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "pausable", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, "    timeout: 5s\n"))
	path := "/api/" + label + "/x"
	g.waitBackend(t, path, c.name, 5*time.Second)

	c.pause()
	pausedAt := time.Now()
	quick := newClient(t, 300*time.Millisecond)
	eventually(t, 5*time.Second, "503 after docker pause", func() bool {
		r, err := doWith(quick, g.request(t, http.MethodGet, path, nil))
		return err == nil && r.status == http.StatusServiceUnavailable
	})
	d := time.Since(pausedAt)
	t.Logf("docker pause: 503 after %v", d.Round(time.Millisecond))
	if d > routingDelay {
		t.Errorf("503 came %v after docker pause returned, want within %v", d, routingDelay)
	}
	c.unpause()
	unpausedAt := time.Now()
	g.waitBackend(t, path, c.name, 5*time.Second)
	d = time.Since(unpausedAt)
	t.Logf("docker unpause: traffic after %v", d.Round(time.Millisecond))
	if d > routingDelay {
		t.Errorf("traffic came back %v after docker unpause returned, want within %v", d, routingDelay)
	}
}

// TestHealthcheck: a container with a Docker HEALTHCHECK serves only while
// healthy.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	// The image links /bin/sh to the testapp, which runs `sh -c healthcheck`
	// as its healthcheck subcommand.
	c := startContainer(t, "checked", ctrSpec{
		labels: map[string]string{"app_name": label},
		runArgs: []string{"--health-cmd", "healthcheck", "--health-interval", "500ms",
			"--health-timeout", "2s", "--health-retries", "1"},
	})
	g := startGateway(t, oneBackend(label, ""))
	path := "/api/" + label + "/x"

	waitHealth := func(want string) time.Time {
		t.Helper()
		eventually(t, 10*time.Second, "docker health "+want, func() bool { return c.health() == want })
		return time.Now()
	}
	at := waitHealth("healthy")
	g.waitBackend(t, path, c.name, 5*time.Second)
	if d := time.Since(at); d > routingDelay {
		t.Errorf("healthy container got traffic %v after Docker said healthy, want within %v", d, routingDelay)
	}

	c.exec("touch", "/tmp/unhealthy")
	at = waitHealth("unhealthy")
	g.waitStatus(t, path, http.StatusServiceUnavailable, 5*time.Second)
	if d := time.Since(at); d > routingDelay {
		t.Errorf("unhealthy container left rotation %v after Docker said unhealthy, want within %v", d, routingDelay)
	}

	c.exec("rm", "/tmp/unhealthy")
	at = waitHealth("healthy")
	g.waitBackend(t, path, c.name, 5*time.Second)
	if d := time.Since(at); d > routingDelay {
		t.Errorf("recovered container got traffic %v after Docker said healthy, want within %v", d, routingDelay)
	}
}

// TestUnhealthyFromStartNeverServes: a container whose health check never
// passes gets no traffic; its healthy sibling gets all of it.
func TestUnhealthyFromStartNeverServes(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	health := []string{"--health-cmd", "healthcheck", "--health-interval", "500ms", "--health-retries", "1"}
	good := startContainer(t, "good", ctrSpec{labels: map[string]string{"app_name": label}, runArgs: health})
	sick := startContainer(t, "sick", ctrSpec{labels: map[string]string{"app_name": label}, runArgs: health,
		env: []string{"UNHEALTHY=1"}})
	g := startGateway(t, oneBackend(label, ""))
	path := "/api/" + label + "/x"
	g.waitBackend(t, path, good.name, 10*time.Second)
	eventually(t, 10*time.Second, "docker health unhealthy", func() bool { return sick.health() == "unhealthy" })

	seen := g.countBackends(t, path, 30)
	if seen[good.name] != 30 {
		t.Errorf("30 GETs answered by %v, want all by %s, none by %s", seen, good.name, sick.name)
	}
}
