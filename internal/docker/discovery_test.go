package docker

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/moby/moby/api/types/events"
)

// startDiscovery runs a Discovery over two fake engines, "a" (a unix
// socket: no address) and "b" (at 10.0.0.2), inside a synctest bubble; the
// returned stop cancels it and checks that Run returns at once.
func startDiscovery(t *testing.T, a, b *fakeAPI) (*Discovery, func()) {
	t.Helper()
	d := NewDiscovery([]Source{
		{Endpoint: Endpoint{Name: "a", Host: "unix:///a.sock"}, API: a},
		{Endpoint: Endpoint{Name: "b", Host: "tcp://10.0.0.2:2376", Address: "10.0.0.2"}, API: b},
	}, nil, Options{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return d, func() {
		t.Helper()
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v", err)
			}
		default:
			t.Fatal("Run did not return promptly after cancel")
		}
	}
}

// nextMerged returns the pending merged snapshot once everything settles.
func nextMerged(t *testing.T, d *Discovery) Snapshot {
	t.Helper()
	synctest.Wait()
	select {
	case s := <-d.Updates():
		return s
	default:
		t.Fatal("no merged snapshot sent")
		return Snapshot{}
	}
}

// where lists each container as "endpoint/id@hostaddress".
func where(s Snapshot) []string {
	var out []string
	for _, c := range s.Containers {
		out = append(out, c.Endpoint+"/"+c.ID+"@"+c.HostAddress)
	}
	return out
}

func TestDiscoveryMergesEngines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newFakeAPI(running("a2", nil), running("a1", nil))
		b := newFakeAPI(running("a0", nil)) // sorts first by ID, but engine b comes second
		d, stop := startDiscovery(t, a, b)
		defer stop()
		got := where(nextMerged(t, d))
		if want := []string{"a/a1@", "a/a2@", "b/a0@10.0.0.2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("merged = %v, want %v", got, want)
		}
		eps := d.Endpoints()
		if len(eps) != 2 || eps[0].Name != "a" || eps[1].Host != "tcp://10.0.0.2:2376" || !eps[0].Connected || !eps[1].Connected {
			t.Errorf("Endpoints() = %+v", eps)
		}
		if st := d.Status(); !st.Connected || st.Lists != 2 {
			t.Errorf("Status() = %+v, want connected, 2 lists in all", st)
		}
	})
}

// TestDiscoveryKeepsLostEngine: engine b goes away; its containers stay in
// the merged snapshot while a keeps updating, and when b comes back its
// list replaces them.
func TestDiscoveryKeepsLostEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newFakeAPI(running("a1", nil))
		b := newFakeAPI(running("b1", nil))
		d, stop := startDiscovery(t, a, b)
		defer stop()
		nextMerged(t, d)
		as, bs := drainStream(t, a), drainStream(t, b)

		b.setErrs(errors.New("connection refused"), nil)
		bs.fail(errors.New("unexpected EOF"))
		advance(3 * time.Second)
		st := d.Status()
		if st.Connected || !strings.Contains(st.LastError, "b: pinging docker: connection refused") {
			t.Errorf("Status() with b away = %+v, want disconnected naming b", st)
		}
		if eps := d.Endpoints(); !eps[0].Connected || eps[1].Connected || d.Unreachable() {
			t.Errorf("Endpoints() = %+v; want a connected, b not", eps)
		}

		a.set(running("a1", nil), running("a2", nil))
		as.send(events.ContainerEventType, events.ActionStart, "a2", nil)
		advance(200 * time.Millisecond)
		if got, want := where(nextMerged(t, d)), []string{"a/a1@", "a/a2@", "b/b1@10.0.0.2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("merged with b away = %v, want %v (b's last containers kept)", got, want)
		}

		b.setErrs(nil, nil)
		b.set(running("b2", nil))
		advance(2 * time.Second)
		if got, want := where(nextMerged(t, d)), []string{"a/a1@", "a/a2@", "b/b2@10.0.0.2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("merged after b's return = %v, want %v (b resynced)", got, want)
		}
		if !d.Status().Connected {
			t.Errorf("Status() = %+v, want connected again", d.Status())
		}
	})
}

// TestDiscoveryEngineDownAtStart: an engine that fails at start does not
// hold back the others' containers, and with every engine down nothing is
// sent (never an empty snapshot) and Unreachable says so.
func TestDiscoveryEngineDownAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newFakeAPI(running("a1", nil))
		b := newFakeAPI()
		b.setErrs(errors.New("no such host"), nil)
		d, stop := startDiscovery(t, a, b)
		defer stop()
		if got := where(nextMerged(t, d)); !reflect.DeepEqual(got, []string{"a/a1@"}) {
			t.Errorf("merged = %v, want a's container", got)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		a, b := newFakeAPI(), newFakeAPI()
		a.setErrs(errors.New("down"), nil)
		b.setErrs(errors.New("down"), nil)
		d, stop := startDiscovery(t, a, b)
		defer stop()
		advance(5 * time.Second)
		select {
		case s := <-d.Updates():
			t.Errorf("snapshot %+v sent with every engine down", s)
		default:
		}
		if !d.Unreachable() {
			t.Error("Unreachable() = false with every engine down")
		}
	})
}

// TestDiscoveryOneEngine: a single unnamed engine (no docker.endpoints)
// gives exactly its watcher's snapshots and status.
func TestDiscoveryOneEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(running("x", nil))
		d := NewDiscovery([]Source{{API: api}}, nil, Options{})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		defer func() { cancel(); <-done }()
		if got := where(nextMerged(t, d)); !reflect.DeepEqual(got, []string{"/x@"}) {
			t.Errorf("snapshot = %v, want the container with no endpoint", got)
		}
		api.setErrs(errors.New("gone"), nil)
		drainStream(t, api).fail(errors.New("EOF"))
		synctest.Wait()
		if st := d.Status(); st.Connected || !strings.HasPrefix(st.LastError, "reading docker events: EOF") {
			t.Errorf("Status() = %+v, want the watcher's own, unprefixed", st)
		}
	})
}

// drainStream returns api's newest event subscription.
func drainStream(t *testing.T, api *fakeAPI) *fakeStream {
	t.Helper()
	synctest.Wait()
	var s *fakeStream
	for {
		select {
		case s = <-api.streams:
		default:
			if s == nil {
				t.Fatal("no event subscription")
			}
			return s
		}
	}
}
