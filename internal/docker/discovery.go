package docker

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// settleWait bounds how long Discovery holds its first snapshot back for
// engines that have neither listed nor failed yet (a tcp:// engine whose
// packets are dropped takes a whole call timeout to fail): past it, the
// engines that did list are published without the others.
const settleWait = time.Second

// Discovery watches several Docker engines, one Watcher each, and merges
// their containers into one Snapshot. An engine that goes away keeps its
// last known containers in the merged snapshot (its Watcher does) while the
// others keep updating; when it comes back its Watcher re-lists and the
// merged snapshot follows.
//
// The first merged snapshot is sent once every engine has listed or failed
// once (at most settleWait after Run starts) and at least one has listed,
// so that a start-up does not route on half of the engines. After that a
// snapshot is sent whenever any engine's changes, on a one-slot "latest
// wins" channel, never twice the same.
type Discovery struct {
	srcs     []Source
	watchers []*Watcher
	updates  chan Snapshot
	running  atomic.Bool

	mu      sync.Mutex
	parts   []Snapshot // each engine's latest snapshot
	listed  []bool     // parts[i] is set
	settled []bool     // engine i has listed or failed once
	ungated bool       // settleWait is over
	sent    Snapshot
	posted  bool
}

// EndpointStatus is one engine's connection state, for /health and
// metrics.
type EndpointStatus struct {
	Name string
	// Host is the engine's API URL.
	Host string
	Status
}

// NewDiscovery returns a Discovery over srcs, in that order (the merged
// snapshot lists their containers in it). Each engine's watcher logs with
// its endpoint's name; a nil log discards logs.
func NewDiscovery(srcs []Source, log *slog.Logger, opt Options) *Discovery {
	d := &Discovery{
		srcs:    srcs,
		updates: make(chan Snapshot, 1),
		parts:   make([]Snapshot, len(srcs)),
		listed:  make([]bool, len(srcs)),
		settled: make([]bool, len(srcs)),
	}
	for _, s := range srcs {
		d.watchers = append(d.watchers, newWatcher(s, log, opt))
	}
	return d
}

// Updates returns the channel of merged snapshots. It holds at most one,
// the newest, and is never closed.
func (d *Discovery) Updates() <-chan Snapshot { return d.updates }

// Run runs every engine's watcher until ctx is done, then returns nil once
// they have all stopped. It returns an error only if d is already running.
func (d *Discovery) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errRunning
	}
	defer d.running.Store(false)
	var wg sync.WaitGroup
	for i, w := range d.watchers {
		wg.Go(func() { _ = w.Run(ctx) })
		wg.Go(func() { d.forward(ctx, i, w) })
	}
	if sleep(ctx, settleWait) {
		d.mu.Lock()
		d.ungated = true
		d.publishLocked()
		d.mu.Unlock()
	}
	wg.Wait()
	return nil
}

// forward takes engine i's snapshots into the merge until ctx is done.
func (d *Discovery) forward(ctx context.Context, i int, w *Watcher) {
	settled := w.settled
	for {
		select {
		case <-ctx.Done():
			return
		case <-settled:
			settled = nil
			d.mu.Lock()
			d.settled[i] = true
			d.publishLocked()
			d.mu.Unlock()
		case s := <-w.Updates():
			d.mu.Lock()
			d.parts[i], d.listed[i], d.settled[i] = s, true, true
			d.publishLocked()
			d.mu.Unlock()
		}
	}
}

// publishLocked sends the merged snapshot if the gate is open and it
// differs from the last one sent. Every send happens under d.mu, so after
// draining the slot the send cannot block.
func (d *Discovery) publishLocked() {
	some, all := false, true
	for i := range d.srcs {
		some = some || d.listed[i]
		all = all && d.settled[i]
	}
	if !some || !all && !d.ungated {
		return
	}
	n := 0
	for _, p := range d.parts {
		n += len(p.Containers)
	}
	snap := Snapshot{Containers: make([]Container, 0, n)}
	for _, p := range d.parts {
		snap.Containers = append(snap.Containers, p.Containers...)
	}
	if d.posted && reflect.DeepEqual(snap, d.sent) {
		return
	}
	d.sent, d.posted = snap, true
	select {
	case <-d.updates:
	default:
	}
	d.updates <- snap
}

// Endpoints returns each engine's status, in the order given. It is safe
// from any goroutine (it takes the watchers' mutexes: keep it off the
// request path).
func (d *Discovery) Endpoints() []EndpointStatus {
	out := make([]EndpointStatus, len(d.watchers))
	for i, w := range d.watchers {
		out[i] = EndpointStatus{Name: d.srcs[i].Name, Host: d.srcs[i].host(), Status: w.Status()}
	}
	return out
}

// Status sums up the engines: connected while every one is; LastError is
// that of the only engine, or with several, each engine's last error
// prefixed with its name; Since is the latest change; the counters are
// totals.
func (d *Discovery) Status() Status {
	eps := d.Endpoints()
	if len(eps) == 1 {
		return eps[0].Status
	}
	st := Status{Connected: true}
	var errs []string
	for _, e := range eps {
		st.Connected = st.Connected && e.Connected
		if e.LastError != "" {
			errs = append(errs, e.Name+": "+e.LastError)
		}
		if e.Since.After(st.Since) {
			st.Since = e.Since
		}
		st.Events += e.Events
		st.Lists += e.Lists
	}
	st.LastError = strings.Join(errs, "; ")
	return st
}

// Unreachable reports whether no engine is connected and every one has
// failed: there is nothing to wait for.
func (d *Discovery) Unreachable() bool {
	for _, e := range d.Endpoints() {
		if e.Connected || e.LastError == "" {
			return false
		}
	}
	return true
}
