package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactPct is the nearest-rank pct-th percentile of sorted, in ms.
func exactPct(sorted []time.Duration, pct uint64) float64 {
	r := nearestRank(uint64(len(sorted)), pct)
	return float64(sorted[r-1]) / 1e6
}

func within(got, want, rel float64) bool { return math.Abs(got-want) <= rel*want }

// TestSharedRoundTrip: a Series encoded and decoded gives the Summary of
// the Series itself.
func TestSharedRoundTrip(t *testing.T) {
	var s Series
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		st := []int{200, 201, 302, 404, 503, 101, 0}[i%7]
		s.Record(st, time.Duration(r.ExpFloat64()*float64(3*time.Millisecond)))
	}
	b := s.AppendShared(nil)
	var m Merged
	if err := m.DecodeShared(b); err != nil {
		t.Fatal(err)
	}
	if got, want := m.Summary(), s.Summary(); got != want {
		t.Fatalf("decoded summary %+v\nwant %+v", got, want)
	}
	if len(b) > 8<<10 {
		t.Errorf("encoded value is %d bytes for one latency distribution, want a few KiB", len(b))
	}
	var empty Series
	if err := m.DecodeShared(empty.AppendShared(nil)); err != nil || m.Summary() != (Summary{}) {
		t.Errorf("empty series: %v %+v", err, m.Summary())
	}
}

// TestMergedPercentiles: three replicas with different latency
// distributions; the merged p50/p95/p99 are within 1% of the exact
// percentiles over the union of their samples, counts and average exact.
func TestMergedPercentiles(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	dists := []func() time.Duration{
		func() time.Duration { return time.Duration(r.ExpFloat64() * float64(2*time.Millisecond)) }, // exponential, mean 2ms
		func() time.Duration {
			return time.Duration(math.Exp(r.NormFloat64()*0.8) * float64(10*time.Millisecond))
		}, // log-normal around 10ms
		func() time.Duration { return time.Duration(50+r.IntN(250)) * time.Millisecond }, // uniform 50-300ms
	}
	var all []time.Duration
	var total Merged
	var sum time.Duration
	for i, d := range dists {
		var s Series
		for j := range 20000 + 7000*i {
			v := d()
			s.Record([]int{200, 500}[j%2], v)
			all = append(all, v)
			sum += v
		}
		var m Merged
		if err := m.DecodeShared(s.AppendShared(nil)); err != nil {
			t.Fatal(err)
		}
		total.Add(&m)
	}
	slices.Sort(all)
	got := total.Summary()
	if got.Count() != uint64(len(all)) || got.Success != uint64(len(all)+1)/2 {
		t.Errorf("merged counts %d (%d success), want %d", got.Count(), got.Success, len(all))
	}
	if want := float64(sum) / float64(len(all)) / 1e6; !within(got.AverageMs, want, 1e-9) {
		t.Errorf("merged average %.6f, want %.6f", got.AverageMs, want)
	}
	for _, c := range []struct {
		pct uint64
		got float64
	}{{50, got.P50Ms}, {95, got.P95Ms}, {99, got.P99Ms}} {
		want := exactPct(all, c.pct)
		if !within(c.got, want, 0.01) {
			t.Errorf("merged p%d = %.4f ms, exact %.4f ms: off by more than 1%%", c.pct, c.got, want)
		}
	}
	if want := float64(all[len(all)-1]) / 1e6; got.MaxMs != want {
		t.Errorf("merged max %v, want %v", got.MaxMs, want)
	}
}

// TestDecodeSharedRejects: garbage, truncation and indexes past the
// geometry are errors, never a panic.
func TestDecodeSharedRejects(t *testing.T) {
	var s Series
	s.Record(200, time.Millisecond)
	good := s.AppendShared(nil)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, good[1:]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(slices.Clone(good), 0),
		"index":     append(append([]byte{sharedVersion}, make([]byte, numSlots+2)...), 1, 0xff, 0xff, 0x03, 1),
		"too many":  append(append([]byte{sharedVersion}, make([]byte, numSlots+2)...), 0xff, 0xff, 0x03),
	} {
		var m Merged
		if err := m.DecodeShared(b); !errors.Is(err, ErrBadShared) {
			t.Errorf("%s: err %v, want ErrBadShared", name, err)
		}
	}
}

// BenchmarkAppendShared is what a replica spends once a second to encode
// its figures for the cluster: it reads every bucket once.
func BenchmarkAppendShared(b *testing.B) {
	var s Series
	r := rand.New(rand.NewPCG(1, 1))
	for range 100000 {
		s.Record(200, time.Duration(math.Exp(r.NormFloat64())*float64(time.Millisecond)))
	}
	b.ReportAllocs()
	buf := make([]byte, 0, 8192)
	for b.Loop() {
		buf = s.AppendShared(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "bytes/value")
}
