package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestChaosChurn: promise "churn loses nothing". Two containers serve one
// backend; 8 workers send GET/HEAD/OPTIONS through a route with the default
// retries while one container is stopped and started, killed and started,
// restarted and paused and unpaused, twice each; its sibling stays up. Not
// one request may fail (a non-2xx answer or a transport error).
func TestChaosChurn(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	victim := runContainer(t, "victim", map[string]string{"app_name": label})
	sibling := runContainer(t, "sibling", map[string]string{"app_name": label})
	// A route timeout bounds a request that meets a frozen container, so
	// that a broken promise shows as a 504 rather than a stalled test.
	// (The README's default is 30s.)
	g := startGateway(t, oneBackend(label, "    timeout: 2s\n"))
	path := "/api/" + label + "/churn"
	g.waitBackend(t, path, victim.name, 5*time.Second)
	g.waitBackend(t, path, sibling.name, 5*time.Second)

	l := startChaosLoad(t, g, 8,
		chaosTarget{http.MethodGet, path}, chaosTarget{http.MethodHead, path}, chaosTarget{http.MethodOptions, path})
	time.Sleep(500 * time.Millisecond)

	// back waits until the victim answers again and has had traffic from
	// the load, so that the next cycle takes it out of a live pool.
	back := func(step string) {
		n0, _ := l.seen(victim.name)
		eventually(t, 10*time.Second, "the victim serving the load again after "+step, func() bool {
			n, _ := l.seen(victim.name)
			return n > n0+20
		})
		time.Sleep(200 * time.Millisecond)
	}
	const cycles = 2
	for i := range cycles {
		l.setPhase("stop")
		victim.stop()
		time.Sleep(300 * time.Millisecond)
		victim.start()
		back("stop/start")

		l.setPhase("kill")
		victim.kill()
		time.Sleep(300 * time.Millisecond)
		victim.start()
		back("kill/start")

		l.setPhase("restart")
		docker(t, "restart", "-t", "2", victim.name)
		victim.waitListening()
		back("restart")

		// Paused longer than the route timeout: a request caught on the
		// frozen container is not rescued by the unpause.
		l.setPhase("pause")
		victim.pause()
		time.Sleep(2500 * time.Millisecond)
		victim.unpause()
		back("pause/unpause")
		t.Logf("cycle %d of %d done after %v", i+1, cycles, time.Since(l.start).Round(time.Millisecond))
	}
	l.setPhase("after")
	time.Sleep(500 * time.Millisecond)
	l.report(t, "churn (stop, kill, restart, pause x2)")
}
