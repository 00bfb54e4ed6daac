package docker

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// harness runs a Watcher over a fakeAPI inside a synctest bubble.
type harness struct {
	t      *testing.T
	api    *fakeAPI
	w      *Watcher
	logs   *logRecorder
	cancel context.CancelFunc
	done   chan error
}

// start runs a watcher; stop it with h.stop (deferred) before the bubble ends.
func start(t *testing.T, api *fakeAPI, opt Options) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	logs := &logRecorder{}
	h := &harness{
		t:      t,
		api:    api,
		w:      NewWatcher(api, slog.New(logs), opt),
		logs:   logs,
		cancel: cancel,
		done:   make(chan error, 1),
	}
	go func() { h.done <- h.w.Run(ctx) }()
	return h
}

// stop cancels Run and checks that it returns nil at once (no fake time
// passes).
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	synctest.Wait()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run() = %v, want nil", err)
		}
	default:
		h.t.Fatal("Run did not return promptly after cancel")
	}
}

// next waits for the watcher to settle and returns the pending snapshot.
func (h *harness) next() Snapshot {
	h.t.Helper()
	synctest.Wait()
	select {
	case s := <-h.w.Updates():
		return s
	default:
		h.t.Fatal("no snapshot sent")
		return Snapshot{}
	}
}

// none checks that no snapshot is pending once the watcher settles.
func (h *harness) none() {
	h.t.Helper()
	synctest.Wait()
	select {
	case s := <-h.w.Updates():
		h.t.Fatalf("unexpected snapshot %+v", s)
	default:
	}
}

// stream returns the current event subscription.
func (h *harness) stream() *fakeStream {
	h.t.Helper()
	synctest.Wait()
	var s *fakeStream
	for drained := false; !drained; {
		select {
		case s = <-h.api.streams:
		default:
			drained = true
		}
	}
	if s == nil {
		h.t.Fatal("no new event subscription")
	}
	return s
}

// states maps container ID to State (and Health, after a "/" when set).
func states(s Snapshot) map[string]string {
	m := map[string]string{}
	for _, c := range s.Containers {
		m[c.ID] = c.State
		if c.Health != "" {
			m[c.ID] += "/" + c.Health
		}
	}
	return m
}

// logRecorder is a slog.Handler that keeps records for assertions.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}

// count returns how many records at level have a message starting with msg.
func (l *logRecorder) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && strings.HasPrefix(r.Message, msg) {
			n++
		}
	}
	return n
}

// advance moves fake time on by d and lets the watcher settle.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}
