package stats

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram geometry; see the package doc.
const (
	// subBucketBits is log2 of the sub-buckets per power of two: 7 gives
	// 128 sub-buckets, a relative bucket width of at most 1/128.
	subBucketBits  = 7
	subBucketCount = 1 << subBucketBits
	subBucketMask  = subBucketCount - 1

	// maxValue is the largest latency the histogram tells apart, in ns;
	// longer requests are recorded as maxValue.
	maxValue = uint64(time.Hour)

	// numBuckets covers 0..maxValue.
	numBuckets = 4562
)

// bucketIndex maps a value in 0..maxValue to its bucket. Values below
// subBucketCount have a bucket each; a value whose top bit is bit h (h >=
// subBucketBits) lands in octave h-subBucketBits+1, at the sub-bucket given by
// its subBucketBits bits below the top one.
func bucketIndex(v uint64) int {
	if v < subBucketCount {
		return int(v)
	}
	h := bits.Len64(v) - 1
	shift := h - subBucketBits
	return (shift+1)<<subBucketBits | int(v>>shift)&subBucketMask
}

// bucketBounds returns the lowest value of bucket i and its width, so the
// bucket holds the integers lo .. lo+width-1.
func bucketBounds(i int) (lo, width uint64) {
	if i < subBucketCount {
		return uint64(i), 1
	}
	shift := i>>subBucketBits - 1
	sub := uint64(i & subBucketMask)
	return (subBucketCount + sub) << shift, 1 << shift
}

// bucketValue is the value reported for samples in bucket i: the midpoint of
// the integers it holds, which is within 1/(2*subBucketCount) of any of them.
func bucketValue(i int) uint64 {
	lo, width := bucketBounds(i)
	return lo + (width-1)/2
}

// clampNanos turns a duration into the value the histogram records.
func clampNanos(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	if uint64(d) > maxValue {
		return maxValue
	}
	return uint64(d)
}

// histogram is a fixed-size, lock-free latency histogram in nanoseconds.
// The zero value is empty and ready to use; it must not be copied.
type histogram struct {
	buckets [numBuckets]atomic.Uint64
}

// record adds one value, which must be in 0..maxValue.
func (h *histogram) record(v uint64) {
	h.buckets[bucketIndex(v)].Add(1)
}

// total is the number of values recorded so far.
func (h *histogram) total() uint64 {
	var n uint64
	for i := range h.buckets {
		n += h.buckets[i].Load()
	}
	return n
}

// percentiles fills out[k] with the nearest-rank value, in ns, of percentile
// pcts[k] (ascending, 1..100) among the first n values recorded; out is left
// zero when n is 0. Concurrent records only add to the buckets, so the walk
// always reaches every rank computed from an earlier total.
func (h *histogram) percentiles(n uint64, pcts []uint64, out []uint64) {
	if n == 0 {
		return
	}
	k := 0
	rank := nearestRank(n, pcts[k])
	var cum uint64
	for i := range h.buckets {
		cum += h.buckets[i].Load()
		for cum >= rank {
			out[k] = bucketValue(i)
			k++
			if k == len(pcts) {
				return
			}
			rank = nearestRank(n, pcts[k])
		}
	}
}

// nearestRank is ceil(n*pct/100), at least 1: the 1-based rank of the
// pct-th percentile among n sorted values. It is computed in integers so
// that 95% of 100 is exactly rank 95 and large n cannot overflow.
func nearestRank(n, pct uint64) uint64 {
	r := n/100*pct + (n%100*pct+99)/100
	return max(r, 1)
}
