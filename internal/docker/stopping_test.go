package docker

import (
	"log/slog"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

func TestKillMarksStoppingAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(running("a", nil), running("b", nil))
		h := start(t, api, Options{})
		defer h.stop()
		h.next()
		s := h.stream()

		t0 := time.Now()
		s.send(events.ContainerEventType, events.ActionKill, "a", map[string]string{"signal": "15"})
		got := states(h.next())
		if time.Since(t0) != 0 {
			t.Errorf("the stopping snapshot waited %v, want none", time.Since(t0))
		}
		if want := map[string]string{"a": StateStopping, "b": "running"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("states after kill = %v, want %v", got, want)
		}
		advance(time.Second) // the re-list still says running
		h.none()

		s.send(events.ContainerEventType, events.ActionKill, "b", map[string]string{"signal": "SIGHUP"})
		advance(time.Second)
		h.none() // a reload signal leaves b serving

		s.send(events.ContainerEventType, events.ActionStart, "a", nil)
		if got := states(h.next()); got["a"] != "running" {
			t.Errorf("states after start = %v, want a running", got)
		}
	})
}

func TestStopAndPauseMarkStopping(t *testing.T) {
	for _, tc := range []struct {
		mark, unmark events.Action
	}{
		{events.ActionStop, events.ActionStart},
		{events.ActionPause, events.ActionUnPause},
		{events.ActionKill, events.ActionRestart},
	} {
		t.Run(string(tc.mark), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, newFakeAPI(running("a", nil)), Options{})
				defer h.stop()
				h.next()
				s := h.stream()
				s.send(events.ContainerEventType, tc.mark, "a", nil)
				if got := states(h.next()); got["a"] != StateStopping {
					t.Errorf("after %s: %v, want stopping", tc.mark, got)
				}
				s.send(events.ContainerEventType, tc.unmark, "a", nil)
				if got := states(h.next()); got["a"] != "running" {
					t.Errorf("after %s: %v, want running", tc.unmark, got)
				}
			})
		})
	}
}

func TestStopMarkExpiresWhenStillRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, newFakeAPI(running("a", nil)), Options{Resync: 4 * time.Second})
		defer h.stop()
		h.next()
		h.stream().send(events.ContainerEventType, events.ActionKill, "a", nil)
		h.next()
		advance(stopGrace) // lists at 0.1s, 4.1s, 8.1s: still within the grace
		h.none()
		advance(4 * time.Second) // list at 12.1s
		if got := states(h.next()); got["a"] != "running" {
			t.Errorf("states = %v, want a running again", got)
		}
		if n := h.logs.count(slog.LevelInfo, "container still running"); n != 1 {
			t.Errorf("%d logs about the ignored stop, want 1", n)
		}
	})
}

func TestStopMarkClearedOnceStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(running("a", nil))
		h := start(t, api, Options{Resync: time.Second})
		defer h.stop()
		h.next()
		s := h.stream()
		s.send(events.ContainerEventType, events.ActionKill, "a", map[string]string{"signal": "9"})
		h.next()
		api.set(withState(running("a", nil), container.StateExited, "Exited (137) 1 second ago"))
		s.send(events.ContainerEventType, events.ActionDie, "a", nil)
		advance(100 * time.Millisecond)
		if got := states(h.next()); got["a"] != "exited" {
			t.Errorf("states = %v, want a exited", got)
		}
		// Started again with the start event missed: the next list serves it.
		api.set(running("a", nil))
		advance(time.Second)
		if got := states(h.next()); got["a"] != "running" {
			t.Errorf("states = %v, want a running", got)
		}
	})
}

func TestStopMarksObserve(t *testing.T) {
	t0 := time.Unix(1000, 0)
	run := Container{ID: "a", State: "running"}
	exited := Container{ID: "a", State: "exited"}
	for _, tc := range []struct {
		name     string
		list     []Container
		listedAt time.Time
		kept     bool
		expired  bool
	}{
		{"running, within grace", []Container{run}, t0.Add(time.Second), true, false},
		{"running, after grace", []Container{run}, t0.Add(stopGrace + time.Second), false, true},
		{"exited", []Container{exited}, t0.Add(time.Second), false, false},
		{"exited in a list from before the mark", []Container{exited}, t0.Add(-time.Second), true, false},
		{"gone", nil, t0.Add(time.Second), false, false},
		{"gone from a list from before the mark", nil, t0.Add(-time.Second), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := stopMarks{}
			m.mark("a", t0)
			expired := m.observe(tc.list, tc.listedAt)
			if _, kept := m["a"]; kept != tc.kept {
				t.Errorf("mark kept = %v, want %v", kept, tc.kept)
			}
			if got := len(expired) == 1; got != tc.expired {
				t.Errorf("expired = %v, want expired %v", expired, tc.expired)
			}
		})
	}
}

func TestStopMarksApplyCopies(t *testing.T) {
	cs := []Container{{ID: "a", State: "running"}, {ID: "b", State: "running"}, {ID: "c", State: "exited"}}
	m := stopMarks{"a": time.Now(), "c": time.Now()}
	got := m.apply(cs)
	if got[0].State != StateStopping || got[1].State != "running" || got[2].State != "exited" {
		t.Errorf("apply() = %+v", got)
	}
	if cs[0].State != "running" {
		t.Error("apply() modified its input")
	}
}

func TestIsStopSignal(t *testing.T) {
	for _, tc := range []struct {
		attrs map[string]string
		want  bool
	}{
		{nil, true},
		{map[string]string{"signal": ""}, true},
		{map[string]string{"signal": "15"}, true},
		{map[string]string{"signal": "9"}, true},
		{map[string]string{"signal": "SIGTERM"}, true},
		{map[string]string{"signal": "KILL"}, true},
		{map[string]string{"signal": "sigkill"}, true},
		{map[string]string{"signal": "1"}, false},
		{map[string]string{"signal": "SIGHUP"}, false},
		{map[string]string{"signal": "USR1"}, false},
	} {
		if got := isStopSignal(tc.attrs); got != tc.want {
			t.Errorf("isStopSignal(%v) = %v, want %v", tc.attrs, got, tc.want)
		}
	}
}
