package upstream

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func newTestUpstream() *Upstream {
	u := NewRegistry().Get(Key{Scheme: "http", Host: "10.0.0.1:8080", ContainerID: "abc", Container: "web-1"})
	u.SetReady() // past warm-up; TestWarming covers it
	return u
}

func TestPassiveEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := newTestUpstream()
		p := Passive{Threshold: 3, EjectFor: 10 * time.Second}
		for i := range 2 {
			if u.ReportConnectFailure(p) {
				t.Fatalf("failure %d ejected before the threshold", i+1)
			}
			if !u.Available() {
				t.Fatalf("unavailable after %d failures", i+1)
			}
		}
		if got := u.Health().ConsecutiveFailures; got != 2 {
			t.Errorf("ConsecutiveFailures = %d, want 2", got)
		}
		start := time.Now()
		if !u.ReportConnectFailure(p) {
			t.Fatal("third failure did not report an ejection")
		}
		if u.Available() {
			t.Fatal("available right after ejection")
		}
		h := u.Health()
		if !h.Ejected || !h.EjectedUntil.Equal(start.Add(10*time.Second)) || h.ConsecutiveFailures != 0 {
			t.Errorf("Health = %+v, want ejected until %v with the count reset", h, start.Add(10*time.Second))
		}
		if u.ActiveDown() {
			t.Error("passive ejection must not count as ActiveDown")
		}

		time.Sleep(10*time.Second - time.Nanosecond)
		if u.Available() {
			t.Fatal("available before EjectFor elapsed")
		}
		time.Sleep(time.Nanosecond)
		if !u.Available() {
			t.Fatal("not available after EjectFor elapsed")
		}
		if h := u.Health(); h.Ejected || !h.EjectedUntil.IsZero() {
			t.Errorf("Health after re-admission = %+v, want not ejected", h)
		}
	})
}

func TestPassiveReejectionAndExtension(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := newTestUpstream()
		p := Passive{Threshold: 1, EjectFor: time.Second}
		if !u.ReportConnectFailure(p) {
			t.Fatal("first ejection not reported")
		}
		time.Sleep(500 * time.Millisecond)
		// Still ejected: extends the ejection but is not a new one.
		if u.ReportConnectFailure(p) {
			t.Error("failure while ejected reported a new ejection")
		}
		time.Sleep(900 * time.Millisecond)
		if u.Available() {
			t.Error("extension did not hold")
		}
		time.Sleep(100 * time.Millisecond)
		if !u.Available() {
			t.Fatal("not re-admitted after the extended ejection")
		}
		if !u.ReportConnectFailure(p) {
			t.Error("ejection after re-admission not reported")
		}
	})
}

func TestPassiveDefaultsAndOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := newTestUpstream()
		for range 100 {
			if u.ReportConnectFailure(Passive{}) {
				t.Fatal("zero Threshold ejected")
			}
		}
		if !u.Available() || u.Health().ConsecutiveFailures != 0 {
			t.Fatalf("passive off changed state: %+v", u.Health())
		}
		u.ReportConnectFailure(Passive{Threshold: 1})
		time.Sleep(DefaultEjectFor - time.Nanosecond)
		if u.Available() {
			t.Error("zero EjectFor did not use DefaultEjectFor")
		}
		time.Sleep(time.Nanosecond)
		if !u.Available() {
			t.Error("not re-admitted after DefaultEjectFor")
		}
	})
}

func TestSuccessResetsFailures(t *testing.T) {
	u := newTestUpstream()
	p := Passive{Threshold: 3, EjectFor: time.Minute}
	for range 5 {
		u.ReportConnectFailure(p)
		u.ReportConnectFailure(p)
		u.ReportSuccess()
	}
	if !u.Available() {
		t.Fatal("ejected although no 3 failures were consecutive")
	}
	if got := u.Health().ConsecutiveFailures; got != 0 {
		t.Errorf("ConsecutiveFailures = %d after success, want 0", got)
	}
}

func TestSetActive(t *testing.T) {
	u := newTestUpstream()
	steps := []struct {
		name        string
		healthy     bool
		reason      string
		wantChanged bool
		wantActive  string
		wantReason  string
		wantAvail   bool
	}{
		{"first verdict healthy", true, "", true, ActiveHealthy, "", true},
		{"healthy again", true, "", false, ActiveHealthy, "", true},
		{"goes unhealthy", false, "GET /health: status 500", true, ActiveUnhealthy, "GET /health: status 500", false},
		{"new reason", false, "GET /health: connection refused", false, ActiveUnhealthy, "GET /health: connection refused", false},
		{"back", true, "ignored", true, ActiveHealthy, "", true},
	}
	if h := u.Health(); h.Active != ActiveUnknown || !u.Available() || u.ActiveDown() {
		t.Fatalf("new upstream: Health = %+v, want unknown and available", h)
	}
	for _, s := range steps {
		if got := u.SetActive(s.healthy, s.reason); got != s.wantChanged {
			t.Errorf("%s: changed = %v, want %v", s.name, got, s.wantChanged)
		}
		h := u.Health()
		if h.Active != s.wantActive || h.ActiveReason != s.wantReason {
			t.Errorf("%s: Health = %q %q, want %q %q", s.name, h.Active, h.ActiveReason, s.wantActive, s.wantReason)
		}
		if u.Available() != s.wantAvail || u.ActiveDown() == s.wantAvail {
			t.Errorf("%s: Available = %v, ActiveDown = %v", s.name, u.Available(), u.ActiveDown())
		}
	}
	u.SetActive(false, "x")
	u.ClearActive()
	if h := u.Health(); h.Active != ActiveUnknown || !u.Available() {
		t.Errorf("after ClearActive: %+v, want unknown and available", h)
	}
}

func TestInFlightAndRequests(t *testing.T) {
	u := newTestUpstream()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				u.Acquire()
				u.Release()
			}
		})
	}
	wg.Wait()
	u.Acquire()
	h := u.Health()
	if h.InFlight != 1 || u.InFlight() != 1 || h.Requests != 8001 {
		t.Errorf("InFlight = %d/%d, Requests = %d; want 1, 8001", h.InFlight, u.InFlight(), h.Requests)
	}
}

func TestConcurrentFailuresEjectOnce(t *testing.T) {
	u := newTestUpstream()
	p := Passive{Threshold: 10, EjectFor: time.Hour}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ejection int
	)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if u.ReportConnectFailure(p) {
					mu.Lock()
					ejection++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if ejection != 1 {
		t.Errorf("%d ejections reported for one ejected period, want 1", ejection)
	}
	if u.Available() {
		t.Error("available after 800 failures")
	}
}

func TestStaticAndKey(t *testing.T) {
	reg := NewRegistry()
	for _, tc := range []struct {
		name string
		key  Key
		want bool
	}{
		{"container", Key{"http", "10.0.0.1:80", "abc", "web", "host-b"}, false},
		{"url", Key{"https", "example.com:443", "", "", ""}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := reg.Get(tc.key)
			if u.Static() != tc.want {
				t.Errorf("Static = %v, want %v", u.Static(), tc.want)
			}
			if u.Key() != tc.key {
				t.Errorf("Key = %+v, want %+v", u.Key(), tc.key)
			}
		})
	}
}

func BenchmarkAvailable(b *testing.B) {
	u := newTestUpstream()
	b.ReportAllocs()
	for b.Loop() {
		if !u.Available() {
			b.Fatal("unavailable")
		}
	}
}

func BenchmarkAvailableEjected(b *testing.B) {
	u := newTestUpstream()
	u.ReportConnectFailure(Passive{Threshold: 1, EjectFor: time.Hour})
	b.ReportAllocs()
	for b.Loop() {
		if u.Available() {
			b.Fatal("available")
		}
	}
}

func BenchmarkAcquireRelease(b *testing.B) {
	u := newTestUpstream()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u.Acquire()
			u.Release()
		}
	})
}

func TestWarming(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	c := reg.Get(Key{Scheme: "http", Host: "10.0.0.1:80", ContainerID: "abc"})
	s := reg.Get(Key{Scheme: "http", Host: "10.0.0.2:80"})
	if !c.Warming() || c.Available() || !c.Health().Warming {
		t.Error("a new container must be warming and unavailable")
	}
	if s.Warming() || !s.Available() {
		t.Error("a static URL must be ready at once")
	}
	c.ReportSuccess() // an answer proves the port listens
	if c.Warming() || !c.Available() {
		t.Error("still warming after a successful answer")
	}
	d := reg.Get(Key{Scheme: "http", Host: "10.0.0.3:80", ContainerID: "def"})
	d.SetReady()
	if d.Warming() {
		t.Error("SetReady did not end warming")
	}
}
