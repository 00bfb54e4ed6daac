package health

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/upstream"
)

func sec(n float64) config.Duration { return config.Duration(n * float64(time.Second)) }

// TestTransitions drives one upstream through a sequence of probe answers,
// one per interval, and checks the verdict after each.
func TestTransitions(t *testing.T) {
	steps := []struct {
		status     int
		wantActive string
		wantReason string
	}{
		{200, upstream.ActiveUnknown, ""}, // 1 pass of 2
		{200, upstream.ActiveHealthy, ""},
		{500, upstream.ActiveHealthy, ""}, // 1 failure of 3
		{500, upstream.ActiveHealthy, ""},
		{500, upstream.ActiveUnhealthy, "GET /health: status 500"},
		{refused, upstream.ActiveUnhealthy, "GET /health: connection refused"},
		{hang, upstream.ActiveUnhealthy, "GET /health: timeout after 100ms"},
		{204, upstream.ActiveUnhealthy, "GET /health: timeout after 100ms"}, // 1 pass of 2
		{302, upstream.ActiveHealthy, ""},                                   // 3xx passes, not followed
		{404, upstream.ActiveHealthy, ""},
	}
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		rt := newFakeTransport()
		u := containerUpstream(upstream.NewRegistry(), "10.0.0.1:8080")
		c := NewChecker(&http.Client{Transport: rt}, logs.logger())
		defer c.Close()
		check := config.HealthCheck{Path: "/health", Interval: sec(1), Timeout: sec(0.1), HealthyAfter: 2, UnhealthyAfter: 3}

		for i, s := range steps {
			rt.set(u.Host, s.status)
			if i == 0 {
				c.Sync([]Target{{U: u, Check: check, Backend: "payment"}})
			} else {
				time.Sleep(check.Interval.D())
			}
			synctest.Wait()
			if s.status == hang { // let the probe's deadline pass
				time.Sleep(check.Timeout.D())
				synctest.Wait()
			}
			h := u.Health()
			if h.Active != s.wantActive || h.ActiveReason != s.wantReason {
				t.Fatalf("step %d (status %d): Active = %q %q, want %q %q", i, s.status, h.Active, h.ActiveReason, s.wantActive, s.wantReason)
			}
			if want := s.wantActive != upstream.ActiveUnhealthy; u.Available() != want {
				t.Fatalf("step %d: Available = %v, want %v", i, !want, want)
			}
		}
		if n := rt.callsTo("elsewhere.invalid"); n != 0 {
			t.Errorf("a redirect was followed %d times", n)
		}
		if got := rt.agents[u.Host]; got != UserAgent {
			t.Errorf("User-Agent = %q, want %q", got, UserAgent)
		}

		out := logs.String()
		for _, want := range []string{
			`level=WARN msg="upstream unhealthy" backend=payment upstream=10.0.0.1:8080 container=c-10.0.0.1:8080 reason="GET /health: status 500"`,
			`level=INFO msg="upstream healthy again" backend=payment`,
			`level=DEBUG msg="upstream healthy" backend=payment`,
		} {
			if strings.Count(out, want) != 1 {
				t.Errorf("log has %d lines with %s, want 1; log:\n%s", strings.Count(out, want), want, out)
			}
		}
		if n := strings.Count(out, "level=WARN"); n != 1 {
			t.Errorf("%d warnings, want 1 (only the transition); log:\n%s", n, out)
		}
	})
}

func TestDefaultsApplied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := newFakeTransport()
		u := upstream.NewRegistry().Get(upstream.Key{Scheme: "http", Host: "static:80"})
		rt.set(u.Host, 500)
		c := NewChecker(&http.Client{Transport: rt}, nil)
		defer c.Close()
		c.Sync([]Target{{U: u}}) // zero check: defaults
		synctest.Wait()
		if got := rt.paths[u.Host]; got != config.DefaultHealthPath {
			t.Errorf("probed %q, want the default path %q", got, config.DefaultHealthPath)
		}
		time.Sleep(config.DefaultHealthInterval - time.Nanosecond)
		synctest.Wait()
		if n := rt.callsTo(u.Host); n != 1 {
			t.Errorf("%d probes before the default interval, want 1", n)
		}
		time.Sleep(time.Nanosecond + config.DefaultHealthInterval*(config.DefaultUnhealthyAfter-2))
		synctest.Wait()
		if n := rt.callsTo(u.Host); n != config.DefaultUnhealthyAfter || !u.ActiveDown() {
			t.Errorf("%d probes, ActiveDown = %v; want %d and down", n, u.ActiveDown(), config.DefaultUnhealthyAfter)
		}
	})
}

func TestSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := newFakeTransport()
		reg := upstream.NewRegistry()
		a, b := containerUpstream(reg, "a:80"), containerUpstream(reg, "b:80")
		rt.set(a.Host, 500)
		rt.set(b.Host, 500)
		c := NewChecker(&http.Client{Transport: rt}, nil)
		defer c.Close()
		check := config.HealthCheck{Path: "/", Interval: sec(1), Timeout: sec(1), HealthyAfter: 1, UnhealthyAfter: 1}
		both := []Target{{U: a, Check: check, Backend: "x"}, {U: b, Check: check, Backend: "x"}, {U: a, Check: check, Backend: "y"}}

		c.Sync(both)
		synctest.Wait()
		if rt.callsTo(a.Host) != 1 || rt.callsTo(b.Host) != 1 {
			t.Fatalf("calls a=%d b=%d after Sync, want one immediate probe each (one loop per pair)", rt.callsTo(a.Host), rt.callsTo(b.Host))
		}
		if !a.ActiveDown() || !b.ActiveDown() {
			t.Fatal("upstreams not marked down")
		}

		// Unchanged pairs keep their loops: no fresh immediate probe.
		c.Sync(both)
		synctest.Wait()
		if rt.callsTo(a.Host) != 1 || rt.callsTo(b.Host) != 1 {
			t.Errorf("calls a=%d b=%d after an unchanged Sync, want 1 each", rt.callsTo(a.Host), rt.callsTo(b.Host))
		}

		// A changed check restarts a's loop and keeps a's verdict; b is no
		// longer checked: its loop stops and its verdict is cleared.
		changed := check
		changed.UnhealthyAfter = 3
		c.Sync([]Target{{U: a, Check: changed, Backend: "x"}})
		synctest.Wait()
		if rt.callsTo(a.Host) != 2 {
			t.Errorf("calls a=%d after a changed check, want 2 (new loop probes at once)", rt.callsTo(a.Host))
		}
		if !a.ActiveDown() {
			t.Error("a changed check reset the upstream's verdict")
		}
		if h := b.Health(); h.Active != upstream.ActiveUnknown {
			t.Errorf("unchecked upstream is %q, want unknown", h.Active)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if rt.callsTo(a.Host) != 7 || rt.callsTo(b.Host) != 1 {
			t.Errorf("calls a=%d b=%d after 5s, want 7 and 1", rt.callsTo(a.Host), rt.callsTo(b.Host))
		}

		c.Close()
		c.Sync(both) // no-op after Close
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if rt.callsTo(a.Host) != 7 || rt.callsTo(b.Host) != 1 {
			t.Errorf("calls a=%d b=%d after Close, want no more probes", rt.callsTo(a.Host), rt.callsTo(b.Host))
		}
		if !a.ActiveDown() {
			t.Error("Close changed a verdict")
		}
	})
}

func TestPanicRecovered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		rt := newFakeTransport()
		u := containerUpstream(upstream.NewRegistry(), "p:80")
		rt.set(u.Host, boom)
		c := NewChecker(&http.Client{Transport: rt}, logs.logger())
		defer c.Close()
		c.Sync([]Target{{U: u, Check: config.HealthCheck{Interval: sec(1), UnhealthyAfter: 1}}})
		synctest.Wait()
		rt.set(u.Host, 200)
		time.Sleep(time.Second)
		synctest.Wait()
		if u.Health().Active != upstream.ActiveHealthy {
			t.Errorf("loop did not carry on after a panic: %+v", u.Health())
		}
		out := logs.String()
		if !strings.Contains(out, `msg="health probe panicked"`) || !strings.Contains(out, "panic=boom") || !strings.Contains(out, "goroutine") {
			t.Errorf("panic not logged with its stack:\n%s", out)
		}
	})
}

func TestStopMidProbeGivesNoVerdict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := newFakeTransport()
		u := containerUpstream(upstream.NewRegistry(), "h:80")
		rt.set(u.Host, hang)
		c := NewChecker(&http.Client{Transport: rt}, nil)
		c.Sync([]Target{{U: u, Check: config.HealthCheck{Interval: sec(1), Timeout: sec(10), UnhealthyAfter: 1}}})
		synctest.Wait()
		c.Close() // cancels the hanging probe
		if h := u.Health(); h.Active != upstream.ActiveUnknown {
			t.Errorf("a probe cancelled by Close gave a verdict: %+v", h)
		}
	})
}

func TestWithDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   config.HealthCheck
		want config.HealthCheck
	}{
		{"zero", config.HealthCheck{}, config.HealthCheck{
			Path: "/", Interval: config.Duration(config.DefaultHealthInterval), Timeout: config.Duration(config.DefaultHealthTimeout),
			HealthyAfter: config.DefaultHealthyAfter, UnhealthyAfter: config.DefaultUnhealthyAfter,
		}},
		{"set", config.HealthCheck{Path: "/h?x=1", Interval: sec(2), Timeout: sec(3), HealthyAfter: 4, UnhealthyAfter: 5},
			config.HealthCheck{Path: "/h?x=1", Interval: sec(2), Timeout: sec(3), HealthyAfter: 4, UnhealthyAfter: 5}},
		{"relative path", config.HealthCheck{Path: "health", Interval: sec(1), Timeout: sec(1), HealthyAfter: 1, UnhealthyAfter: 1},
			config.HealthCheck{Path: "/health", Interval: sec(1), Timeout: sec(1), HealthyAfter: 1, UnhealthyAfter: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := withDefaults(tc.in); got != tc.want {
				t.Errorf("withDefaults = %+v, want %+v", got, tc.want)
			}
		})
	}
}
