package docker

import (
	"errors"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
)

func TestInitialSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := running("b", map[string]string{"app_name": "payment", "env": "production"})
		b.Names = []string{"/payment-1"}
		b.HostConfig.NetworkMode = "host"
		b.Ports = []container.PortSummary{
			{PrivatePort: 8080, PublicPort: 18080, Type: "tcp", IP: netip.MustParseAddr("0.0.0.0")},
			{PrivatePort: 81, Type: "tcp"},
		}
		b.NetworkSettings = &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{
			"bridge": {IPAddress: netip.MustParseAddr("172.17.0.2")},
			"none":   {},
		}}
		a := withState(running("a", nil), container.StateExited, "Exited (0) 2 minutes ago")
		api := newFakeAPI(b, a)
		h := start(t, api, Options{})
		defer h.stop()

		got := h.next()
		want := Snapshot{Containers: []Container{
			{ID: "a", Name: "a", Image: "img:a", State: "exited", Labels: map[string]string{},
				NetworkMode: "bridge", Networks: map[string]string{}, Ports: []Port{}},
			{ID: "b", Name: "payment-1", Image: "img:b", State: "running",
				Labels:      map[string]string{"app_name": "payment", "env": "production"},
				NetworkMode: "host", Networks: map[string]string{"bridge": "172.17.0.2"},
				Ports: []Port{{Private: 81, Proto: "tcp"},
					{Private: 8080, Proto: "tcp", HostIP: "0.0.0.0", HostPort: 18080}}},
		}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("snapshot:\n got %+v\nwant %+v", got, want)
		}
		if calls := api.callLog(); !slices.Equal(calls, []string{"ping", "events", "list"}) {
			t.Errorf("calls = %v, want ping, events (subscribe first), list", calls)
		}
		st := h.w.Status()
		if !st.Connected || st.Lists != 1 || st.LastError != "" {
			t.Errorf("Status() = %+v, want connected after 1 list", st)
		}
		if n := h.logs.count(slog.LevelInfo, "docker connected"); n != 1 {
			t.Errorf("%d info logs %q, want 1", n, "docker connected")
		}
		h.none()
	})
}

func TestEventsCoalesce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const window = 100 * time.Millisecond
		api := newFakeAPI(running("a", nil))
		h := start(t, api, Options{Coalesce: window})
		defer h.stop()
		h.next()
		s := h.stream()

		t0 := time.Now()
		for i := range 20 {
			s.send(events.ContainerEventType, events.ActionStart, "a", nil)
			if i < 19 {
				time.Sleep(4 * time.Millisecond) // 76ms in all: within the window
			}
		}
		advance(window - time.Since(t0))
		if lists, _ := api.counts(); lists != 2 {
			t.Fatalf("%d lists %v after the first event of a burst, want 2 (initial + 1)", lists, time.Since(t0))
		}
		advance(time.Second)
		if lists, _ := api.counts(); lists != 2 {
			t.Errorf("%d lists after a burst of 20 events, want 2 (initial + 1)", lists)
		}
		if st := h.w.Status(); st.Events != 20 || st.Lists != 2 {
			t.Errorf("Status() = %+v, want 20 events, 2 lists", st)
		}
	})
}

func TestLongBurstListsAtMostTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(running("a", nil))
		h := start(t, api, Options{Coalesce: 100 * time.Millisecond})
		defer h.stop()
		h.next()
		s := h.stream()
		for range 20 { // 190ms: spans two windows
			s.send(events.ContainerEventType, events.ActionDie, "a", nil)
			time.Sleep(10 * time.Millisecond)
		}
		advance(time.Second)
		if lists, _ := api.counts(); lists-1 > 2 {
			t.Errorf("%d lists for a burst of 20 events, want at most 2", lists-1)
		}
	})
}

func TestUnchangedSnapshotNotResent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(running("a", nil))
		h := start(t, api, Options{Resync: time.Second})
		defer h.stop()
		h.next()
		s := h.stream()

		s.send(events.ContainerEventType, events.ActionRename, "a", nil)
		advance(3 * time.Second) // one event list, then resyncs
		if lists, _ := api.counts(); lists < 3 {
			t.Fatalf("%d lists, want a re-list and resyncs", lists)
		}
		h.none()

		api.set(running("a", nil), running("b", nil))
		s.send(events.ContainerEventType, events.ActionStart, "b", nil)
		advance(100 * time.Millisecond)
		if got := states(h.next()); !reflect.DeepEqual(got, map[string]string{"a": "running", "b": "running"}) {
			t.Errorf("states = %v", got)
		}
	})
}

func TestLatestWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(running("a", nil))
		h := start(t, api, Options{})
		defer h.stop()
		synctest.Wait() // initial snapshot sent, not read
		s := h.stream()
		api.set(running("a", nil), running("b", nil))
		s.send(events.ContainerEventType, events.ActionStart, "b", nil)
		advance(time.Second)
		if got := states(h.next()); len(got) != 2 {
			t.Errorf("a slow reader got %v, want the newest snapshot (a and b)", got)
		}
		h.none()
	})
}

func TestStreamErrorKeepsSnapshotAndReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(running("a", nil))
		h := start(t, api, Options{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second})
		defer h.stop()
		h.next()
		s := h.stream()

		api.setErrs(errors.New("daemon down"), nil)
		s.fail(errors.New("unexpected EOF"))
		synctest.Wait()
		st := h.w.Status()
		if st.Connected || !strings.Contains(st.LastError, "unexpected EOF") {
			t.Errorf("Status() after a stream error = %+v, want disconnected with the error", st)
		}
		advance(10 * time.Second) // many failed retries
		h.none()                  // the last snapshot stays; no empty one is sent
		if st := h.w.Status(); st.Connected || !strings.Contains(st.LastError, "daemon down") {
			t.Errorf("Status() while down = %+v", st)
		}
		if n := h.logs.count(slog.LevelWarn, ""); n != 1 {
			t.Errorf("%d warn logs for one outage, want 1", n)
		}
		if n := h.logs.count(slog.LevelDebug, "docker still unavailable"); n < 5 {
			t.Errorf("%d debug retry logs, want several", n)
		}

		api.setErrs(nil, nil)
		api.set(running("a", nil), running("b", nil))
		advance(time.Second) // at most BackoffMax
		if st := h.w.Status(); !st.Connected || st.Lists != 2 {
			t.Errorf("Status() after recovery = %+v, want connected with 2 lists", st)
		}
		if got := states(h.next()); len(got) != 2 {
			t.Errorf("states after reconnect = %v, want a and b", got)
		}
		h.stream() // a new subscription
	})
}

func TestListErrorEndsSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(running("a", nil))
		h := start(t, api, Options{})
		defer h.stop()
		h.next()
		s := h.stream()

		api.setErrs(nil, errors.New("list failed"))
		s.send(events.ContainerEventType, events.ActionStart, "a", nil)
		advance(100 * time.Millisecond)
		if st := h.w.Status(); st.Connected || !strings.Contains(st.LastError, "listing containers: list failed") {
			t.Errorf("Status() = %+v, want disconnected with the wrapped list error", st)
		}
		h.none()
		api.setErrs(nil, nil)
		advance(5 * time.Second)
		if st := h.w.Status(); !st.Connected {
			t.Errorf("Status() = %+v, want reconnected", st)
		}
		h.none() // same containers: nothing new to send
	})
}

func TestRunReturnsOnCancel(t *testing.T) {
	t.Run("connected", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(t, newFakeAPI(running("a", nil)), Options{})
			h.next()
			h.stop()
		})
	})
	t.Run("backing off", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			api := newFakeAPI()
			api.setErrs(errors.New("down"), nil)
			h := start(t, api, Options{BackoffMin: time.Hour, BackoffMax: time.Hour})
			advance(time.Second)
			h.stop()
		})
	})
	t.Run("second Run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(t, newFakeAPI(), Options{})
			defer h.stop()
			synctest.Wait()
			if err := h.w.Run(t.Context()); !errors.Is(err, errRunning) {
				t.Errorf("second Run() = %v, want errRunning", err)
			}
		})
	})
}

func TestOptionsDefaults(t *testing.T) {
	got := Options{BackoffMin: time.Second, BackoffMax: time.Millisecond}.withDefaults()
	want := Options{Coalesce: DefaultCoalesce, Resync: DefaultResync, BackoffMin: time.Second, BackoffMax: time.Second}
	if got != want {
		t.Errorf("withDefaults() = %+v, want %+v", got, want)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI()
		api.setErrs(errors.New("down"), nil)
		h := start(t, api, Options{BackoffMin: time.Second, BackoffMax: 8 * time.Second})
		defer h.stop()
		advance(time.Minute)
		// Waits of 0.5-1s, 1-2s, 2-4s, 4-8s, then 4-8s each: 9 to 18 attempts
		// in a minute. A fixed delay would make 60 or more; no cap, about 6.
		pings := 0
		for _, c := range api.callLog() {
			if c == "ping" {
				pings++
			}
		}
		if pings < 9 || pings > 18 {
			t.Errorf("%d connection attempts in a minute, want 9 to 18", pings)
		}
	})
}
