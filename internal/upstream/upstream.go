// Package upstream holds the state rgate keeps about each server it proxies
// to, in objects that outlive routing-table swaps.
//
// # Model
//
// An Upstream is one address a backend can send a request to: a container
// (identified by its ID and name) or a static URL. The routing table is
// rebuilt on every config reload and Docker event, but an Upstream is not: a
// Registry, owned by the caller and passed to each compile, hands back the
// same *Upstream for the same Key, so in-flight counts, passive ejections and
// health-check results carry over unchanged. After each compile the caller
// calls Registry.Retain with the upstreams the new table uses; the rest are
// forgotten, and a container that comes back later starts afresh.
//
// Two independent signals decide whether an upstream gets traffic:
//
//   - Active health (SetActive, driven by package health): "unknown" until a
//     check gives its first result, then "healthy" or "unhealthy". An
//     actively unhealthy upstream is never picked.
//   - Passive ejection (ReportConnectFailure/ReportSuccess, driven by the
//     proxy): Passive.Threshold consecutive connect failures eject the
//     upstream for Passive.EjectFor; any success resets the count. An
//     ejection ends by itself when its time is up. Balancers treat ejected
//     upstreams as a last resort (like Envoy's panic mode), so a backend whose
//     only container had a blip is not blackholed.
//
// A new container also starts warming (SetReady, ReportSuccess end it) and
// is a last resort until then. Health.Verdict puts these together with the
// backend's circuit breaker into the one account of whether an upstream
// gets traffic, and why not, that /explain, /health and the dashboard show.
//
// Everything read on the request path (Available, Acquire, Release) is a few
// atomic operations; the clock is read only while an ejection is pending.
// Times are kept as monotonic offsets from the upstream's creation, so wall
// clock jumps do not shorten or stretch an ejection.
package upstream

import (
	"context"
	"sync/atomic"
	"time"
)

// Passive ejection defaults, for callers that have no configuration of their
// own.
const (
	// DefaultThreshold is how many consecutive connect failures eject.
	DefaultThreshold = 3
	// DefaultEjectFor is how long an ejection lasts; also used when
	// Passive.EjectFor is not positive.
	DefaultEjectFor = 10 * time.Second
)

// Active health states, as reported in Health.Active.
const (
	ActiveUnknown   = "unknown"
	ActiveHealthy   = "healthy"
	ActiveUnhealthy = "unhealthy"
)

// Passive configures ejection after consecutive connect failures.
type Passive struct {
	// Threshold consecutive connect failures eject the upstream. Zero (or
	// negative) turns passive ejection off.
	Threshold int
	// EjectFor is how long an ejection lasts. Not positive: DefaultEjectFor.
	EjectFor time.Duration
}

// Key is an upstream's stable identity: the same Key always means the same
// server, across table swaps.
type Key struct {
	Scheme string
	// Host is "host:port".
	Host string
	// ContainerID and Container are empty for static URLs.
	ContainerID string
	Container   string
	// Endpoint names the container's Docker engine ("" for the one engine
	// of the environment, and for static URLs).
	Endpoint string
}

// Upstream is one server a request can be sent to, with its live state.
// The exported fields are set at creation and never change. All methods are
// safe for concurrent use.
type Upstream struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is "host:port".
	Host string
	// ContainerID and Container are empty for static URLs.
	ContainerID string
	Container   string
	// Endpoint names the container's Docker engine ("" for the one engine
	// of the environment, and for static URLs).
	Endpoint string

	// born is the origin of the monotonic offsets below.
	born time.Time

	inFlight atomic.Int64
	requests atomic.Uint64
	// failures counts consecutive connect failures.
	failures atomic.Int64
	// ejectedUntil is when the current ejection ends, as an offset from
	// born in nanoseconds; 0 when not ejected.
	ejectedUntil atomic.Int64
	// active is the last active-check result; nil means unknown.
	active atomic.Pointer[checkResult]
	// warming is true for a new container until its port has accepted a
	// connection (see SetReady).
	warming atomic.Bool
	// retired is cancelled when the upstream leaves every routing table.
	retired context.Context
	retire  context.CancelFunc
}

// checkResult is an immutable active-health result, swapped as a whole so
// that the state and its reason are always read together.
type checkResult struct {
	healthy bool
	reason  string
}

// Health is a point-in-time snapshot of an upstream's state, for /health,
// /metrics and the dashboard; its Verdict says whether it gets traffic.
type Health struct {
	// Active is ActiveUnknown (no check configured, or no result yet),
	// ActiveHealthy or ActiveUnhealthy.
	Active string
	// ActiveReason says why the last check failed; empty unless unhealthy.
	ActiveReason string
	// Ejected is true while a passive ejection is in force, until
	// EjectedUntil (zero when not ejected).
	Ejected      bool
	EjectedUntil time.Time
	// ConsecutiveFailures is the current run of connect failures.
	ConsecutiveFailures int
	// InFlight is the number of requests being served now; Requests the
	// total ever sent (counted in Acquire).
	InFlight int64
	Requests uint64
	// Warming is true for a new container whose port has not accepted a
	// connection yet.
	Warming bool
}

// newUpstream returns the state of a new upstream. A container starts
// warming: a container that Docker reports running may not listen yet, and
// it gets traffic only once its port accepts (or as a last resort when no
// other upstream is available). Static URLs are taken as ready.
func newUpstream(k Key) *Upstream {
	u := &Upstream{
		Scheme:      k.Scheme,
		Host:        k.Host,
		ContainerID: k.ContainerID,
		Container:   k.Container,
		Endpoint:    k.Endpoint,
		born:        time.Now(),
	}
	u.warming.Store(k.ContainerID != "")
	u.retired, u.retire = context.WithCancel(context.Background())
	return u
}

// Retired is cancelled when u leaves the pool: its container stopped, was
// paused or killed, or the config no longer uses it. Requests still
// waiting on it may then be sent elsewhere.
func (u *Upstream) Retired() context.Context { return u.retired }

// Warming reports whether u is a new container whose port has not accepted
// a connection yet.
func (u *Upstream) Warming() bool { return u.warming.Load() }

// SetReady ends warming: the upstream's port accepted a connection.
func (u *Upstream) SetReady() { u.warming.Store(false) }

// Key returns u's identity.
func (u *Upstream) Key() Key {
	return Key{Scheme: u.Scheme, Host: u.Host, ContainerID: u.ContainerID, Container: u.Container, Endpoint: u.Endpoint}
}

// Static reports whether u comes from a backend's urls rather than Docker.
func (u *Upstream) Static() bool { return u.ContainerID == "" }

// Available reports whether u should get new requests: it is not actively
// unhealthy, not warming and not passively ejected right now.
func (u *Upstream) Available() bool {
	if u.ActiveDown() || u.warming.Load() {
		return false
	}
	until := u.ejectedUntil.Load()
	if until == 0 {
		return true
	}
	if int64(time.Since(u.born)) < until {
		return false
	}
	// The ejection is over: clear it so later calls skip the clock. A
	// failed CAS means a new ejection started meanwhile; it stands.
	u.ejectedUntil.CompareAndSwap(until, 0)
	return u.ejectedUntil.Load() == 0
}

// ActiveDown reports whether the active health check says u is unhealthy.
func (u *Upstream) ActiveDown() bool {
	v := u.active.Load()
	return v != nil && !v.healthy
}

// Acquire counts a request sent to u; call Release when it is done.
func (u *Upstream) Acquire() {
	u.inFlight.Add(1)
	u.requests.Add(1)
}

// Release ends a request counted by Acquire.
func (u *Upstream) Release() { u.inFlight.Add(-1) }

// InFlight returns the number of requests between Acquire and Release.
func (u *Upstream) InFlight() int64 { return u.inFlight.Load() }

// ReportConnectFailure counts a failure to connect to u. At p.Threshold
// consecutive failures, u is ejected for p.EjectFor and the count starts
// over. It reports whether this call started an ejection (u was not already
// ejected), so the caller can log it once. It logs nothing itself.
func (u *Upstream) ReportConnectFailure(p Passive) (ejectedNow bool) {
	if p.Threshold <= 0 {
		return false
	}
	n := u.failures.Add(1)
	if n < int64(p.Threshold) || !u.failures.CompareAndSwap(n, 0) {
		// Below the threshold, or a concurrent report moved the count on
		// and will do the ejecting itself.
		return false
	}
	d := p.EjectFor
	if d <= 0 {
		d = DefaultEjectFor
	}
	now := int64(time.Since(u.born))
	prev := u.ejectedUntil.Swap(now + int64(d))
	return prev == 0 || prev <= now
}

// ReportSuccess ends a run of connect failures. It does not end an ejection
// early: requests sent before the ejection may still succeed while new
// connections fail (a container shutting down).
func (u *Upstream) ReportSuccess() {
	if u.failures.Load() != 0 {
		u.failures.Store(0)
	}
	if u.warming.Load() { // it answered: it is certainly listening
		u.warming.Store(false)
	}
}

// SetActive records an active health check's result. reason says why the
// check failed and is dropped when healthy. It reports whether the state
// (Health.Active) changed; a new reason for a still-unhealthy upstream is
// stored but is no change.
func (u *Upstream) SetActive(healthy bool, reason string) (changed bool) {
	if healthy {
		reason = ""
	}
	for {
		old := u.active.Load()
		if old != nil && old.healthy == healthy && old.reason == reason {
			return false
		}
		if u.active.CompareAndSwap(old, &checkResult{healthy: healthy, reason: reason}) {
			return old == nil || old.healthy != healthy
		}
	}
}

// ClearActive forgets the active result: u is "unknown" again, as when no
// check is configured. The health checker calls it when u stops being
// checked, so an upstream whose check was removed from the config is not
// left out of rotation forever.
func (u *Upstream) ClearActive() { u.active.Store(nil) }

// Health returns a snapshot of u's state.
func (u *Upstream) Health() Health {
	h := Health{
		Active:              ActiveUnknown,
		ConsecutiveFailures: int(u.failures.Load()),
		InFlight:            u.inFlight.Load(),
		Requests:            u.requests.Load(),
		Warming:             u.warming.Load(),
	}
	if v := u.active.Load(); v != nil {
		h.Active, h.ActiveReason = ActiveHealthy, v.reason
		if !v.healthy {
			h.Active = ActiveUnhealthy
		}
	}
	if until := u.ejectedUntil.Load(); until != 0 && int64(time.Since(u.born)) < until {
		h.Ejected = true
		h.EjectedUntil = u.born.Add(time.Duration(until))
	}
	return h
}
