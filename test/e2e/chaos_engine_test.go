package e2e

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestChaosEngineLoss: promise "engine loss is survived". rgate talks to
// the engine through a socket proxy the test controls. Under steady load the
// proxy is cut (listener and live connections) for about 3 s; meanwhile a new
// labelled container starts and an old one stops, directly on the real
// engine. Traffic keeps flowing (zero failures), and once the proxy is back
// rgate routes to the new container and no longer lists the stopped one
// within a few seconds.
func TestChaosEngineLoss(t *testing.T) {
	t.Parallel()
	if h := os.Getenv("DOCKER_HOST"); h != "" && !strings.HasPrefix(h, "unix://") {
		t.Skipf("DOCKER_HOST=%s is not a unix socket", h)
	}
	label := uniq(t)
	px := newSockProxy(t, engineSocket())
	keep := runContainer(t, "keep", map[string]string{"app_name": label})
	gone := runContainer(t, "gone", map[string]string{"app_name": label})
	g := startGatewayWith(t, oneBackend(label, "    timeout: 2s\n"), gwOptions{env: []string{"DOCKER_HOST=unix://" + px.path}})
	path := "/api/" + label + "/engine"
	g.waitBackend(t, path, keep.name, 5*time.Second)
	g.waitBackend(t, path, gone.name, 5*time.Second)

	l := startChaosLoad(t, g, 8,
		chaosTarget{http.MethodGet, path}, chaosTarget{http.MethodHead, path}, chaosTarget{http.MethodOptions, path})
	time.Sleep(500 * time.Millisecond)

	l.setPhase("outage")
	px.Close()
	cut := time.Now()
	fresh := runContainer(t, "fresh", map[string]string{"app_name": label})
	gone.stop()
	if n, _ := l.seen(fresh.name); n != 0 {
		t.Errorf("during the outage %d answers came from %s, which rgate cannot know of yet", n, fresh.name)
	}
	time.Sleep(time.Until(cut.Add(3 * time.Second)))
	if v, _ := jsonAt(g.adminJSON(t, "/health"), "docker", "connected"); v != false {
		t.Errorf("GET /health during the outage: docker.connected = %v, want false", v)
	}

	l.setPhase("reconnect")
	if err := px.Reopen(); err != nil {
		t.Fatalf("reopening the socket proxy: %v", err)
	}
	back := time.Now()
	var freshAt, goneAt time.Duration
	eventually(t, 15*time.Second, "rgate routing to "+fresh.name+" and no longer listing "+gone.name, func() bool {
		if n, at := l.seen(fresh.name); n > 0 && freshAt == 0 {
			freshAt = at.Sub(back)
		}
		if goneAt == 0 && !chaosListed(t, g, "b", gone.name) {
			goneAt = time.Since(back)
		}
		return freshAt != 0 && goneAt != 0
	})
	converged := max(freshAt, goneAt)
	t.Logf("outage %v; after the proxy came back: first answer from the new container after %v, stopped container delisted after %v",
		back.Sub(cut).Round(time.Millisecond), freshAt.Round(time.Millisecond), goneAt.Round(time.Millisecond))
	if converged > 5*time.Second {
		t.Errorf("rgate converged %v after the engine came back, want within 5s", converged)
	}
	l.setPhase("after")
	time.Sleep(time.Second)
	l.report(t, "engine loss")
	t.Logf("time to converge after the engine came back: %v", converged.Round(time.Millisecond))
}

// chaosListed reports whether GET /health lists container name among
// those of backend.
func chaosListed(t *testing.T, g *gw, backend, name string) bool {
	t.Helper()
	return g.containerInfo(t, backend, name) != nil
}
