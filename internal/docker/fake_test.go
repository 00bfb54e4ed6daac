package docker

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// fakeAPI is a programmable API. Create it inside the synctest bubble that
// uses it.
type fakeAPI struct {
	streams chan *fakeStream // each Events call, for the test to drive

	mu       sync.Mutex
	items    []container.Summary
	health   map[string]container.HealthStatus // inspect results by ID
	pingErr  error
	listErr  error
	lists    int
	inspects int
	closed   bool
	panics   int      // how many lists panic before one succeeds
	calls    []string // "ping", "events", "list", in order
}

var _ API = (*fakeAPI)(nil)

func newFakeAPI(items ...container.Summary) *fakeAPI {
	return &fakeAPI{
		streams: make(chan *fakeStream, 16),
		items:   items,
		health:  map[string]container.HealthStatus{},
	}
}

// fakeStream is one event subscription. It follows the SDK's contract: one
// error ends it (ctx.Err() when ctx is cancelled), then Err is closed.
type fakeStream struct {
	msgs chan events.Message
	errs chan error
	once sync.Once
}

// fail ends the stream with err.
func (s *fakeStream) fail(err error) {
	s.once.Do(func() {
		s.errs <- err
		close(s.errs)
	})
}

// send delivers one event; it blocks until the watcher takes it.
func (s *fakeStream) send(typ events.Type, action events.Action, id string, attrs map[string]string) {
	s.msgs <- events.Message{Type: typ, Action: action, Actor: events.Actor{ID: id, Attributes: attrs}}
}

func (f *fakeAPI) Ping(ctx context.Context, _ client.PingOptions) (client.PingResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "ping")
	return client.PingResult{APIVersion: "1.41"}, f.pingErr
}

func (f *fakeAPI) ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !opts.All {
		return client.ContainerListResult{}, errors.New("fake: list without All")
	}
	f.calls = append(f.calls, "list")
	if f.panics > 0 {
		f.panics--
		panic("fake: list panicked")
	}
	if f.listErr != nil {
		return client.ContainerListResult{}, f.listErr
	}
	f.lists++
	items := make([]container.Summary, len(f.items))
	for i, s := range f.items {
		s.Labels = maps.Clone(s.Labels)
		items[i] = s
	}
	return client.ContainerListResult{Items: items}, nil
}

func (f *fakeAPI) ContainerInspect(ctx context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inspects++
	h, ok := f.health[id]
	if !ok {
		return client.ContainerInspectResult{}, errors.New("fake: no such container")
	}
	st := &container.State{Status: container.StateRunning, Running: true, Health: &container.Health{Status: h}}
	return client.ContainerInspectResult{Container: container.InspectResponse{ID: id, State: st}}, nil
}

func (f *fakeAPI) Events(ctx context.Context, opts client.EventsListOptions) client.EventsResult {
	s := &fakeStream{msgs: make(chan events.Message), errs: make(chan error, 1)}
	if !opts.Filters["type"]["container"] {
		s.fail(errors.New("fake: events not filtered to containers"))
	}
	context.AfterFunc(ctx, func() { s.fail(ctx.Err()) })
	f.mu.Lock()
	f.calls = append(f.calls, "events")
	f.mu.Unlock()
	f.streams <- s
	return client.EventsResult{Messages: s.msgs, Err: s.errs}
}

func (f *fakeAPI) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// set replaces the list result.
func (f *fakeAPI) set(items ...container.Summary) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = items
}

// setHealth sets what inspect reports for id.
func (f *fakeAPI) setHealth(id string, h container.HealthStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.health[id] = h
}

// setErrs sets the errors Ping and ContainerList return.
func (f *fakeAPI) setErrs(ping, list error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pingErr, f.listErr = ping, list
}

// counts returns how many lists and inspects were served.
func (f *fakeAPI) counts() (lists, inspects int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists, f.inspects
}

// callLog returns the calls made so far.
func (f *fakeAPI) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// running returns a running container summary with labels.
func running(id string, labels map[string]string) container.Summary {
	s := container.Summary{
		ID:     id,
		Names:  []string{"/" + id},
		Image:  "img:" + id,
		State:  container.StateRunning,
		Status: "Up 1 second",
		Labels: labels,
	}
	s.HostConfig.NetworkMode = "bridge"
	return s
}

// withState returns s with another state and status text.
func withState(s container.Summary, state container.ContainerState, status string) container.Summary {
	s.State, s.Status = state, status
	return s
}
