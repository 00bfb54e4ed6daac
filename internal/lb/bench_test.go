package lb

import (
	"strconv"
	"testing"
)

// benchStates returns n upstream states: all available, or every other one
// passively ejected.
func benchStates(n int, halfEjected bool) []state {
	s := make([]state, n)
	for i := range s {
		if halfEjected && i%2 == 1 {
			s[i] = ejected
		}
	}
	return s
}

// BenchmarkPick measures one pick per policy from 2, 8 and 20 upstreams,
// all available (the common path) and with half of them passively ejected
// (the fallback path).
func BenchmarkPick(b *testing.B) {
	for _, policy := range policies {
		for _, n := range []int{2, 8, 20} {
			for _, setup := range []struct {
				name        string
				halfEjected bool
			}{
				{"all-up", false},
				{"half-ejected", true},
			} {
				b.Run(policy+"/n="+strconv.Itoa(n)+"/"+setup.name, func(b *testing.B) {
					p, ups := New(policy), makeUps(benchStates(n, setup.halfEjected)...)
					b.ReportAllocs()
					for b.Loop() {
						if p.Pick(ups, 0) < 0 {
							b.Fatal("no pick")
						}
					}
				})
			}
		}
	}
}

// BenchmarkPickRetry is the pick for a retry: the first choice is marked
// tried.
func BenchmarkPickRetry(b *testing.B) {
	for _, policy := range policies {
		for _, n := range []int{2, 20} {
			b.Run(policy+"/n="+strconv.Itoa(n), func(b *testing.B) {
				p, ups := New(policy), makeUps(benchStates(n, false)...)
				b.ReportAllocs()
				for b.Loop() {
					if p.Pick(ups, Tried(0, 0)) < 0 {
						b.Fatal("no pick")
					}
				}
			})
		}
	}
}

func BenchmarkPickParallel(b *testing.B) {
	for _, policy := range policies {
		for _, n := range []int{2, 20} {
			b.Run(policy+"/n="+strconv.Itoa(n), func(b *testing.B) {
				p, ups := New(policy), makeUps(benchStates(n, false)...)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if p.Pick(ups, 0) < 0 {
							b.Error("no pick")
							return
						}
					}
				})
			})
		}
	}
}
