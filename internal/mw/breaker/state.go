package breaker

import "time"

// State is a breaker's observable state, for /health, /stats and /metrics.
type State struct {
	// Name is Closed, Open or HalfOpen. An open circuit whose OpenFor has
	// passed shows Open until the next request turns it half-open.
	Name string `json:"state"`
	// Since is when the circuit entered this state (when it was made, if it
	// never changed).
	Since time.Time `json:"since"`
	// LastTrip is why the circuit last opened ("5 failures in 10s (12
	// requests)", "probe failed while half-open"), "" if it never did;
	// LastTripAt is when.
	LastTrip   string    `json:"last_trip"`
	LastTripAt time.Time `json:"last_trip_at,omitzero"`
	// Trips counts openings, Rejected the requests refused while open or
	// half-open.
	Trips    uint64 `json:"trips"`
	Rejected uint64 `json:"rejected"`
	// WindowRequests and WindowFailures are the outcomes counted in the
	// current sliding window (the window is cleared when the circuit
	// closes after a probe).
	WindowRequests uint64 `json:"window_requests"`
	WindowFailures uint64 `json:"window_failures"`
}

// State returns the breaker's state. It reads atomics only, so it may be
// called while traffic flows; fields are read one by one, so a transition
// in the middle can show in some fields and not yet in others.
func (b *Breaker) State() State {
	now := b.now()
	s := State{
		Name:     stateName(codeOf(b.word.Load())),
		Since:    b.start.Add(time.Duration(b.since.Load())),
		Trips:    b.trips.Load(),
		Rejected: b.rejected.Load(),
	}
	if t := b.lastTrip.Load(); t != nil {
		s.LastTrip, s.LastTripAt = t.reason, t.at
	}
	s.WindowRequests, s.WindowFailures = b.win.sum(now / b.width)
	return s
}

// StateCode is the state as a number for a Prometheus gauge: 0 closed,
// 1 open, 2 half-open.
func (b *Breaker) StateCode() int { return int(codeOf(b.word.Load())) }

func stateName(code uint64) string {
	switch code {
	case codeClosed:
		return Closed
	case codeOpen:
		return Open
	}
	return HalfOpen // the only other code ever stored
}
