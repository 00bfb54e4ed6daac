package health

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rgate/rgate/internal/upstream"
)

// Warm-up probing: a container that Docker reports running may not listen
// yet (its process is still starting). A Warmer dials each warming
// upstream's port until it accepts, then marks it ready, so no request is
// sent to a port that would refuse it. Until then the balancer uses the
// container only when nothing else is available.
const (
	warmEvery   = 20 * time.Millisecond
	warmDial    = 500 * time.Millisecond
	warmGiveUp  = 2 * time.Minute
	warmLogSlow = 5 * time.Second
)

// Warmer runs one dial loop per warming upstream. Its methods are safe for
// concurrent use.
type Warmer struct {
	log    *slog.Logger
	dialer net.Dialer

	mu     sync.Mutex
	loops  map[*upstream.Upstream]context.CancelFunc
	closed bool
	wg     sync.WaitGroup
}

// NewWarmer returns a Warmer; log may be nil.
func NewWarmer(log *slog.Logger) *Warmer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Warmer{log: log, dialer: net.Dialer{Timeout: warmDial}, loops: map[*upstream.Upstream]context.CancelFunc{}}
}

// Sync starts a loop for every warming upstream in live that has none, and
// stops the loops of upstreams no longer in live.
func (w *Warmer) Sync(live []*upstream.Upstream) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	in := make(map[*upstream.Upstream]bool, len(live))
	for _, u := range live {
		in[u] = true
		if _, running := w.loops[u]; running || !u.Warming() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), warmGiveUp)
		w.loops[u] = cancel
		w.wg.Go(func() {
			defer cancel()
			w.warm(ctx, u)
			w.mu.Lock()
			delete(w.loops, u)
			w.mu.Unlock()
		})
	}
	for u, cancel := range w.loops {
		if !in[u] {
			cancel()
		}
	}
}

func (w *Warmer) warm(ctx context.Context, u *upstream.Upstream) {
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("warm-up probe panicked", "upstream", u.Host, "panic", p)
		}
	}()
	start := time.Now()
	slow := false
	t := time.NewTicker(warmEvery)
	defer t.Stop()
	for u.Warming() {
		conn, err := w.dialer.DialContext(ctx, "tcp", u.Host)
		if err == nil {
			conn.Close()
			u.SetReady()
			if slow {
				w.log.Info("container accepts connections now", "container", u.Container, "upstream", u.Host, "after", time.Since(start).Round(time.Millisecond))
			}
			return
		}
		if !slow && time.Since(start) > warmLogSlow {
			slow = true
			w.log.Warn("container is running but its port does not accept connections yet", "container", u.Container, "upstream", u.Host, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops every loop and waits for them.
func (w *Warmer) Close() {
	w.mu.Lock()
	w.closed = true
	for _, cancel := range w.loops {
		cancel()
	}
	w.mu.Unlock()
	w.wg.Wait()
}
