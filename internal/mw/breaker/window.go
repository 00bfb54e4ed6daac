package breaker

import "sync/atomic"

// numBuckets is how many time buckets the sliding window has. A bucket is
// Window/numBuckets wide, so the window slides in steps of a tenth of it.
const numBuckets = 10

// A bucket is one atomic word holding its epoch stamp and both counters:
//
//	bits 40..63  tag: the bucket's epoch modulo 2^24
//	bits 20..39  failures
//	bits  0..19  requests
//
// Packing them in one word is what makes reuse exact without a lock: with
// the stamp in a word of its own, a writer that sees the new stamp could
// add to the counters between another writer's stamp CAS and its reset, and
// that count would be lost (or, resetting by subtraction, stale counts would
// show for a moment). Here the reset is a single CAS of the whole word.
const (
	countBits = 20
	countMax  = 1<<countBits - 1 // a bucket saturates at 1,048,575 requests
	tagShift  = 2 * countBits
	tagBits   = 64 - tagShift
	tagMask   = 1<<tagBits - 1
	failUnit  = 1 << countBits
	// addMargin keeps the unchecked Add of the fast path from carrying into
	// the next field: Add is only used while the request count is this far
	// below countMax, which no number of concurrent writers will cross.
	addMargin = 1 << 16
	// staleLimit is how many epochs late a writer may be and still be
	// recognised as late (see ahead): four windows.
	staleLimit = 4 * numBuckets
)

// window counts requests and failures over the last numBuckets epochs
// (an epoch is the bucket width; epoch e covers [e*width, (e+1)*width) since
// the Breaker was made). It never locks: a write is a Load and an Add on
// the current bucket, or a CAS when the bucket is reused for a new epoch.
//
// Tags are epochs modulo 2^24, so a bucket last written exactly 5*2^24
// epochs ago (its slot and tag both match again: 2^24 is not a multiple of
// 10) would count once more, and one written a few rotations short of that
// would look later than the clock and ignore writes for up to four windows:
// both need 2.6 years of silence on that slot at the default 1s width, or
// 9.7 days at the smallest sensible width (10ms). Saturated counters stop at countMax; the thresholds are
// small numbers, so a saturated bucket still trips and clears correctly.
type window struct {
	buckets [numBuckets]atomic.Uint64
}

func tagOf(epoch int64) uint64 { return uint64(epoch) & tagMask }

func requestsOf(w uint64) uint64 { return w & countMax }

func failuresOf(w uint64) uint64 { return w >> countBits & countMax }

// record counts one request finished in epoch e (>= 0).
func (win *window) record(e int64, failed bool) {
	delta := uint64(1)
	if failed {
		delta |= failUnit
	}
	slot := &win.buckets[e%numBuckets]
	tag := tagOf(e)
	for {
		w := slot.Load()
		switch {
		case w>>tagShift == tag:
			if requestsOf(w) < countMax-addMargin {
				slot.Add(delta)
				return
			}
			if slot.CompareAndSwap(w, saturatingAdd(w, failed)) {
				return
			}
		case ahead(w>>tagShift, tag):
			// The slot already holds a later epoch: this writer was
			// descheduled for a whole window. Its sample is stale.
			return
		default:
			// Reuse the slot for this epoch: drop what it held.
			if slot.CompareAndSwap(w, tag<<tagShift|delta) {
				return
			}
		}
	}
}

// ahead reports whether a slot's tag is a few rotations later than a
// writer's tag: only a writer that stalled between reading the clock and
// writing sees that. Any other mismatch is an older epoch, however long ago
// (a plain "half the tag space" comparison would, after 2^23 idle epochs,
// take an old tag for a later one and drop writes until it wrapped again).
func ahead(slotTag, tag uint64) bool {
	d := (slotTag - tag) & tagMask
	return d != 0 && d <= staleLimit
}

func saturatingAdd(w uint64, failed bool) uint64 {
	if requestsOf(w) < countMax {
		w++
	}
	if failed && failuresOf(w) < countMax {
		w += failUnit
	}
	return w
}

// sum returns the requests and failures of epochs e-numBuckets+1 .. e: the
// current, partial bucket and the nine before it. A sample therefore counts
// for at least 9/10 of Window and never for longer than Window.
func (win *window) sum(e int64) (requests, failures uint64) {
	for k := range int64(numBuckets) {
		ek := e - k
		if ek < 0 {
			break
		}
		w := win.buckets[ek%numBuckets].Load()
		if w>>tagShift == tagOf(ek) {
			requests += requestsOf(w)
			failures += failuresOf(w)
		}
	}
	return requests, failures
}

// clear forgets every count (the circuit has just closed in epoch e). The
// slots get empty words stamped with an epoch before the window, which
// every later writer sees as older.
func (win *window) clear(e int64) {
	empty := tagOf(e-numBuckets) << tagShift
	for i := range win.buckets {
		win.buckets[i].Store(empty)
	}
}
