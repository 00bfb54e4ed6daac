package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestNoContainer503: a routed path whose backend has no container is 503
// with a JSON error body.
func TestNoContainer503(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	g := startGateway(t, oneBackend(label, ""))
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		r := g.do(t, g.request(t, m, "/api/"+label+"/x", strings.NewReader("body")))
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("%s = %d, want 503; body %q", m, r.status, r.body)
		}
		checkErrorBody(t, r)
	}
}

// TestNoListenerOnLabelledPort: a container whose rgate.port has nothing
// listening gives a quick 503, not a hang.
func TestNoListenerOnLabelledPort(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := startContainer(t, "deaf", ctrSpec{
		labels:     map[string]string{"app_name": label},
		listenPort: freePort(t), // not the rgate.port label's port
	})
	g := startGateway(t, oneBackend(label, ""))
	// Make sure the 503s below come from the refused connection, not from
	// an empty backend.
	eventually(t, 5*time.Second, "/health with "+c.name+" serving", func() bool {
		return g.healthServes(t, "b", c.name)
	})
	for _, m := range []string{http.MethodGet, http.MethodGet, http.MethodPost, http.MethodGet} {
		start := time.Now()
		r := g.do(t, g.request(t, m, "/api/"+label+"/x", strings.NewReader("body")))
		d := time.Since(start)
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("%s to %s (rgate.port %s, listening on %d) = %d, want 503; body %q",
				m, c.name, c.port, c.listenPort, r.status, r.body)
		}
		checkErrorBody(t, r)
		if d > 2*time.Second {
			t.Errorf("%s took %v, want under 2s", m, d)
		}
	}
}

// TestRefusedConnectionRetriesOtherContainer: when one of two containers
// refuses connections, idempotent requests (RFC 9110: GET, HEAD, PUT,
// DELETE, ...) still all succeed.
func TestRefusedConnectionRetriesOtherContainer(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	good := runContainer(t, "good", map[string]string{"app_name": label})
	deaf := startContainer(t, "deaf", ctrSpec{
		labels:     map[string]string{"app_name": label},
		listenPort: freePort(t),
	})
	g := startGateway(t, oneBackend(label, ""))
	path := "/api/" + label + "/x"
	// Both containers were running before the gateway started, so the
	// snapshot that brings the good one brings the deaf one too.
	g.waitBackend(t, path, good.name, 5*time.Second)
	for i := range 40 {
		m := []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete}[i%4]
		r := g.do(t, g.request(t, m, path, nil))
		if r.status != http.StatusOK || r.backend() != good.name {
			t.Errorf("%s #%d = %d from %q, want 200 from %s (retried past %s)",
				m, i, r.status, r.backend(), good.name, deaf.name)
		}
	}
}

// TestRouteTimeout504: an upstream slower than the route's timeout gives 504
// at about the timeout; a faster one passes.
func TestRouteTimeout504(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "slow", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, "    timeout: 500ms\n"))
	base := "/api/" + label
	g.waitBackend(t, base+"/x", c.name, 5*time.Second)

	start := time.Now()
	r := g.get(t, base+"/sleep?d=5s")
	d := time.Since(start)
	if r.status != http.StatusGatewayTimeout {
		t.Errorf("GET sleep?d=5s = %d, want 504; body %q", r.status, r.body)
	}
	checkErrorBody(t, r)
	if d < 400*time.Millisecond || d > 3*time.Second {
		t.Errorf("504 came after %v, want about the 500ms timeout", d)
	}
	if r := g.get(t, base+"/sleep?d=50ms"); r.status != http.StatusOK {
		t.Errorf("GET sleep?d=50ms = %d, want 200; body %q", r.status, r.body)
	}
}

// TestMalformedUpstream502: a garbage answer from the upstream gives 502.
func TestMalformedUpstream502(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "garbage", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	base := "/api/" + label
	g.waitBackend(t, base+"/x", c.name, 5*time.Second)
	for i := range 3 {
		r := g.get(t, base+"/malformed")
		if r.status != http.StatusBadGateway {
			t.Errorf("GET malformed #%d = %d, want 502; body %q", i, r.status, r.body)
		}
		checkErrorBody(t, r)
	}
	// The gateway still serves that upstream afterwards.
	if r := g.get(t, base+"/x"); r.status != http.StatusOK {
		t.Errorf("GET after the 502s = %d, want 200", r.status)
	}
}
