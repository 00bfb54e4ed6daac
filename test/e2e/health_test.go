package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// healthCheckConfig probes /health every 200ms; two failures take a
// container out, one pass brings it back.
const healthCheckConfig = "    health_check: {path: /health, interval: 200ms, timeout: 500ms, healthy_after: 1, unhealthy_after: 2}\n"

// TestActiveHealthCheck: when a container's probe starts failing it gets no
// more traffic while its healthy sibling keeps all of it, /health says so,
// and it comes back once its probe passes again.
func TestActiveHealthCheck(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	a := runContainer(t, "a", map[string]string{"app_name": label})
	b := runContainer(t, "b", map[string]string{"app_name": label})
	g := startGateway(t, policyConfig(label, "", healthCheckConfig))
	path := "/api/" + label + "/x"
	g.waitBackend(t, path, a.name, 5*time.Second)
	g.waitBackend(t, path, b.name, 5*time.Second)
	eventually(t, 3*time.Second, "/health: both containers healthy", func() bool {
		return g.containerHealth(t, "b", a.name) == "healthy" && g.containerHealth(t, "b", b.name) == "healthy"
	})

	a.exec("touch", "/tmp/unhealthy")
	d := eventually(t, 3*time.Second, "/health: "+a.name+" unhealthy", func() bool {
		return g.containerHealth(t, "b", a.name) == "unhealthy"
	})
	t.Logf("probe failure noticed after %v", d.Round(time.Millisecond))
	if seen := g.countBackends(t, path, 30); seen[b.name] != 30 {
		t.Errorf("30 GETs with %s unhealthy answered by %v, want all by %s", a.name, seen, b.name)
	}
	if got := g.containerHealth(t, "b", b.name); got != "healthy" {
		t.Errorf("/health: %s is %q, want healthy", b.name, got)
	}

	a.exec("rm", "/tmp/unhealthy")
	g.waitBackend(t, path, a.name, 3*time.Second)
	if got := g.containerHealth(t, "b", a.name); got != "healthy" {
		t.Errorf("/health: %s is %q after serving again, want healthy", a.name, got)
	}
}

// TestHealthCheckUnhealthyFromStart: a container whose probe never passes
// is reported unhealthy and gets no traffic; its sibling gets all of it.
func TestHealthCheckUnhealthyFromStart(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	good := runContainer(t, "good", map[string]string{"app_name": label})
	sick := runContainer(t, "sick", map[string]string{"app_name": label}, "UNHEALTHY=1")
	g := startGateway(t, policyConfig(label, "", healthCheckConfig))
	path := "/api/" + label + "/x"
	g.waitBackend(t, path, good.name, 5*time.Second)
	eventually(t, 3*time.Second, "/health: "+sick.name+" unhealthy", func() bool {
		return g.containerHealth(t, "b", sick.name) == "unhealthy"
	})
	if seen := g.countBackends(t, path, 30); seen[good.name] != 30 {
		t.Errorf("30 GETs answered by %v, want all by %s, none by %s", seen, good.name, sick.name)
	}
}

// TestPassiveEjection: without an active health check, a container that
// refuses connections is taken out after a few consecutive connect failures,
// so that even without retries the traffic soon goes to the good one only;
// /health shows it ejected.
func TestPassiveEjection(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	good := runContainer(t, "good", map[string]string{"app_name": label})
	// deaf runs but never listens on its rgate.port: it must stay warming
	// and get no traffic at all.
	deaf := startContainer(t, "deaf", ctrSpec{
		labels:     map[string]string{"app_name": label},
		listenPort: freePort(t), // not the rgate.port label's port
	})
	// A static URL with nothing listening is never warming (static URLs
	// are taken as ready): it is ejected after repeated refusals.
	dead := "127.0.0.1:" + strconv.Itoa(freePort(t))
	g := startGateway(t, policyConfig(label, "    retries: 0\n", "    urls: [http://"+dead+"]\n"))
	path := "/api/" + label + "/x"
	g.waitBackend(t, path, good.name, 5*time.Second)

	// Random balancing sends some requests to the dead URL until it is
	// ejected; then 20 in a row must reach the good container.
	var refused int
	eventually(t, 5*time.Second, "20 GETs in a row answered by "+good.name, func() bool {
		for range 20 {
			r := g.get(t, path)
			if r.status != http.StatusOK || r.backend() != good.name {
				refused++
				return false
			}
		}
		return true
	})
	t.Logf("%d requests failed before %s was ejected", refused, dead)
	info := g.containerInfo(t, "b", deaf.name)
	if info["warming"] != true || info["requests"] != float64(0) {
		t.Errorf("/health: %s (never listening): %v, want warming and no requests", deaf.name, info)
	}
	h := g.adminJSON(t, "/health")
	urls, _ := jsonAt(h, "backends", "b", "urls")
	list, _ := urls.([]any)
	ejected := false
	for _, u := range list {
		if m := u.(map[string]any); m["address"] == "http://"+dead {
			ejected = m["ejected"] == true
		}
	}
	if !ejected {
		t.Errorf("/health: static URL %s refusing connections is not ejected: %v", dead, urls)
	}
}
