package docker

import (
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/moby/moby/api/types/events"
)

func TestHandleRelists(t *testing.T) {
	filter := eventFilters()
	for _, tc := range []struct {
		typ    events.Type
		action events.Action
		relist bool
	}{
		{events.ContainerEventType, events.ActionCreate, true},
		{events.ContainerEventType, events.ActionStart, true},
		{events.ContainerEventType, events.ActionRestart, true},
		{events.ContainerEventType, events.ActionKill, true},
		{events.ContainerEventType, events.ActionStop, true},
		{events.ContainerEventType, events.ActionDie, true},
		{events.ContainerEventType, events.ActionPause, true},
		{events.ContainerEventType, events.ActionUnPause, true},
		{events.ContainerEventType, events.ActionRename, true},
		{events.ContainerEventType, events.ActionDestroy, true},
		{events.ContainerEventType, events.ActionHealthStatusHealthy, true},
		{events.ContainerEventType, events.ActionHealthStatusUnhealthy, true},
		{events.ContainerEventType, "health_status: starting", true},
		{events.NetworkEventType, events.ActionConnect, true},
		{events.NetworkEventType, events.ActionDisconnect, true},
		{events.NetworkEventType, events.ActionCreate, false},
		{events.ContainerEventType, events.ActionExecStart, false},
		{events.ContainerEventType, events.ActionAttach, false},
	} {
		w := NewWatcher(newFakeAPI(), nil, Options{})
		msg := events.Message{Type: tc.typ, Action: tc.action, Actor: events.Actor{ID: "a"}}
		if got := w.handle(msg); got != tc.relist {
			t.Errorf("handle(%s %q) = %v, want %v", tc.typ, tc.action, got, tc.relist)
		}
		if !tc.relist {
			continue
		}
		// The engine filter must let every such event through ("health_status"
		// is matched as a prefix).
		action, _, _ := strings.Cut(string(tc.action), ":")
		if !filter["type"][string(tc.typ)] || !filter["event"][action] {
			t.Errorf("event filter %v drops %s %q", filter, tc.typ, tc.action)
		}
	}
}

func TestPanicRecovered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(running("a", nil))
		api.panics = 1
		h := start(t, api, Options{})
		defer h.stop()
		advance(DefaultBackoffMax)
		if got := states(h.next()); got["a"] != "running" {
			t.Errorf("states = %v, want a running after the panic", got)
		}
		if n := h.logs.count(slog.LevelError, "docker watcher panicked"); n != 1 {
			t.Errorf("%d panic logs, want 1", n)
		}
		if st := h.w.Status(); !st.Connected || !strings.Contains(st.LastError, "panicked") {
			t.Errorf("Status() = %+v", st)
		}
	})
}
