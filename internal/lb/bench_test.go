package lb

import "testing"

// BenchmarkPick measures one pick from 8 upstreams, all available (the
// common path) and with half of them passively ejected (the fallback path).
func BenchmarkPick(b *testing.B) {
	for _, policy := range policies {
		for _, setup := range []struct {
			name   string
			states []state
		}{
			{"all-up", []state{ok, ok, ok, ok, ok, ok, ok, ok}},
			{"half-ejected", []state{ok, ejected, ok, ejected, ok, ejected, ok, ejected}},
		} {
			b.Run(policy+"/"+setup.name, func(b *testing.B) {
				p, ups := New(policy), makeUps(setup.states...)
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

func BenchmarkPickParallel(b *testing.B) {
	for _, policy := range policies {
		b.Run(policy, func(b *testing.B) {
			p, ups := New(policy), makeUps(ok, ok, ok, ok, ok, ok, ok, ok)
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
