package lb

import (
	"sync/atomic"

	"github.com/rgate/rgate/internal/upstream"
)

// roundRobin takes turns: each pick starts one position after the previous
// pick's start and takes the first usable upstream from there.
type roundRobin struct {
	next atomic.Uint64
}

func (rr *roundRobin) Pick(ups []*upstream.Upstream, tried uint64) int {
	n := uint64(len(ups))
	if n == 0 {
		return -1
	}
	// Use the value Add returns: reading and adding separately would let
	// two concurrent picks start at the same position.
	start := (rr.next.Add(1) - 1) % n
	for _, t := range [...]tier{tierAvailable, tierLastResort} {
		for j := range n {
			i := int((start + j) % n)
			if usable(ups[i], i, tried, t) {
				return i
			}
		}
	}
	return -1
}

// leastConn picks the usable upstream with the fewest requests in flight.
type leastConn struct{}

func (leastConn) Pick(ups []*upstream.Upstream, tried uint64) int {
	if i := least(ups, tried, tierAvailable); i >= 0 {
		return i
	}
	return least(ups, tried, tierLastResort)
}

// least returns the index of the upstream usable in tier t with the lowest
// InFlight, or -1. Ties are broken uniformly at random by reservoir
// sampling over the tied upstreams, in the same pass.
func least(ups []*upstream.Upstream, tried uint64, t tier) int {
	pick, ties := -1, 0
	var (
		low int64
		r   reservoir
	)
	for i, u := range ups {
		if !usable(u, i, tried, t) {
			continue
		}
		switch n := u.InFlight(); {
		case pick < 0 || n < low:
			pick, low, ties = i, n, 1
		case n == low:
			ties++
			if r.keep(ties) {
				pick = i
			}
		}
	}
	return pick
}
