package upstream

import (
	"cmp"
	"time"
)

// States of a Verdict.
const (
	StateServing     = "serving"
	StateUnhealthy   = "unhealthy"
	StateEjected     = "ejected"
	StateBreakerOpen = "breaker_open"
	StateWarming     = "warming"
)

// Verdict says whether an upstream gets new requests now and, if not, why:
// the one account that /explain, /health and the dashboard all give.
type Verdict struct {
	// State is StateServing, or else the state of the first reason.
	State string
	// Reasons are all that keep the upstream from new requests, in the
	// order of Health.Verdict; empty (not nil) when serving.
	Reasons []string
	// EjectedUntil is when the passive ejection ends; zero unless ejected.
	EjectedUntil time.Time
}

// Verdict says whether the upstream of h gets new requests, given whether
// its backend's circuit breaker is open. It lists every reason that
// applies, in this order, and the first one gives the State:
//
//  1. StateUnhealthy, "failing health check: R": the active check says the
//     upstream is broken. It is never picked, until a check passes.
//  2. StateEjected, "ejected after connect failures (until T)": connections
//     to it failed; it is a last resort until T.
//  3. StateBreakerOpen, "breaker open": the backend's breaker refuses every
//     request, to all its upstreams alike (often because of 1 or 2).
//  4. StateWarming, "port not accepting connections yet": a new container
//     that does not listen yet; a last resort until its port accepts.
//
// What most needs looking at comes first: the upstream's own failures, then
// the backend's breaker, which says less about this upstream, then a
// start-up that ends by itself. The verdict is StateServing exactly when
// the upstream was Available and the breaker is not open.
func (h Health) Verdict(breakerOpen bool) Verdict {
	v := Verdict{State: StateServing, Reasons: []string{}, EjectedUntil: h.EjectedUntil}
	add := func(state, reason string) {
		if len(v.Reasons) == 0 {
			v.State = state
		}
		v.Reasons = append(v.Reasons, reason)
	}
	if h.Active == ActiveUnhealthy {
		add(StateUnhealthy, "failing health check: "+cmp.Or(h.ActiveReason, "no reason given"))
	}
	if h.Ejected {
		add(StateEjected, "ejected after connect failures (until "+h.EjectedUntil.Format(time.RFC3339)+")")
	}
	if breakerOpen {
		add(StateBreakerOpen, "breaker open")
	}
	if h.Warming {
		add(StateWarming, "port not accepting connections yet")
	}
	return v
}
