package docker

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// streamCloseWait bounds how long a session waits for the SDK's event reader
// goroutine to end after cancelling it.
const streamCloseWait = 5 * time.Second

// session runs one connection to the engine: ping, subscribe, list, follow
// events. It returns when the connection fails (with the error) or ctx is done
// (with nil). connected reports whether it got as far as a first list. A panic
// is logged with its stack and ends the session like an error.
func (w *Watcher) session(ctx context.Context) (connected bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("docker watcher panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("docker watcher panicked: %v", p)
		}
	}()
	pctx, cancel := context.WithTimeout(ctx, callTimeout)
	ping, err := w.api.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	cancel()
	if err != nil {
		return false, fmt.Errorf("pinging docker: %w", err)
	}

	// Subscribe before listing, so that no change between the list and the
	// subscription goes unseen: such events just cause one more list.
	sctx, stop := context.WithCancel(ctx)
	stream := w.api.Events(sctx, client.EventsListOptions{Filters: eventFilters()})
	defer w.closeStream(stop, stream.Err)

	if err := w.relist(ctx); err != nil {
		return false, err
	}
	w.connected(ping.APIVersion)
	return true, w.follow(sctx, stream)
}

// eventFilters selects the events handle acts on: container lifecycle events,
// plus network connect and disconnect, which change a container's addresses.
// Filtering by action keeps out the exec_* events that every HEALTHCHECK probe
// causes. The engine matches "health_status" as a prefix of
// "health_status: healthy" and the like.
func eventFilters() client.Filters {
	return make(client.Filters).
		Add("type", string(events.ContainerEventType), string(events.NetworkEventType)).
		Add("event",
			string(events.ActionCreate), string(events.ActionStart), string(events.ActionRestart),
			string(events.ActionKill), string(events.ActionStop), string(events.ActionDie),
			string(events.ActionPause), string(events.ActionUnPause),
			string(events.ActionRename), string(events.ActionDestroy),
			string(events.ActionHealthStatus),
			string(events.ActionConnect), string(events.ActionDisconnect))
}

// closeStream cancels the event stream and waits (boundedly) for the SDK's
// reader goroutine to end; it closes Err when it does.
func (w *Watcher) closeStream(cancel context.CancelFunc, errs <-chan error) {
	cancel()
	t := time.NewTimer(streamCloseWait)
	defer t.Stop()
	for {
		select {
		case _, ok := <-errs:
			if !ok {
				return
			}
		case <-t.C:
			w.log.Debug("docker event stream did not close in time")
			return
		}
	}
}

// follow handles the event stream until it fails or ctx is done (nil).
func (w *Watcher) follow(ctx context.Context, stream client.EventsResult) error {
	resync := time.NewTimer(w.opt.Resync)
	defer resync.Stop()
	coalesce := time.NewTimer(w.opt.Coalesce)
	coalesce.Stop()
	defer coalesce.Stop()
	armed := false
	listNow := func() error {
		coalesce.Stop()
		armed = false
		err := w.relist(ctx)
		resync.Reset(w.opt.Resync)
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-stream.Err:
			if !ok || err == nil {
				err = io.EOF
			}
			return fmt.Errorf("reading docker events: %w", err)
		case msg, ok := <-stream.Messages:
			if !ok {
				return fmt.Errorf("reading docker events: %w", io.EOF)
			}
			if w.handle(msg) && !armed {
				coalesce.Reset(w.opt.Coalesce)
				armed = true
			}
		case <-coalesce.C:
			if err := listNow(); err != nil {
				return err
			}
		case <-resync.C:
			if err := listNow(); err != nil {
				return err
			}
		}
	}
}

// handle applies one event and reports whether it calls for a re-list. Stop
// marks take effect at once: the snapshot is re-sent without waiting for the
// list.
func (w *Watcher) handle(msg events.Message) (relist bool) {
	w.count(1, 0)
	id, action := msg.Actor.ID, msg.Action
	if msg.Type == events.NetworkEventType {
		id = msg.Actor.Attributes["container"]
	}
	args := []any{"type", msg.Type, "action", action, "container", ShortID(id), "name", msg.Actor.Attributes["name"]}
	if sig, ok := msg.Actor.Attributes["signal"]; ok {
		args = append(args, "signal", sig)
	}
	w.log.Debug("docker event", args...)

	if msg.Type == events.NetworkEventType {
		return action == events.ActionConnect || action == events.ActionDisconnect
	}
	switch action {
	case events.ActionKill:
		if isStopSignal(msg.Actor.Attributes) {
			w.marks.mark(id, time.Now())
			w.publish()
		}
	case events.ActionStop, events.ActionPause:
		w.marks.mark(id, time.Now())
		w.publish()
	case events.ActionStart, events.ActionUnPause, events.ActionRestart:
		if w.marks.clear(id) {
			w.publish()
		}
	case events.ActionDie, events.ActionDestroy, events.ActionCreate, events.ActionRename:
		// Only a re-list.
	default:
		return strings.HasPrefix(string(action), string(events.ActionHealthStatus))
	}
	return true
}

// relist lists all containers, updates the stop marks and publishes.
func (w *Watcher) relist(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	at := time.Now()
	cs, err := w.lister.list(ctx)
	if err != nil {
		return err
	}
	for _, id := range w.marks.observe(cs, at) {
		w.log.Info("container still running after a stop signal; serving it again",
			"container", ShortID(id), "grace", stopGrace)
	}
	w.last, w.listed = cs, true
	w.count(0, 1)
	w.publish()
	w.settle()
	return nil
}

// publish sends the current snapshot unless it equals the last one sent. The
// channel holds one snapshot: a stale unread one is replaced. This goroutine is
// the only sender, so after draining the slot the send cannot block.
func (w *Watcher) publish() {
	if !w.listed {
		return
	}
	snap := Snapshot{Containers: w.marks.apply(w.last)}
	if w.posted && reflect.DeepEqual(snap, w.sent) {
		return
	}
	w.sent, w.posted = snap, true
	select {
	case <-w.updates:
	default:
	}
	w.updates <- snap
}
