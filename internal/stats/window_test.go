package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// windowSlots is how many slots the windows of s hold (ring positions and
// spares): the size accessor of the lazy allocation tests.
func (s *Series) windowSlots() int {
	n := 0
	for _, ring := range [][]atomic.Pointer[slot]{s.win.fine[:], s.win.coarse[:], s.win.spare[:]} {
		for i := range ring {
			if ring[i].Load() != nil {
				n++
			}
		}
	}
	return n
}

// sleepUntil sleeps (fake time, inside a synctest bubble) until t.
func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

func TestWindowSpan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ d, want time.Duration }{
		{-time.Second, time.Second},
		{0, time.Second},
		{500 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{1500 * time.Millisecond, 2 * time.Second},
		{59 * time.Second, 59 * time.Second},
		{60 * time.Second, 60 * time.Second},
		{60*time.Second + 1, 70 * time.Second},
		{61 * time.Second, 70 * time.Second},
		{5 * time.Minute, 5 * time.Minute},
		{15 * time.Minute, 15 * time.Minute},
		{time.Hour, 15 * time.Minute},
	} {
		if got := WindowSpan(tc.d); got != tc.want {
			t.Errorf("WindowSpan(%v) = %v, want %v", tc.d, got, tc.want)
		}
	}
}

// TestWindowAgesOut records three requests at a known fake time and reads
// every kind of window as they age: a request counts for WindowSpan(d)
// minus one slice at least and WindowSpan(d) at most.
func TestWindowAgesOut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now() // a 10s boundary: synctest starts at midnight
		var s Series
		s.Record(200, 2*time.Millisecond)
		s.Record(503, 4*time.Millisecond)
		s.Record(404, 3*time.Millisecond)
		want := Summary{Success: 1, Error: 2, AverageMs: 3, MaxMs: 4}
		want.Classes[2], want.Classes[4], want.Classes[5] = 1, 1, 1

		for _, tc := range []struct {
			at     time.Duration // since t0, increasing
			window time.Duration
			counts bool
		}{
			{0, time.Second, true},
			{0, 60 * time.Second, true},
			{999 * time.Millisecond, time.Second, true},
			{time.Second, time.Second, false},
			{time.Second, 2 * time.Second, true},
			{2500 * time.Millisecond, 2 * time.Second, false},
			{2500 * time.Millisecond, 3 * time.Second, true},
			{59 * time.Second, 60 * time.Second, true},
			{59 * time.Second, 59 * time.Second, false},
			{60 * time.Second, 60 * time.Second, false},
			{60 * time.Second, 70 * time.Second, true}, // coarse ring
			{60 * time.Second, 61 * time.Second, true}, // rounded up to 70s
			{69 * time.Second, 61 * time.Second, true},
			{70 * time.Second, 61 * time.Second, false},
			{70 * time.Second, 80 * time.Second, true},
			{899 * time.Second, 15 * time.Minute, true},
			{899 * time.Second, time.Hour, true}, // clamped to 15m
			{900 * time.Second, 15 * time.Minute, false},
			{900 * time.Second, time.Hour, false},
		} {
			sleepUntil(t0.Add(tc.at))
			got := s.Window(tc.window)
			w := Summary{}
			if tc.counts {
				w = want
			}
			if !sameCounts(got, w) {
				t.Errorf("at t0+%v Window(%v) = %+v, want %+v", tc.at, tc.window, got, w)
			}
		}
		if c := s.Summary().Count(); c != 3 {
			t.Errorf("cumulative count = %d, want 3 whatever the windows say", c)
		}
	})
}

// sameCounts compares the exact figures of two Summaries: counts, classes,
// average and max (percentiles are checked against their bound elsewhere).
func sameCounts(got, want Summary) bool {
	return got.Success == want.Success && got.Error == want.Error && got.Classes == want.Classes &&
		math.Abs(got.AverageMs-want.AverageMs) < 1e-9 && got.MaxMs == want.MaxMs
}

// TestWindowRingSelection records one request per second for two minutes
// and checks which ring, at which granularity, each window reads.
func TestWindowRingSelection(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		var s Series
		for i := range 120 {
			sleepUntil(t0.Add(time.Duration(i)*time.Second + 500*time.Millisecond))
			s.Record(200, time.Millisecond)
		}
		// Now t0+119.5s: fine slice 119, coarse slice 11.
		for _, tc := range []struct {
			window time.Duration
			want   uint64
		}{
			{time.Second, 1},
			{10 * time.Second, 10},
			{60 * time.Second, 60},       // fine: slices 60..119
			{61 * time.Second, 70},       // coarse: 7 slices of 10s, 50..119
			{70 * time.Second, 70},       // same
			{2 * time.Minute, 120},       // coarse: all 12
			{15 * time.Minute, 120},      // all
			{500 * time.Millisecond, 1},  // clamped to 1s
			{90*time.Second + 1, 100},    // 10 coarse slices
			{90 * time.Second, 90},       // 9 coarse slices
			{119 * time.Second, 120},     // 12 coarse slices
			{110*time.Second + 1, 120},   // 12 coarse slices
			{110 * time.Second, 110},     // 11 coarse slices
			{-1 * time.Second, 1},        // clamped to 1s
			{30 * time.Second, 30},       // fine
			{59*time.Second + 1, 60},     // fine, rounded up
			{3 * time.Second / 2, 2},     // fine, rounded up
			{14*time.Minute + 59, 120},   // coarse, all
			{20 * time.Minute, 120},      // clamped to 15m
			{600 * time.Millisecond, 1},  // clamped
			{1001 * time.Millisecond, 2}, // rounded up
		} {
			if got := s.Window(tc.window).Count(); got != tc.want {
				t.Errorf("Window(%v) count = %d, want %d", tc.window, got, tc.want)
			}
		}
	})
}

// TestWindowPercentiles checks a window's percentiles against the exact
// ones of the samples it covers, within the documented bound, for fine and
// coarse windows over several slices, with older samples left out.
func TestWindowPercentiles(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		rng := rand.New(rand.NewPCG(7, 8))
		sample := func() time.Duration {
			switch rng.IntN(10) {
			case 0:
				return time.Duration(rng.IntN(20_000)) // < 20 µs
			case 1:
				return time.Duration(rng.ExpFloat64() * float64(time.Second))
			default:
				return time.Duration(rng.ExpFloat64() * float64(2*time.Millisecond))
			}
		}
		var s Series
		var all []struct {
			at time.Duration
			v  uint64
		}
		// Traffic at t0+0s..t0+119s, then read at t0+119.5s.
		for sec := range 120 {
			sleepUntil(t0.Add(time.Duration(sec) * time.Second))
			for range 50 + rng.IntN(50) {
				d := sample()
				s.Record(200, d)
				all = append(all, struct {
					at time.Duration
					v  uint64
				}{time.Duration(sec) * time.Second, uint64(d)})
			}
		}
		sleepUntil(t0.Add(119500 * time.Millisecond))
		for _, tc := range []struct {
			window time.Duration
			since  time.Duration // the oldest sample time the window covers
		}{
			{time.Second, 119 * time.Second},
			{10 * time.Second, 110 * time.Second},
			{60 * time.Second, 60 * time.Second},
			{90 * time.Second, 30 * time.Second},
			{15 * time.Minute, 0},
		} {
			var in []uint64
			var sum uint64
			for _, x := range all {
				if x.at >= tc.since {
					in = append(in, x.v)
					sum += x.v
				}
			}
			slices.Sort(in)
			got := s.Window(tc.window)
			if got.Count() != uint64(len(in)) {
				t.Fatalf("Window(%v) count = %d, want %d", tc.window, got.Count(), len(in))
			}
			if want := float64(sum) / float64(len(in)) / 1e6; math.Abs(got.AverageMs-want) > 1e-9*want {
				t.Errorf("Window(%v) average = %v, want %v", tc.window, got.AverageMs, want)
			}
			if want := nanosToMs(in[len(in)-1]); got.MaxMs != want {
				t.Errorf("Window(%v) max = %v, want %v", tc.window, got.MaxMs, want)
			}
			for _, p := range []struct {
				pct uint64
				got float64
			}{{50, got.P50Ms}, {95, got.P95Ms}, {99, got.P99Ms}} {
				want := exactPercentile(in, float64(p.pct))
				if g := uint64(math.Round(p.got * 1e6)); !withinSlotBound(g, want) {
					t.Errorf("Window(%v) p%d = %d ns, exact %d ns: off by more than 1/32 and 512 ns",
						tc.window, p.pct, g, want)
				}
			}
		}
	})
}

// TestSlotReuseAfterWrap: a ring position used again a ring later holds
// only the new slice, and steady traffic recycles slots instead of
// allocating new ones.
func TestSlotReuseAfterWrap(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		var s Series
		for range 5 {
			s.Record(500, time.Millisecond)
		}
		if n := s.windowSlots(); n != 2 {
			t.Fatalf("after one slice: %d slots, want 2 (one per ring)", n)
		}
		sleepUntil(t0.Add(60 * time.Second)) // fine position 0 again
		s.Record(200, time.Millisecond)
		s.Record(200, time.Millisecond)
		if m := s.Window(60 * time.Second); m.Success != 2 || m.Error != 0 {
			t.Errorf("Window(60s) after wrap = %d/%d success/error, want 2/0", m.Success, m.Error)
		}
		if m := s.Window(70 * time.Second); m.Success != 2 || m.Error != 5 {
			t.Errorf("Window(70s) after wrap = %d/%d success/error, want 2/5", m.Success, m.Error)
		}
		// fine: position 0 and the retired slot as spare; coarse: 0 and 6.
		slots := s.windowSlots()
		if slots != 4 {
			t.Fatalf("after one wrap: %d slots, want 4", slots)
		}
		for wrap := 2; wrap <= 20; wrap++ {
			sleepUntil(t0.Add(time.Duration(wrap) * 60 * time.Second))
			s.Record(404, time.Millisecond)
			if m := s.Window(time.Second); m.Count() != 1 || m.Classes[4] != 1 {
				t.Fatalf("wrap %d: Window(1s) = %+v, want just the new 404", wrap, m)
			}
		}
		// 20 wraps of the fine ring and one of the coarse one (t0+1200s):
		// every reuse took the spare, never a new slot, beyond the coarse
		// positions first used.
		// Fine: position 0 and the spare; coarse: positions 0, 6, ... 84
		// (slices 0..120 step 6, mod 90) and the spare.
		if got, want := s.windowSlots(), 2+15+1; got != want {
			t.Errorf("after 20 wraps: %d slots, want %d", got, want)
		}
		if m := s.Window(15 * time.Minute); m.Count() != 15 {
			t.Errorf("Window(15m) = %d requests, want the 15 of the last 15 minutes", m.Count())
		}
	})
}

// TestStaleRecord: a request recorded with a time older than a ring (a
// writer that stalled) does not disturb the slot that took its place.
func TestStaleRecord(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		var s Series
		s.Record(200, time.Millisecond) // base at t0
		sleepUntil(t0.Add(70 * time.Second))
		s.Record(200, time.Millisecond)
		s.RecordAt(500, time.Millisecond, t0.Add(10*time.Second)) // 60s late
		if m := s.Window(time.Second); m.Count() != 1 || m.Error != 0 {
			t.Errorf("Window(1s) = %+v, want the one current request", m)
		}
		if m := s.Window(60 * time.Second); m.Error != 0 {
			t.Errorf("Window(60s) counts the stale request: %+v", m)
		}
		if m := s.Window(15 * time.Minute); m.Count() != 3 || m.Error != 1 {
			t.Errorf("Window(15m) = %+v, want all three (the coarse slice of t0+10s still holds)", m)
		}
	})
}
