package stats

import "time"

// Point is one interval of a Timeline.
type Point struct {
	// Time is the start of the interval.
	Time time.Time `json:"time"`
	// Requests counts the requests recorded in the interval; Errors those
	// of them that count as errors (see Summary.Error).
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
	// P50Ms, P95Ms and P99Ms are the interval's nearest-rank latency
	// percentiles in ms, with the accuracy of Window; 0 when it was idle.
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// Timeline is the last d in intervals of step, oldest first, for charts:
// for example Timeline(5*time.Minute, 10*time.Second) is 30 points from the
// 10s slices and Timeline(time.Minute, time.Second) 60 points from the 1s
// ones. d is clamped and rounded up as in Window (the ring is chosen by d);
// step is rounded up to whole slices of that ring, at least one and at
// most the window. Intervals start on multiples of step since a 10s
// boundary of the clock, so successive calls put the same requests in the
// same point; the last point is the current, partial interval, and an
// interval the ring no longer holds (possible when step does not divide
// the ring's span) shows only what it still holds. Idle intervals are zero
// points. It allocates the returned slice only.
func (s *Series) Timeline(d, step time.Duration) []Point {
	return s.win.timeline(time.Now(), d, step)
}

func (w *windows) timeline(now time.Time, d, step time.Duration) []Point {
	base, _ := w.baseOr(now)
	ring, width, slices := w.ringFor(clampWindow(d))
	k := min(max(ceilDiv(int64(step), int64(width)), 1), slices)
	n := ceilDiv(slices, k)
	e := fineEpoch(now, base)
	if width == coarseWidth {
		e = floorDiv(e, coarseFactor)
	}
	first := e - floorMod(e, k) - (n-1)*k
	pts := make([]Point, n)
	var m merged
	for i := range pts {
		from := first + int64(i)*k
		m = merged{}
		mergeRange(&m, ring, from, min(from+k-1, e))
		pts[i] = m.point(base.Add(time.Duration(from) * width).Round(0))
	}
	return pts
}

// point renders the merged figures of the interval starting at t.
func (m *merged) point(t time.Time) Point {
	sum := summarize(m.counts, 0)
	p50, p95, p99 := m.percentiles()
	return Point{
		Time:     t,
		Requests: sum.Count(),
		Errors:   sum.Error,
		P50Ms:    nanosToMs(p50),
		P95Ms:    nanosToMs(p95),
		P99Ms:    nanosToMs(p99),
	}
}
