package stats

import (
	"math"
	"testing"
	"testing/synctest"
	"time"
)

// timelineSeries records, inside a synctest bubble, i+1 requests of (i+1)
// ms at t0+i+0.5s for i = 0..59, one of them a 500 when i is a multiple
// of 5, and returns at t0+59.5s.
func timelineSeries(t0 time.Time) *Series {
	s := new(Series)
	for i := range 60 {
		sleepUntil(t0.Add(time.Duration(i)*time.Second + 500*time.Millisecond))
		for j := range i + 1 {
			status := 200
			if i%5 == 0 && j == 0 {
				status = 500
			}
			s.Record(status, time.Duration(i+1)*time.Millisecond)
		}
	}
	return s
}

// wantPoint is the figures of the seconds from..to (inclusive) of
// timelineSeries.
func wantPoint(at time.Time, from, to int) Point {
	p := Point{Time: at}
	for i := max(from, 0); i <= to && i < 60; i++ {
		p.Requests += uint64(i + 1)
		if i%5 == 0 {
			p.Errors++
		}
	}
	return p
}

func checkTimeline(t *testing.T, what string, got, want []Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d points, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.Requests != w.Requests || g.Errors != w.Errors {
			t.Errorf("%s point %d = %v %d/%d requests/errors, want %v %d/%d",
				what, i, g.Time, g.Requests, g.Errors, w.Time, w.Requests, w.Errors)
		}
		if g.Requests == 0 && (g.P50Ms != 0 || g.P95Ms != 0 || g.P99Ms != 0) {
			t.Errorf("%s point %d is idle but has percentiles %v/%v/%v", what, i, g.P50Ms, g.P95Ms, g.P99Ms)
		}
	}
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		s := timelineSeries(t0)
		at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

		// One point per second of the fine ring, with that second's
		// latency as every percentile.
		got := s.Timeline(time.Minute, time.Second)
		var want []Point
		for i := range 60 {
			want = append(want, wantPoint(at(i), i, i))
		}
		checkTimeline(t, "Timeline(1m, 1s)", got, want)
		for i, p := range got {
			exact := float64(i + 1)
			for _, q := range []float64{p.P50Ms, p.P95Ms, p.P99Ms} {
				if math.Abs(q-exact) > exact/32 {
					t.Errorf("second %d: percentile %v ms, want %v within 1/32", i, q, exact)
				}
			}
		}

		tens := func(first, n int) []Point { // n points of 10s from second first
			var ps []Point
			for k := range n {
				from := first + 10*k
				ps = append(ps, wantPoint(at(from), from, from+9))
			}
			return ps
		}
		checkTimeline(t, "Timeline(1m, 10s)", s.Timeline(time.Minute, 10*time.Second), tens(0, 6))
		checkTimeline(t, "Timeline(5m, 10s)", s.Timeline(5*time.Minute, 10*time.Second), tens(-240, 30))
		// Steps that do not divide the window: points on multiples of
		// 7s, the last one partial.
		checkTimeline(t, "Timeline(1m, 7s)", s.Timeline(time.Minute, 7*time.Second), []Point{
			wantPoint(at(0), 0, 6), wantPoint(at(7), 7, 13), wantPoint(at(14), 14, 20),
			wantPoint(at(21), 21, 27), wantPoint(at(28), 28, 34), wantPoint(at(35), 35, 41),
			wantPoint(at(42), 42, 48), wantPoint(at(49), 49, 55), wantPoint(at(56), 56, 59),
		})
		checkTimeline(t, "Timeline(5m, 1m)", s.Timeline(5*time.Minute, time.Minute), []Point{
			wantPoint(at(-240), -240, -181), wantPoint(at(-180), -180, -121), wantPoint(at(-120), -120, -61),
			wantPoint(at(-60), -60, -1), wantPoint(at(0), 0, 59),
		})
		checkTimeline(t, "Timeline(3s, 0)", s.Timeline(3*time.Second, 0), []Point{
			wantPoint(at(57), 57, 57), wantPoint(at(58), 58, 58), wantPoint(at(59), 59, 59),
		})
		checkTimeline(t, "Timeline(1m, 1h)", s.Timeline(time.Minute, time.Hour), []Point{wantPoint(at(0), 0, 59)})
		checkTimeline(t, "Timeline(90s, 1s)", s.Timeline(90*time.Second, time.Second), tens(-30, 9))

		// A minute later the fine ring has moved past the traffic; the
		// coarse one still holds it.
		sleepUntil(t0.Add(125 * time.Second))
		var idle []Point
		for i := range 60 {
			idle = append(idle, Point{Time: at(66 + i)})
		}
		checkTimeline(t, "Timeline(1m, 1s) later", s.Timeline(time.Minute, time.Second), idle)
		checkTimeline(t, "Timeline(5m, 10s) later", s.Timeline(5*time.Minute, 10*time.Second), tens(-170, 30))
	})
}

// TestTimelineIdle: a Series that never recorded gives zero points on the
// same grid a busy one would use, and still holds nothing.
func TestTimelineIdle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(12*time.Second + 300*time.Millisecond)
		now := time.Now()
		var s Series
		got := s.Timeline(time.Minute, 10*time.Second)
		var want []Point
		for k := range 6 {
			want = append(want, Point{Time: now.Truncate(10 * time.Second).Add(time.Duration(k-5) * 10 * time.Second)})
		}
		checkTimeline(t, "idle Timeline(1m, 10s)", got, want)
		if s.windowSlots() != 0 || s.win.base.Load() != nil {
			t.Errorf("Timeline made an idle Series hold state")
		}
	})
}
