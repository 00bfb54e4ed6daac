package breaker

import "testing"

func TestWindow(t *testing.T) {
	t.Parallel()
	type rec struct {
		epoch  int64
		failed bool
	}
	const far = 9_000_000 // slot 0 again; its tag is more than half the tag space on
	for _, tc := range []struct {
		name              string
		clearAt           int64 // clear first when > 0
		recs              []rec
		at                int64
		wantReqs, wantFai uint64
	}{
		{"empty", 0, nil, 0, 0, 0},
		{"one bucket", 0, []rec{{0, true}, {0, false}, {0, true}}, 0, 3, 2},
		{"ten buckets", 0, []rec{{0, true}, {5, false}, {9, true}}, 9, 3, 2},
		{"oldest bucket leaves", 0, []rec{{0, true}, {5, false}, {9, true}}, 10, 2, 1},
		{"reused slot drops old counts", 0, []rec{{3, true}, {3, true}, {13, false}}, 13, 1, 0},
		{"stalled writer keeps newer counts", 0, []rec{{13, false}, {3, true}}, 13, 1, 0},
		{"slot idle half the tag space", 0, []rec{{0, true}, {far, false}}, far, 1, 0},
		{"after clear near the tag wrap", tagMask - 2, []rec{{tagMask - 1, true}, {tagMask + 1, true}}, tagMask + 1, 2, 2},
		{"after clear far on", far, []rec{{far, true}}, far, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var w window
			if tc.clearAt > 0 {
				w.clear(tc.clearAt)
			}
			for _, r := range tc.recs {
				w.record(r.epoch, r.failed)
			}
			reqs, fails := w.sum(tc.at)
			if reqs != tc.wantReqs || fails != tc.wantFai {
				t.Errorf("sum(%d) = %d requests, %d failures; want %d, %d", tc.at, reqs, fails, tc.wantReqs, tc.wantFai)
			}
		})
	}
}

func TestWindowSaturates(t *testing.T) {
	t.Parallel()
	var w window
	w.buckets[0].Store(tagOf(0)<<tagShift | (countMax-1)<<countBits | (countMax - 1))
	for range 3 {
		w.record(0, true)
	}
	reqs, fails := w.sum(0)
	if reqs != countMax || fails != countMax {
		t.Errorf("saturated bucket = %d requests, %d failures; want %d each", reqs, fails, countMax)
	}
	if got := w.buckets[0].Load() >> tagShift; got != tagOf(0) {
		t.Errorf("counts carried into the tag: %#x", got)
	}
}
