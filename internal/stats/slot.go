package stats

import (
	"math/bits"
	"sync/atomic"
)

// Slot histogram geometry; see "Windows" in the package doc. A slot counts
// latencies in units of 2^slotUnitShift ns (1.024 µs): units below
// slotSubCount get a bucket each, and above that every power of two is
// split into slotSubCount equal sub-buckets.
const (
	slotUnitShift = 10
	slotSubBits   = 4
	slotSubCount  = 1 << slotSubBits
	slotSubMask   = slotSubCount - 1

	// numSlotBuckets covers 0..maxValue: slotBucketIndex(maxValue)+1.
	numSlotBuckets = 459
)

// slotBucketIndex maps a value in ns (0..maxValue) to its slot bucket.
func slotBucketIndex(v uint64) int {
	u := v >> slotUnitShift
	if u < slotSubCount {
		return int(u)
	}
	h := bits.Len64(u) - 1
	shift := h - slotSubBits
	return (shift+1)<<slotSubBits | int(u>>shift)&slotSubMask
}

// slotBucketBounds returns the lowest value, in ns, of slot bucket i and
// its width in ns.
func slotBucketBounds(i int) (lo, width uint64) {
	lo, width = uint64(i), 1 // in units
	if i >= slotSubCount {
		shift := i>>slotSubBits - 1
		lo, width = (slotSubCount+uint64(i&slotSubMask))<<shift, 1<<shift
	}
	return lo << slotUnitShift, width << slotUnitShift
}

// slotBucketValue is the value, in ns, reported for samples in slot bucket
// i: the midpoint of the nanoseconds it holds. That is within 1/32 of any
// of them from bucket slotSubCount on (16.4 µs and up), and within 512 ns
// below.
func slotBucketValue(i int) uint64 {
	lo, width := slotBucketBounds(i)
	return lo + (width-1)/2
}

// slotStripes is how many copies of the per-request counters a slot keeps
// (see slotStripe).
const (
	slotStripeBits = 1
	slotStripes    = 1 << slotStripeBits
)

// slotStripe is one copy of the counters every Record of a slice adds to,
// on a cache line of its own, so that concurrent Records contend less
// (picked by the same latency hash as the Series stripes). Two fit in the
// 2 KiB size class beside the histogram, so they cost no memory; on the
// 2-core dev VM their gain in BenchmarkRecordAtParallel was within the
// noise, and it can only grow with cores.
type slotStripe struct {
	sumNs  atomic.Uint64
	counts [numSlots]atomic.Uint32
	_      [64 - 8 - numSlots*4]byte
}

// slot is the figures of one time slice of a ring: counts per status slot,
// the latency sum and max, and a coarse histogram. 2032 bytes, a 2 KiB
// allocation. epoch says which slice it holds; it is set before the slot is
// published in a ring and only changes again once the slot is retired. It
// shares a cache line with the max, which only the rare Record that raises
// it writes, so the line writers check stays shared.
type slot struct {
	epoch   atomic.Int64
	maxNs   atomic.Uint64
	_       [64 - 16]byte
	stripes [slotStripes]slotStripe
	buckets [numSlotBuckets]atomic.Uint32
}

// add counts one request: status slot cls, latency v ns in bucket b. The
// max goes before the bucket, as in Series.Record, so a reader that bounds
// its bucket walk by the max it read first misses only samples in flight.
func (s *slot) add(cls int, v uint64, b int) {
	st := &s.stripes[(v*0x9E3779B97F4A7C15)>>(64-slotStripeBits)]
	st.counts[cls].Add(1)
	st.sumNs.Add(v)
	for {
		m := s.maxNs.Load()
		if v <= m || s.maxNs.CompareAndSwap(m, v) {
			break
		}
	}
	s.buckets[b].Add(1)
}

// reset zeroes every figure (not the epoch). Only a retired slot, out of
// every window, is reset.
func (s *slot) reset() {
	s.maxNs.Store(0)
	for i := range s.stripes {
		st := &s.stripes[i]
		st.sumNs.Store(0)
		for j := range st.counts {
			st.counts[j].Store(0)
		}
	}
	for i := range s.buckets {
		s.buckets[i].Store(0)
	}
}

// merged is the sum of several slots, built by a reader on its stack.
type merged struct {
	counts  [numSlots]uint64
	sumNs   uint64
	maxNs   uint64
	buckets [numSlotBuckets]uint64
}

// add folds in slot s. Its max is read first and bounds the bucket walk:
// no bucket above it holds a sample yet (see slot.add).
func (m *merged) add(s *slot) {
	mx := s.maxNs.Load()
	for i := range s.stripes {
		st := &s.stripes[i]
		for j := range st.counts {
			m.counts[j] += uint64(st.counts[j].Load())
		}
		m.sumNs += st.sumNs.Load()
	}
	m.maxNs = max(m.maxNs, mx)
	for i := range slotBucketIndex(mx) + 1 {
		m.buckets[i] += uint64(s.buckets[i].Load())
	}
}

// percentiles returns the nearest-rank p50, p95 and p99 in ns, each at
// most the max (a bucket midpoint may pass it).
func (m *merged) percentiles() (p50, p95, p99 uint64) {
	var n uint64
	for _, c := range m.buckets {
		n += c
	}
	if n == 0 {
		return 0, 0, 0
	}
	pcts := [...]uint64{50, 95, 99}
	var out [len(pcts)]uint64
	k := 0
	rank := nearestRank(n, pcts[0])
	var cum uint64
walk:
	for i, c := range m.buckets {
		cum += c
		for cum >= rank {
			out[k] = min(slotBucketValue(i), m.maxNs)
			if k++; k == len(pcts) {
				break walk
			}
			rank = nearestRank(n, pcts[k])
		}
	}
	return out[0], out[1], out[2]
}

// summary renders the merged figures as a Summary.
func (m *merged) summary() Summary {
	sum := summarize(m.counts, m.sumNs)
	p50, p95, p99 := m.percentiles()
	sum.P50Ms, sum.P95Ms, sum.P99Ms = nanosToMs(p50), nanosToMs(p95), nanosToMs(p99)
	sum.MaxMs = nanosToMs(m.maxNs)
	return sum
}
