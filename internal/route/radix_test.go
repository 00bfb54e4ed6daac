package route

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRadixMatchesScan: the radix index returns what a scan of every
// prefix for the longest match returns, on random prefixes and paths over
// a small alphabet (so that prefixes share and split edges often).
func TestRadixMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string { return randomWord(rng, n) }
	for round := range 200 {
		var routes []*Route
		seen := map[string]bool{}
		for range 1 + rng.IntN(30) {
			p := "/" + word(rng.IntN(8))
			if !seen[p] {
				seen[p] = true
				routes = append(routes, &Route{Prefix: p})
			}
		}
		idx := indexRoutes(routes)
		for range 200 {
			path := word(rng.IntN(12))
			var want *Route
			for _, r := range routes {
				if strings.HasPrefix(path, r.Prefix) && (want == nil || len(r.Prefix) > len(want.Prefix)) {
					want = r
				}
			}
			if got := idx.lookup(path); got != want {
				t.Fatalf("round %d: lookup(%q) = %v, want %v (routes %v)", round, path, prefixOf(got), prefixOf(want), prefixes(routes))
			}
		}
	}
}

// randomWord is n random bytes of "/ab": prefixes and paths over a small
// alphabet share and split radix edges often.
func randomWord(rng *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte("/ab"[rng.IntN(3)])
	}
	return b.String()
}

func prefixOf(r *Route) string {
	if r == nil {
		return "<nil>"
	}
	return r.Prefix
}

func prefixes(rs []*Route) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Prefix)
	}
	return out
}
