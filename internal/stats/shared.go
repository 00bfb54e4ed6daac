package stats

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// # Sharing figures between replicas
//
// A Series' cumulative figures travel to other replicas as a compact
// binary value (AppendShared) and are merged there (Merged): counts per
// status slot, the latency sum and max, and the non-empty buckets of the
// log-linear histogram. Every replica's histogram has the same geometry,
// so merging is adding bucket counts, and a merged percentile is the
// midpoint of the bucket that holds the nearest-rank sample of the union:
// within 1/256 of that exact sample, the same bound as one replica's.
//
// Encoding (all unsigned varints after the version byte):
//
//	version (1 byte, sharedVersion)
//	the numSlots status slot counts, the latency sum in ns, the max in ns
//	n, the number of non-empty buckets, then n pairs:
//	  gap, count   (gap: the bucket's index minus the previous pair's, minus 1;
//	                the first pair's gap is its index)
//
// Its size is bounded by the geometry: at most numBuckets pairs, about 40
// KiB in the worst case; a replica whose latencies span two decades
// sends about 3 KiB (BenchmarkAppendShared).

const sharedVersion = 1

// ErrBadShared is the cause of every DecodeShared error.
var ErrBadShared = errors.New("not a shared stats value")

// Merged is the sum of several Series' cumulative figures. The zero value
// is empty and ready to use; it is about 36 KiB and not safe for
// concurrent use.
type Merged struct {
	slots   [numSlots]uint64
	sumNs   uint64
	maxNs   uint64
	buckets [numBuckets]uint64
}

// AppendShared appends the Series' cumulative figures, encoded for
// DecodeShared, to dst. It reads atomics only, like Summary.
func (s *Series) AppendShared(dst []byte) []byte {
	var m Merged
	m.AddSeries(s)
	return m.AppendShared(dst)
}

// AppendShared appends m, encoded for DecodeShared, to dst.
func (m *Merged) AppendShared(dst []byte) []byte {
	dst = append(dst, sharedVersion)
	for _, n := range m.slots {
		dst = binary.AppendUvarint(dst, n)
	}
	dst = binary.AppendUvarint(dst, m.sumNs)
	dst = binary.AppendUvarint(dst, m.maxNs)
	var nonEmpty uint64
	for _, n := range m.buckets {
		if n != 0 {
			nonEmpty++
		}
	}
	dst = binary.AppendUvarint(dst, nonEmpty)
	prev := -1
	for i, n := range m.buckets {
		if n == 0 {
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(i-prev-1))
		dst = binary.AppendUvarint(dst, n)
		prev = i
	}
	return dst
}

// AddSeries adds the Series' cumulative figures to m.
func (m *Merged) AddSeries(s *Series) {
	for i := range s.stripes {
		st := &s.stripes[i]
		for j := range st.slots {
			m.slots[j] += st.slots[j].Load()
		}
		m.sumNs += st.sumNs.Load()
	}
	// As in Summary: buckets after the counts, the max after the buckets.
	for i := range s.hist.buckets {
		m.buckets[i] += s.hist.buckets[i].Load()
	}
	m.maxNs = max(m.maxNs, s.maxNs.Load())
}

// Add adds o to m.
func (m *Merged) Add(o *Merged) {
	for i := range m.slots {
		m.slots[i] += o.slots[i]
	}
	m.sumNs += o.sumNs
	m.maxNs = max(m.maxNs, o.maxNs)
	for i := range m.buckets {
		m.buckets[i] += o.buckets[i]
	}
}

// DecodeShared decodes a value of AppendShared into m, which it resets
// first. An error wraps ErrBadShared and leaves m in an unspecified state.
func (m *Merged) DecodeShared(b []byte) error {
	*m = Merged{}
	if len(b) == 0 || b[0] != sharedVersion {
		return fmt.Errorf("%w: unknown version", ErrBadShared)
	}
	d := decoder{b: b[1:]}
	for i := range m.slots {
		m.slots[i] = d.next()
	}
	m.sumNs, m.maxNs = d.next(), d.next()
	n := d.next()
	if n > numBuckets {
		return fmt.Errorf("%w: %d buckets", ErrBadShared, n)
	}
	idx := -1
	for range n {
		gap, count := d.next(), d.next()
		if d.err != nil {
			break
		}
		if gap >= numBuckets || idx+1+int(gap) >= numBuckets {
			return fmt.Errorf("%w: bucket index out of range", ErrBadShared)
		}
		idx += 1 + int(gap)
		m.buckets[idx] = count
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadShared, len(d.b))
	}
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) next() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: truncated", ErrBadShared)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Summary is m's figures, as Series.Summary computes them: exact counts,
// average and max, and nearest-rank percentiles over the merged buckets.
func (m *Merged) Summary() Summary {
	s := summarize(m.slots, m.sumNs)
	var n uint64
	for _, c := range m.buckets {
		n += c
	}
	pcts := [...]uint64{50, 95, 99}
	var out [len(pcts)]uint64
	if n > 0 {
		k, rank, cum := 0, nearestRank(n, pcts[0]), uint64(0)
	walk:
		for i, c := range m.buckets {
			cum += c
			for cum >= rank {
				out[k] = min(bucketValue(i), m.maxNs)
				k++
				if k == len(pcts) {
					break walk
				}
				rank = nearestRank(n, pcts[k])
			}
		}
	}
	s.P50Ms, s.P95Ms, s.P99Ms = nanosToMs(out[0]), nanosToMs(out[1]), nanosToMs(out[2])
	s.MaxMs = nanosToMs(m.maxNs)
	return s
}
