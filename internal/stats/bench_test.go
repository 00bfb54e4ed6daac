package stats

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// benchDurations are latencies spread like real traffic (exponential, mean
// 2 ms), so parallel benchmarks hit many buckets rather than one.
func benchDurations() []time.Duration {
	rng := rand.New(rand.NewPCG(3, 4))
	d := make([]time.Duration, 4096)
	for i := range d {
		d[i] = time.Duration(rng.ExpFloat64() * float64(2*time.Millisecond))
	}
	return d
}

var benchStatuses = [...]int{200, 200, 200, 200, 200, 200, 304, 404, 502, 503}

func BenchmarkRecord(b *testing.B) {
	d := benchDurations()
	var s Series
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Record(benchStatuses[i%len(benchStatuses)], d[i&4095])
		i++
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	d := benchDurations()
	var s Series
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(d))
		for pb.Next() {
			s.Record(benchStatuses[i%len(benchStatuses)], d[i&4095])
			i++
		}
	})
}

// BenchmarkRecordParallelSameValue is the worst case for the histogram: all
// goroutines write the same bucket.
func BenchmarkRecordParallelSameValue(b *testing.B) {
	var s Series
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Record(200, 2*time.Millisecond)
		}
	})
}

// hdrSeries is what a Series would be on hdrhistogram-go, which does no
// locking of its own: the histogram and the counters behind one mutex (as
// oxy's RTMetrics does). Same resolution as ours: 2 significant figures
// gives 256 sub-buckets per octave, half-used, i.e. 1/128 relative width.
type hdrSeries struct {
	mu                  sync.Mutex
	h                   *hdrhistogram.Histogram
	success, errs, sum  uint64
	classes             [6]uint64
	maxNs, recordErrors uint64
}

func (s *hdrSeries) Record(status int, elapsed time.Duration) {
	v := clampNanos(elapsed)
	s.mu.Lock()
	if s.h.RecordValue(int64(v)) != nil {
		s.recordErrors++
	}
	if status >= 200 && status < 400 {
		s.success++
	} else {
		s.errs++
	}
	s.classes[statusSlot(status)%6]++
	s.sum += v
	s.mu.Unlock()
}

func BenchmarkHDRMutexParallel(b *testing.B) {
	d := benchDurations()
	s := &hdrSeries{h: hdrhistogram.New(1, int64(time.Hour), 2)}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(d))
		for pb.Next() {
			s.Record(benchStatuses[i%len(benchStatuses)], d[i&4095])
			i++
		}
	})
	if s.recordErrors != 0 {
		b.Fatalf("%d values out of HDR range", s.recordErrors)
	}
}

func BenchmarkHDRMutex(b *testing.B) {
	d := benchDurations()
	s := &hdrSeries{h: hdrhistogram.New(1, int64(time.Hour), 2)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Record(benchStatuses[i%len(benchStatuses)], d[i&4095])
		i++
	}
}

func BenchmarkSummary(b *testing.B) {
	var s Series
	for i, d := range benchDurations() {
		s.Record(benchStatuses[i%len(benchStatuses)], d)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Summary()
	}
}

// BenchmarkRecordAt is Record with the clock read by the caller (as the
// gateway can pass the time it already read): the cost of the counters
// alone. The time moves 1 ms every 1024 requests, so slices change as they
// would at 1M requests/s.
func BenchmarkRecordAt(b *testing.B) {
	d := benchDurations()
	var s Series
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i&1023 == 0 {
			now = now.Add(time.Millisecond)
		}
		s.RecordAt(benchStatuses[i%len(benchStatuses)], d[i&4095], now)
		i++
	}
}

func BenchmarkRecordAtParallel(b *testing.B) {
	d := benchDurations()
	var s Series
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(d))
		for pb.Next() {
			s.RecordAt(benchStatuses[i%len(benchStatuses)], d[i&4095], now)
			i++
		}
	})
}

// busySeries is a Series with traffic in each of the last 15 minutes'
// seconds, recorded through RecordAt with times up to now.
func busySeries(now time.Time) *Series {
	s := new(Series)
	d := benchDurations()
	for sec := range 900 {
		at := now.Add(time.Duration(sec-899) * time.Second)
		for i := range 64 {
			s.RecordAt(benchStatuses[i%len(benchStatuses)], d[(sec*64+i)&4095], at)
		}
	}
	return s
}

func BenchmarkWindow(b *testing.B) {
	for _, w := range []time.Duration{time.Minute, 15 * time.Minute} {
		b.Run(w.String(), func(b *testing.B) {
			now := time.Now()
			s := busySeries(now)
			b.ReportAllocs()
			for b.Loop() {
				_ = s.win.summary(now, w)
			}
		})
	}
}

func BenchmarkTimeline(b *testing.B) {
	now := time.Now()
	s := busySeries(now)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.win.timeline(now, 5*time.Minute, 10*time.Second)
	}
}
