package recent

import (
	"strconv"
	"sync"
	"testing"
)

func TestRing(t *testing.T) {
	t.Parallel()
	r := New(3)
	if got := r.Last(10); len(got) != 0 {
		t.Fatalf("empty ring gave %d", len(got))
	}
	for i := range 5 {
		r.Add(&Record{RequestID: strconv.Itoa(i)})
	}
	got := r.Last(10)
	if len(got) != 3 || got[0].RequestID != "4" || got[1].RequestID != "3" || got[2].RequestID != "2" {
		t.Errorf("Last = %+v, want 4,3,2", got)
	}
	if got := r.Last(1); len(got) != 1 || got[0].RequestID != "4" {
		t.Errorf("Last(1) = %+v", got)
	}
}

func TestRingConcurrent(t *testing.T) {
	t.Parallel()
	r := New(64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				r.Add(&Record{RequestID: strconv.Itoa(g*1000 + i), Status: 200})
				if i%100 == 0 {
					_ = r.Last(10)
				}
			}
		})
	}
	wg.Wait()
	if got := r.Last(100); len(got) != 64 {
		t.Errorf("got %d records, want 64", len(got))
	}
}

func BenchmarkAdd(b *testing.B) {
	r := New(1024)
	rec := &Record{RequestID: "abc", Route: "/api", Status: 200}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Add(rec)
		}
	})
}
