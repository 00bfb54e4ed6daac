package stats

import (
	"sync"
	"testing"
	"time"
)

func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		status  int
		success bool
		class   int // index into Summary.Classes
	}{
		{0, false, 0},
		{-1, false, 0},
		{99, false, 0},
		{100, false, 1},
		{101, true, 1},
		{103, false, 1},
		{199, false, 1},
		{200, true, 2},
		{204, true, 2},
		{299, true, 2},
		{301, true, 3},
		{304, true, 3},
		{399, true, 3},
		{400, false, 4},
		{403, false, 4},
		{429, false, 4},
		{499, false, 4},
		{500, false, 5},
		{502, false, 5},
		{503, false, 5},
		{504, false, 5},
		{599, false, 5},
		{600, false, 0},
		{999, false, 0},
	} {
		var s Series
		s.Record(tc.status, time.Millisecond)
		m := s.Summary()
		var wantS, wantE uint64 = 0, 1
		if tc.success {
			wantS, wantE = 1, 0
		}
		if m.Success != wantS || m.Error != wantE {
			t.Errorf("status %d: success/error = %d/%d, want %d/%d", tc.status, m.Success, m.Error, wantS, wantE)
		}
		var want [6]uint64
		want[tc.class] = 1
		if m.Classes != want {
			t.Errorf("status %d: classes = %v, want %v", tc.status, m.Classes, want)
		}
	}
}

func TestZeroSummary(t *testing.T) {
	var s Series
	if m := s.Summary(); m != (Summary{}) {
		t.Fatalf("empty Series summary = %+v, want zero", m)
	}
}

func TestConcurrentRecord(t *testing.T) {
	const goroutines, perG = 16, 5000
	statuses := []int{200, 201, 302, 404, 500, 503, 101, 0}
	var s Series
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				// 1ms..perG ms: the sum stays exact in float64.
				s.Record(statuses[(g+i)%len(statuses)], time.Duration(i+1)*time.Millisecond)
			}
		})
	}
	// Readers run alongside the writers; -race checks they do not conflict.
	wg.Go(func() {
		for range 50 {
			_ = s.Summary()
		}
	})
	wg.Wait()

	m := s.Summary()
	const total = goroutines * perG
	perStatus := uint64(total / len(statuses))
	if m.Count() != total {
		t.Fatalf("count = %d, want %d", m.Count(), total)
	}
	// success: 200, 201, 302, 101; error: 404, 500, 503, 0.
	if m.Success != 4*perStatus || m.Error != 4*perStatus {
		t.Errorf("success/error = %d/%d, want %d/%d", m.Success, m.Error, 4*perStatus, 4*perStatus)
	}
	want := [6]uint64{perStatus, perStatus, 2 * perStatus, perStatus, perStatus, 2 * perStatus}
	if m.Classes != want {
		t.Errorf("classes = %v, want %v", m.Classes, want)
	}
	if got := s.hist.total(); got != total {
		t.Errorf("histogram total = %d, want %d", got, total)
	}
	if wantAvg := float64(perG+1) / 2; m.AverageMs != wantAvg {
		t.Errorf("average = %v ms, want %v", m.AverageMs, wantAvg)
	}
	if m.MaxMs != perG {
		t.Errorf("max = %v ms, want %v", m.MaxMs, perG)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var s Series
	d := time.Duration(0)
	if n := testing.AllocsPerRun(1000, func() {
		d += 7919 * time.Nanosecond
		s.Record(200, d)
	}); n != 0 {
		t.Fatalf("Record allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(10, func() { _ = s.Summary() }); n != 0 {
		t.Fatalf("Summary allocates %v times per call", n)
	}
}
