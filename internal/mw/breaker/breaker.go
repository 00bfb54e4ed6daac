package breaker

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/internal/config"
)

// State names, as shown in /health and /stats.
const (
	Closed   = "closed"
	Open     = "open"
	HalfOpen = "half_open"
)

// The state word packs the state, the probes in flight while half-open and
// a generation that every transition bumps:
//
//	bits 32..63  generation
//	bits  2..31  probes in flight (half-open only)
//	bits  0..1   state code: 0 closed, 1 open, 2 half-open
//
// One word lets probe admission, probe release and transitions race with a
// CAS each, and lets a Ticket name the period it was issued in.
const (
	codeClosed   = 0
	codeOpen     = 1
	codeHalfOpen = 2
	codeMask     = 3
	probeShift   = 2
	probeUnit    = 1 << probeShift
	probeMask    = 1<<30 - 1
	genShift     = 32
)

// probeRetryAfter is the Retry-After given while half-open with every probe
// slot taken: the verdict is usually a single request away.
const probeRetryAfter = time.Second

func pack(gen uint32, code uint64) uint64 { return uint64(gen)<<genShift | code }
func genOf(w uint64) uint32               { return uint32(w >> genShift) }
func codeOf(w uint64) uint64              { return w & codeMask }
func probesOf(w uint64) uint64            { return w >> probeShift & probeMask }

// Breaker is the circuit breaker of one backend. Keep one per backend for
// as long as its config is unchanged: it is built to outlive routing-table
// swaps. All methods are safe for concurrent use; Allow and Done on a closed
// circuit are a few atomic operations and never lock.
type Breaker struct {
	// Read by every request, written by transitions only.
	word                  atomic.Uint64 // state, probes, generation (see pack)
	width                 int64         // bucket width in ns
	failures, minRequests uint64
	start                 time.Time // monotonic origin of every offset below
	_                     [cacheLine]byte

	win window // written by every Done
	_   [cacheLine]byte

	// Used while open or half-open, and by State.
	window, openFor time.Duration
	maxProbes       uint64
	openUntil       atomic.Int64 // ns since start when an open circuit may probe
	since           atomic.Int64 // ns since start of the last transition
	trips           atomic.Uint64
	rejected        atomic.Uint64
	lastTrip        atomic.Pointer[trip]
	mu              sync.Mutex // serialises transitions (and the data they publish)
}

// cacheLine pads the hot fields apart, so that the counters every Done
// writes do not evict the state word every Allow reads from other cores.
const cacheLine = 64

type trip struct {
	reason string
	at     time.Time
}

// Ticket is what Allow hands an admitted request; give it back to Done or
// Cancel exactly once. It names the period the request was admitted in, so
// a request admitted before a trip that finishes while half-open (a long
// poll, a WebSocket) is not mistaken for a probe. The zero Ticket is not
// admitted: Done and Cancel ignore it.
type Ticket struct {
	gen  uint32
	kind uint8
}

const (
	admittedClosed = 1
	admittedProbe  = 2
)

// NewBreaker returns a closed breaker for cfg. cfg normally has its
// defaults applied by config.Load; zero fields get the same defaults here.
func NewBreaker(cfg config.CircuitBreaker) *Breaker {
	b := &Breaker{
		failures:    uint64(orDefault(cfg.Failures, config.DefaultBreakerFailures)),
		minRequests: uint64(orDefault(cfg.MinRequests, config.DefaultBreakerMinReqs)),
		window:      durOrDefault(cfg.Window.D(), config.DefaultBreakerWindow),
		openFor:     durOrDefault(cfg.OpenFor.D(), config.DefaultBreakerOpenFor),
		maxProbes:   uint64(min(orDefault(cfg.HalfOpenRequests, config.DefaultBreakerHalfOpen), probeMask)),
		start:       time.Now(),
	}
	b.width = max(int64(b.window/numBuckets), 1)
	return b
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func durOrDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// now is the monotonic time since b was made, in ns.
func (b *Breaker) now() int64 { return int64(time.Since(b.start)) }

// Allow asks to send one request. A closed circuit admits it. An open one
// refuses it with the time left until probes may go; once that time has
// passed the circuit turns half-open and admits up to HalfOpenRequests
// concurrent probes, refusing the rest with a short retryAfter.
func (b *Breaker) Allow() (t Ticket, ok bool, retryAfter time.Duration) {
	w := b.word.Load()
	if codeOf(w) == codeClosed {
		return Ticket{gen: genOf(w), kind: admittedClosed}, true, 0
	}
	return b.allowSlow(w)
}

func (b *Breaker) allowSlow(w uint64) (Ticket, bool, time.Duration) {
	for {
		switch codeOf(w) {
		case codeClosed:
			return Ticket{gen: genOf(w), kind: admittedClosed}, true, 0
		case codeOpen:
			now := b.now()
			if left := b.openUntil.Load() - now; left > 0 {
				b.rejected.Add(1)
				return Ticket{}, false, time.Duration(left)
			}
			b.toHalfOpen(genOf(w), now)
		default:
			if probesOf(w) >= b.maxProbes {
				b.rejected.Add(1)
				return Ticket{}, false, probeRetryAfter
			}
			if b.word.CompareAndSwap(w, w+probeUnit) {
				return Ticket{gen: genOf(w), kind: admittedProbe}, true, 0
			}
		}
		w = b.word.Load()
	}
}

// Done reports how an admitted request ended. While closed, it counts in
// the sliding window, and a failure that brings the window to Failures
// failures among at least MinRequests requests opens the circuit (the check
// runs on failures: a success never opens it). A probe's success closes the
// circuit and clears the window; its failure opens it for another OpenFor.
// The outcome of a request admitted in an earlier period is ignored.
func (b *Breaker) Done(t Ticket, failed bool) {
	switch t.kind {
	case admittedClosed:
		b.doneClosed(t.gen, failed)
	case admittedProbe:
		b.doneProbe(t.gen, failed)
	}
}

func (b *Breaker) doneClosed(gen uint32, failed bool) {
	if genOf(b.word.Load()) != gen {
		return // the circuit has tripped since: nothing to count
	}
	now := b.now()
	e := now / b.width
	b.win.record(e, failed)
	if !failed {
		return
	}
	if reqs, fails := b.win.sum(e); fails >= b.failures && reqs >= b.minRequests {
		b.trip(gen, now, reason(fails, b.window, reqs))
	}
}

func (b *Breaker) doneProbe(gen uint32, failed bool) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if genOf(b.word.Load()) != gen {
		return // another probe decided first
	}
	if failed {
		b.openLocked(now, "probe failed while half-open")
		return
	}
	b.win.clear(now / b.width)
	b.advanceLocked(now, codeClosed)
}

// Cancel gives back an admitted request that ended neither in success nor
// in failure (the client went away, the handler panicked): a probe's slot
// is freed for another probe, and nothing else changes.
func (b *Breaker) Cancel(t Ticket) {
	if t.kind != admittedProbe {
		return
	}
	for {
		w := b.word.Load()
		if genOf(w) != t.gen || probesOf(w) == 0 {
			return
		}
		if b.word.CompareAndSwap(w, w-probeUnit) {
			return
		}
	}
}

// trip opens a closed circuit, unless it moved on since gen.
func (b *Breaker) trip(gen uint32, now int64, why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if genOf(b.word.Load()) == gen {
		b.openLocked(now, why)
	}
}

func (b *Breaker) toHalfOpen(gen uint32, now int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if genOf(b.word.Load()) == gen && now >= b.openUntil.Load() {
		b.advanceLocked(now, codeHalfOpen)
	}
}

// openLocked publishes the trip, then opens. The caller holds b.mu and has
// checked the generation.
func (b *Breaker) openLocked(now int64, why string) {
	b.openUntil.Store(now + int64(b.openFor))
	b.lastTrip.Store(&trip{reason: why, at: b.start.Add(time.Duration(now))})
	b.trips.Add(1)
	b.advanceLocked(now, codeOpen)
}

// advanceLocked moves to the next generation in state code with no probes.
// Under b.mu the generation cannot change, but concurrent probe admissions
// and releases can change the probe count, hence the CAS loop.
func (b *Breaker) advanceLocked(now int64, code uint64) {
	b.since.Store(now)
	for {
		w := b.word.Load()
		if b.word.CompareAndSwap(w, pack(genOf(w)+1, code)) {
			return
		}
	}
}

// reason says why the circuit opened: "5 failures in 10s (12 requests)".
func reason(fails uint64, window time.Duration, reqs uint64) string {
	b := make([]byte, 0, 48)
	b = strconv.AppendUint(b, fails, 10)
	b = append(b, " failures in "...)
	b = append(b, window.String()...)
	b = append(b, " ("...)
	b = strconv.AppendUint(b, reqs, 10)
	b = append(b, " requests)"...)
	return string(b)
}
