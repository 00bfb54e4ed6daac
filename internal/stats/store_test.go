package stats

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestStoreSameSeriesForSameName(t *testing.T) {
	st := NewStore()
	if st.Global() == nil || st.Global() != st.Global() {
		t.Fatal("Global must return one non-nil Series")
	}
	r := st.Route("/api/payment")
	if st.Route("/api/payment") != r {
		t.Error("Route returned a new Series for the same name")
	}
	if st.Route("/api/orders") == r {
		t.Error("different route names share a Series")
	}
	if st.Backend("/api/payment") == r {
		t.Error("a route and a backend of the same name share a Series")
	}
	b := st.Backend("payment")
	if st.Backend("payment") != b {
		t.Error("Backend returned a new Series for the same name")
	}
	if r == st.Global() || b == st.Global() {
		t.Error("named Series must not be the global one")
	}
}

func TestStoreConcurrentGetOrCreate(t *testing.T) {
	st := NewStore()
	const workers = 8
	got := make([][]*Series, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range 50 {
				s := st.Route(fmt.Sprintf("/r%d", i))
				s.Record(200, time.Millisecond)
				got[w] = append(got[w], s)
			}
		})
	}
	wg.Go(func() { _ = st.Snapshot() })
	wg.Wait()
	for w := 1; w < workers; w++ {
		for i := range got[w] {
			if got[w][i] != got[0][i] {
				t.Fatalf("worker %d got a different Series for /r%d", w, i)
			}
		}
	}
	snap := st.Snapshot()
	if len(snap.Routes) != 50 {
		t.Fatalf("snapshot has %d routes, want 50", len(snap.Routes))
	}
	if c := snap.Routes["/r7"].Count(); c != workers {
		t.Errorf("/r7 count = %d, want %d", c, workers)
	}
}

func TestSnapshot(t *testing.T) {
	st := NewStore()
	if snap := st.Snapshot(); snap.Routes == nil || snap.Backends == nil {
		t.Fatal("empty snapshot maps must be non-nil")
	}
	st.Global().Record(200, 2*time.Millisecond)
	st.Global().Record(503, 4*time.Millisecond)
	st.Route("/a").Record(200, 2*time.Millisecond)
	st.Backend("b").Record(503, 4*time.Millisecond)
	snap := st.Snapshot()
	if g := snap.Global; g.Success != 1 || g.Error != 1 || g.AverageMs != 3 {
		t.Errorf("global = %+v", g)
	}
	if r := snap.Routes["/a"]; r.Success != 1 || r.Error != 0 {
		t.Errorf("route /a = %+v", r)
	}
	if b := snap.Backends["b"]; b.Success != 0 || b.Error != 1 || b.Classes[5] != 1 {
		t.Errorf("backend b = %+v", b)
	}
}
