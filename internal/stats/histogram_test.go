package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"
)

func TestBucketGeometry(t *testing.T) {
	if got := bucketIndex(maxValue) + 1; got != numBuckets {
		t.Fatalf("numBuckets = %d, want bucketIndex(maxValue)+1 = %d", numBuckets, got)
	}
	// Buckets tile 0..maxValue without gaps or overlaps, and none is wider
	// than 1/subBucketCount of its lower bound.
	var next uint64
	for i := range numBuckets {
		lo, width := bucketBounds(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, next)
		}
		if width > 1 && width*subBucketCount > lo {
			t.Fatalf("bucket %d [%d, +%d) is wider than 1/%d of its start", i, lo, width, subBucketCount)
		}
		next = lo + width
	}
	if next <= maxValue {
		t.Fatalf("buckets end at %d, below maxValue %d", next, maxValue)
	}
	if size := unsafe.Sizeof(Series{}); size > 64<<10 {
		t.Fatalf("Series is %d bytes, want <= 64 KiB", size)
	}
}

func TestBucketIndexRoundTrip(t *testing.T) {
	values := []uint64{0, 1, 127, 128, 255, 256, 257, 1000, 1023, 1024, 999_999,
		uint64(time.Millisecond), uint64(time.Second), maxValue - 1, maxValue}
	for shift := range 42 {
		p := uint64(1) << shift
		values = append(values, p-1, p, p+1)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		values = append(values, rng.Uint64N(maxValue+1))
	}
	for _, v := range values {
		if v > maxValue {
			continue
		}
		i := bucketIndex(v)
		lo, width := bucketBounds(i)
		if v < lo || v >= lo+width {
			t.Fatalf("value %d: bucket %d is [%d, %d)", v, i, lo, lo+width)
		}
		if rep := bucketValue(i); relErr(float64(rep), float64(v)) > 1.0/(2*subBucketCount) {
			t.Fatalf("value %d: reported %d, relative error %.5f", v, rep, relErr(float64(rep), float64(v)))
		}
	}
}

func TestNearestRank(t *testing.T) {
	for i, tc := range []struct{ n, pct, want uint64 }{
		{1, 50, 1}, {1, 99, 1}, {2, 50, 1}, {3, 50, 2}, {100, 95, 95},
		{100, 99, 99}, {101, 99, 100}, {1000, 99, 990}, {10, 95, 10},
		{200, 50, 100}, {199, 50, 100}, {1 << 62, 100, 1 << 62},
	} {
		if got := nearestRank(tc.n, tc.pct); got != tc.want {
			t.Errorf("Test %d: nearestRank(%d, %d) = %d, want %d", i, tc.n, tc.pct, got, tc.want)
		}
	}
}

func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / want
}

// exactPercentile is the nearest-rank percentile of sorted, computed
// independently of the package: the ceil(pct/100*n)-th smallest value.
func exactPercentile(sorted []uint64, pct float64) uint64 {
	rank := int(math.Ceil(pct / 100 * float64(len(sorted))))
	// guard against float noise such as 0.95*100 = 95.00000000000001
	if r := pct / 100 * float64(len(sorted)); math.Abs(r-math.Round(r)) < 1e-9 {
		rank = int(math.Round(r))
	}
	return sorted[max(rank, 1)-1]
}

func TestPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 7))
	gen := func(n int, f func() time.Duration) []time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = f()
		}
		return d
	}
	ms := float64(time.Millisecond)
	for _, tc := range []struct {
		name    string
		samples []time.Duration
	}{
		{"uniform 1us-1s", gen(100_000, func() time.Duration {
			return time.Microsecond + time.Duration(rng.Int64N(int64(time.Second)))
		})},
		{"exponential mean 5ms", gen(100_000, func() time.Duration {
			return time.Duration(rng.ExpFloat64() * 5 * ms)
		})},
		{"bimodal 2ms and 800ms", gen(50_000, func() time.Duration {
			if rng.IntN(10) < 9 {
				return time.Duration(rng.NormFloat64()*0.2*ms + 2*ms)
			}
			return time.Duration(rng.NormFloat64()*50*ms + 800*ms)
		})},
		{"log-uniform 1us-1h", gen(100_000, func() time.Duration {
			return time.Duration(math.Exp(rng.Float64()*math.Log(float64(time.Hour/time.Microsecond)))) * time.Microsecond
		})},
		{"constant 3.3ms", gen(1000, func() time.Duration { return 3300 * time.Microsecond })},
		{"constant 1us", gen(1000, func() time.Duration { return time.Microsecond })},
		{"one sample", []time.Duration{1234567 * time.Nanosecond}},
		{"two samples", []time.Duration{time.Millisecond, 100 * time.Millisecond}},
		{"huge values clamped", append(gen(900, func() time.Duration {
			return time.Duration(rng.Int64N(int64(10 * time.Millisecond)))
		}), gen(100, func() time.Duration { return 2*time.Hour + time.Duration(rng.Int64N(int64(time.Hour))) })...)},
		{"negative counts as zero", []time.Duration{-time.Second, 0, 0, 5 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s Series
			clamped := make([]uint64, len(tc.samples))
			var sum float64
			for i, d := range tc.samples {
				s.Record(200, d)
				clamped[i] = min(uint64(max(d, 0)), uint64(time.Hour))
				sum += float64(clamped[i])
			}
			slices.Sort(clamped)
			m := s.Summary()
			for _, c := range []struct {
				name string
				got  float64
				want uint64
			}{
				{"p50", m.P50Ms, exactPercentile(clamped, 50)},
				{"p95", m.P95Ms, exactPercentile(clamped, 95)},
				{"p99", m.P99Ms, exactPercentile(clamped, 99)},
				{"max", m.MaxMs, clamped[len(clamped)-1]},
			} {
				want := float64(c.want) / ms
				e := relErr(c.got, want)
				t.Logf("%s = %.6f ms, exact %.6f ms, relative error %.4f%%", c.name, c.got, want, 100*e)
				if e > 0.01 {
					t.Errorf("%s = %.6f ms, exact %.6f ms: relative error %.4f > 1%%", c.name, c.got, want, e)
				}
			}
			if want := sum / float64(len(clamped)) / ms; relErr(m.AverageMs, want) > 1e-9 {
				t.Errorf("average = %.9f ms, exact %.9f ms", m.AverageMs, want)
			}
			if m.Success != uint64(len(tc.samples)) || m.Error != 0 {
				t.Errorf("counts = %d/%d, want %d/0", m.Success, m.Error, len(tc.samples))
			}
		})
	}
}
