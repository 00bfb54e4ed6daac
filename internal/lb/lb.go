// Package lb picks the upstream a request goes to.
//
// # Model
//
// A Picker chooses an index into a backend's upstreams for one attempt of
// one request. The caller passes a bitmask of the upstreams this request has
// already tried (bit i for ups[i]), so a retry goes to a different one; only
// the first 64 upstreams are tracked, beyond that a retry may repeat one.
//
// Every policy chooses in three tiers:
//
//  1. untried upstreams that are Available (not actively unhealthy, not
//     passively ejected);
//  2. if there are none, untried upstreams that are merely passively ejected:
//     a last resort, like Envoy's panic mode, so that a backend whose only
//     container had a connection blip is not blackholed for the whole
//     ejection period;
//  3. otherwise -1: the caller answers 503.
//
// An actively unhealthy upstream is never picked: its health check proved
// that it does not serve.
//
// Policies (config.Backend.Balance):
//
//   - random (the default): a uniformly random upstream. The common case is
//     one random number and one Available check; when that upstream is
//     unusable, one pass over the list picks uniformly among the usable ones
//     (reservoir sampling).
//   - round_robin: a per-picker atomic counter; each pick starts at the next
//     position and takes the first usable upstream from there.
//   - least_conn: the usable upstream with the fewest requests in flight
//     (a full scan, exact rather than power-of-two-choices, since backends
//     have few upstreams), ties broken uniformly at random.
//
// Pickers hold no locks and allocate nothing; they are safe for concurrent
// use. A picker belongs to one backend: the round-robin position is its only
// state.
package lb

import (
	"math/bits"
	"math/rand/v2"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/upstream"
)

// Picker chooses an upstream for one attempt of a request.
type Picker interface {
	// Pick returns the index in ups of the upstream to use, or -1 when none
	// is usable. Bit i of tried marks ups[i] as already tried by this
	// request.
	Pick(ups []*upstream.Upstream, tried uint64) int
}

// New returns a picker for a config.Backend.Balance policy. "" and unknown
// policies (config validation rejects those) get random.
func New(policy string) Picker {
	switch policy {
	case config.BalanceRoundRobin:
		return &roundRobin{}
	case config.BalanceLeastConn:
		return leastConn{}
	default:
		return random{}
	}
}

// Tried returns tried with ups[i] marked; indexes from 64 on are not
// tracked.
func Tried(tried uint64, i int) uint64 {
	if i < 0 || i >= 64 {
		return tried
	}
	return tried | 1<<uint(i)
}

// tier says which upstreams a pass may pick.
type tier int

const (
	tierAvailable  tier = iota // untried and Available
	tierLastResort             // untried and not ActiveDown
)

// usable reports whether ups[i] may be picked in tier t.
func usable(u *upstream.Upstream, i int, tried uint64, t tier) bool {
	if i < 64 && tried&(1<<uint(i)) != 0 {
		return false
	}
	if t == tierAvailable {
		return u.Available()
	}
	return !u.ActiveDown()
}

// sample returns a uniformly random index among the upstreams usable in
// tier t, or -1. One pass, reservoir sampling: no second pass that could
// disagree with the first when state changes underneath.
func sample(ups []*upstream.Upstream, tried uint64, t tier) int {
	pick, seen := -1, 0
	var r reservoir
	for i, u := range ups {
		if !usable(u, i, tried, t) {
			continue
		}
		seen++
		if r.keep(seen) {
			pick = i
		}
	}
	return pick
}

// reservoir decides, for the n-th candidate of a reservoir sample of one,
// whether it replaces the current pick (probability 1/n). It draws one seed
// from math/rand/v2 on the first real decision (n == 2) and then steps a
// wyrand generator on the stack: a tie among many upstreams costs one
// ChaCha8 call instead of one per upstream, and allocates nothing.
type reservoir struct{ s uint64 }

func (r *reservoir) keep(n int) bool {
	switch {
	case n <= 1:
		return true
	case n == 2:
		r.s = rand.Uint64()
	}
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	// Lemire's multiply-shift maps the 64-bit value onto [0, n); its bias
	// (n/2^64) is irrelevant here.
	v, _ := bits.Mul64(hi^lo, uint64(n))
	return v == 0
}

// random picks uniformly among the usable upstreams.
type random struct{}

func (random) Pick(ups []*upstream.Upstream, tried uint64) int {
	n := len(ups)
	if n == 0 {
		return -1
	}
	i := 0
	if n > 1 {
		i = rand.IntN(n)
	}
	if usable(ups[i], i, tried, tierAvailable) {
		return i
	}
	if i = sample(ups, tried, tierAvailable); i >= 0 {
		return i
	}
	return sample(ups, tried, tierLastResort)
}

// Interface guards.
var (
	_ Picker = random{}
	_ Picker = (*roundRobin)(nil)
	_ Picker = leastConn{}
)
