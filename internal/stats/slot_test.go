package stats

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

func TestSlotBucketGeometry(t *testing.T) {
	if got := slotBucketIndex(maxValue) + 1; got != numSlotBuckets {
		t.Fatalf("numSlotBuckets = %d, want slotBucketIndex(maxValue)+1 = %d", numSlotBuckets, got)
	}
	// Buckets tile 0..maxValue without gaps or overlaps; from bucket
	// slotSubCount on none is wider than 1/16 of its lower bound.
	var next uint64
	for i := range numSlotBuckets {
		lo, width := slotBucketBounds(i)
		if lo != next {
			t.Fatalf("slot bucket %d starts at %d, want %d", i, lo, next)
		}
		if i >= slotSubCount && width*slotSubCount > lo {
			t.Fatalf("slot bucket %d [%d, +%d) is wider than 1/%d of its start", i, lo, width, slotSubCount)
		}
		next = lo + width
	}
	if next <= maxValue {
		t.Fatalf("slot buckets end at %d, below maxValue %d", next, maxValue)
	}
	// The package doc's memory figures: a slot fits the 2 KiB size class.
	if size := unsafe.Sizeof(slot{}); size > 2048 {
		t.Fatalf("slot is %d bytes, want <= 2048", size)
	}
}

// withinSlotBound reports whether got is within the documented accuracy of
// a window percentile whose exact value is want: 1/32, or 512 ns.
func withinSlotBound(got, want uint64) bool {
	diff := max(got, want) - min(got, want)
	return diff <= 512 || diff*32 <= want
}

func TestSlotBucketRoundTrip(t *testing.T) {
	values := []uint64{0, 1, 511, 512, 1023, 1024, 1025, 16383, 16384, 16385, 17000,
		uint64(time.Millisecond), uint64(time.Second), maxValue - 1, maxValue}
	for shift := range 42 {
		p := uint64(1) << shift
		values = append(values, p-1, p, p+1)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		values = append(values, rng.Uint64N(maxValue+1))
	}
	for _, v := range values {
		if v > maxValue {
			continue
		}
		i := slotBucketIndex(v)
		lo, width := slotBucketBounds(i)
		if v < lo || v >= lo+width {
			t.Fatalf("value %d: slot bucket %d is [%d, %d)", v, i, lo, lo+width)
		}
		if rep := slotBucketValue(i); !withinSlotBound(rep, v) {
			t.Fatalf("value %d: reported %d, off by more than 1/32 and 512 ns", v, rep)
		}
	}
}
