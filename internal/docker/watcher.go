package docker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune a Watcher. A zero field takes its default.
type Options struct {
	// Coalesce is the longest an event waits for the re-list it triggers: the
	// first event of a burst arms a timer and later ones join it, so a burst
	// costs one list. Default 100ms.
	Coalesce time.Duration
	// Resync is the period of a full re-list that repairs events the stream
	// missed. It restarts after every list. Default 30s.
	Resync time.Duration
	// BackoffMin is the delay before the first reconnect after a failure; each
	// further failure doubles it, up to BackoffMax. Each wait is drawn at
	// random between half the delay and the delay. Default 100ms.
	BackoffMin time.Duration
	// BackoffMax caps the reconnect delay. Default 5s.
	BackoffMax time.Duration
}

// Option defaults.
const (
	DefaultCoalesce   = 100 * time.Millisecond
	DefaultResync     = 30 * time.Second
	DefaultBackoffMin = 100 * time.Millisecond
	DefaultBackoffMax = 5 * time.Second
)

// callTimeout bounds one ping or one list (with its inspects), so that a hung
// engine ends the session instead of freezing the watcher.
const callTimeout = 10 * time.Second

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Coalesce, DefaultCoalesce)
	def(&o.Resync, DefaultResync)
	def(&o.BackoffMin, DefaultBackoffMin)
	def(&o.BackoffMax, DefaultBackoffMax)
	o.BackoffMax = max(o.BackoffMax, o.BackoffMin)
	return o
}

// Status is the watcher's view of its Docker connection, for /health and
// metrics.
type Status struct {
	// Connected is true while the watcher has listed containers and follows
	// the event stream.
	Connected bool
	// LastError is the most recent Docker error, "" if there was none. It is
	// kept after reconnecting.
	LastError string
	// Since is when Connected last changed (at first, when the watcher was
	// created).
	Since time.Time
	// Events counts the events received.
	Events uint64
	// Lists counts the successful container lists.
	Lists uint64
}

// errRunning is returned by Run when the watcher is already running.
var errRunning = errors.New("docker watcher already running")

// Watcher follows the Docker engine and publishes Snapshots of its containers.
// See the package doc for the model.
type Watcher struct {
	api     API
	log     *slog.Logger
	opt     Options
	updates chan Snapshot
	running atomic.Bool

	mu     sync.Mutex
	status Status

	// settled is closed once the first session has listed or failed.
	settled    chan struct{}
	settleOnce sync.Once

	// The rest is owned by the Run goroutine.
	lister lister
	marks  stopMarks
	last   []Container // the latest list, before stop marks
	listed bool        // last is set
	sent   Snapshot    // the latest snapshot sent
	posted bool        // sent is set
	warned bool        // the current outage has been logged at warn
}

// NewWatcher returns a Watcher over api. A nil log discards logs.
func NewWatcher(api API, log *slog.Logger, opt Options) *Watcher {
	return newWatcher(Source{API: api}, log, opt)
}

// newWatcher returns a Watcher over src's engine, whose containers carry
// src's endpoint name and address. A named endpoint's logs carry its name.
func newWatcher(src Source, log *slog.Logger, opt Options) *Watcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if src.Name != "" {
		log = log.With("endpoint", src.Name)
	}
	return &Watcher{
		api:     src.API,
		log:     log,
		opt:     opt.withDefaults(),
		updates: make(chan Snapshot, 1),
		status:  Status{Since: time.Now()},
		settled: make(chan struct{}),
		lister:  lister{api: src.API, log: log, endpoint: src.Name, address: src.Address},
		marks:   stopMarks{},
	}
}

// settle records that the first session has an outcome.
func (w *Watcher) settle() { w.settleOnce.Do(func() { close(w.settled) }) }

// Updates returns the channel of snapshots. It holds at most one, the newest:
// a slow reader never sees a stale snapshot, and a snapshot equal to the
// previous one is not sent. The first is sent after the first successful list.
// The channel is never closed; readers stop on their own context.
func (w *Watcher) Updates() <-chan Snapshot { return w.updates }

// Status returns the current connection status. It is safe to call from any
// goroutine (it takes a mutex: keep it off the request path).
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// Run follows the engine until ctx is done, then returns nil. Docker errors
// never end it: after a failure it keeps the last snapshot, backs off
// (exponentially, with jitter) and reconnects. Run returns an error only if
// the watcher is already running.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errRunning
	}
	defer w.running.Store(false)
	delay := w.opt.BackoffMin
	for {
		began := time.Now()
		connected, err := w.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		// Only a session that stayed up a while resets the backoff, so that
		// one failing right after connecting cannot make a busy loop.
		if connected && time.Since(began) >= w.opt.BackoffMax {
			delay = w.opt.BackoffMin
		}
		w.lost(err)
		wait := delay/2 + rand.N(delay/2+1)
		delay = min(2*delay, w.opt.BackoffMax)
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// sleep waits for d or until ctx is done, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// connected records a successful connection.
func (w *Watcher) connected(apiVersion string) {
	w.mu.Lock()
	w.status.Connected = true
	w.status.Since = time.Now()
	w.mu.Unlock()
	w.warned = false
	w.log.Info("docker connected", "api_version", apiVersion)
}

// lost records a failed session. Only the first failure of an outage is
// logged at warn; retries are logged at debug.
func (w *Watcher) lost(err error) {
	if err == nil {
		err = errors.New("docker session ended")
	}
	w.mu.Lock()
	was := w.status.Connected
	w.status.Connected = false
	if was {
		w.status.Since = time.Now()
	}
	w.status.LastError = err.Error()
	w.mu.Unlock()
	w.settle()
	switch {
	case was:
		w.log.Warn("docker connection lost; keeping the last containers and reconnecting", "error", err)
	case !w.warned:
		w.log.Warn("docker unavailable; retrying", "error", err)
	default:
		w.log.Debug("docker still unavailable", "error", err)
	}
	w.warned = true
}

// count adds to the status counters.
func (w *Watcher) count(events, lists uint64) {
	w.mu.Lock()
	w.status.Events += events
	w.status.Lists += lists
	w.mu.Unlock()
}
