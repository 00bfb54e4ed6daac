package stats

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"
)

// TestWindowLazyAllocation: a Series that never recorded holds no slot and
// reading it allocates nothing; slots appear with traffic and, once they
// exist, neither Record nor Window allocates.
func TestWindowLazyAllocation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s Series
		if n := testing.AllocsPerRun(10, func() {
			_ = s.Window(time.Minute)
			_ = s.Window(15 * time.Minute)
			_ = s.Summary()
		}); n != 0 {
			t.Errorf("reading an idle Series allocates %v times", n)
		}
		_ = s.Timeline(5*time.Minute, 10*time.Second)
		if n := s.windowSlots(); n != 0 || s.win.base.Load() != nil {
			t.Fatalf("idle Series holds %d slots (base %v), want none", n, s.win.base.Load())
		}
		s.Record(200, time.Millisecond)
		if n := s.windowSlots(); n != 2 {
			t.Fatalf("after one Record: %d slots, want 2", n)
		}
		// The fake clock stands still: every Record lands in those slots.
		d := time.Duration(0)
		if n := testing.AllocsPerRun(1000, func() {
			d += 7919 * time.Nanosecond
			s.Record(200, d)
		}); n != 0 {
			t.Errorf("Record allocates %v times per call", n)
		}
		if n := testing.AllocsPerRun(10, func() {
			_ = s.Window(time.Minute)
			_ = s.Window(15 * time.Minute)
		}); n != 0 {
			t.Errorf("Window allocates %v times per call", n)
		}
		// Steady traffic across slices: once both rings and their spares
		// are full, time passing costs no allocation.
		t0 := time.Now()
		for sec := range 1000 {
			sleepUntil(t0.Add(time.Duration(sec) * time.Second))
			s.Record(200, time.Millisecond)
		}
		if n := testing.AllocsPerRun(100, func() {
			time.Sleep(time.Second)
			s.Record(200, time.Millisecond)
		}); n != 0 {
			t.Errorf("Record across slices allocates %v times per second", n)
		}
	})
}

// TestConcurrentRecordWindow: writers racing over slice changes (all wake
// at the same fake instant and race to rotate the slots) lose no request,
// while readers run alongside; -race checks the readers.
func TestConcurrentRecordWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const writers, seconds, perSecond = 8, 75, 50
		t0 := time.Now()
		var s Series
		var stop atomic.Bool
		done := make(chan struct{}, writers+1)
		for range writers {
			go func() {
				defer func() { done <- struct{}{} }()
				for sec := range seconds {
					sleepUntil(t0.Add(time.Duration(sec) * time.Second))
					for i := range perSecond {
						status := 200
						if i%10 == 0 {
							status = 503
						}
						s.Record(status, time.Duration(i+1)*time.Millisecond)
					}
				}
			}()
		}
		go func() {
			defer func() { done <- struct{}{} }()
			for !stop.Load() {
				_ = s.Window(time.Minute)
				_ = s.Window(5 * time.Minute)
				_ = s.Timeline(time.Minute, time.Second)
				time.Sleep(700 * time.Millisecond)
			}
		}()
		for range writers {
			<-done
		}
		stop.Store(true)
		<-done

		// Now t0+74s: fine slices 15..74 hold 60 seconds of traffic.
		perSec := uint64(writers * perSecond)
		if got, want := s.Window(15*time.Minute).Count(), uint64(seconds)*perSec; got != want {
			t.Errorf("Window(15m) = %d requests, want %d", got, want)
		}
		if got, want := s.Window(time.Minute), 60*perSec; got.Count() != want || got.Error != want/10 {
			t.Errorf("Window(1m) = %d requests, %d errors; want %d, %d", got.Count(), got.Error, want, want/10)
		}
		for i, p := range s.Timeline(time.Minute, time.Second) {
			if p.Requests != perSec || p.Errors != perSec/10 {
				t.Errorf("second %d: %d requests, %d errors; want %d, %d", i, p.Requests, p.Errors, perSec, perSec/10)
			}
		}
	})
}

// TestRotationLosesNothing hammers slice changes without a fake clock:
// writers spin until the next round opens, then all record into its fine
// slice at once, racing to put the slot in place (from round 60 on, by
// reusing a position). Every slice must count exactly what was recorded
// in it. (An in-place reset of the slot fails this within a few runs.)
func TestRotationLosesNothing(t *testing.T) {
	t.Parallel()
	const perWriter, rounds = 50, 300
	writers := max(runtime.GOMAXPROCS(0), 2)
	t0 := time.Unix(1_000_000_000, 0) // a 10s boundary
	var s Series
	var round, finished atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for r := range int64(rounds) {
				for spin := 0; round.Load() <= r; spin++ {
					if spin%1024 == 1023 {
						runtime.Gosched()
					}
				}
				now := t0.Add(time.Duration(r) * time.Second)
				for range perWriter {
					s.RecordAt(200, time.Millisecond, now)
				}
				finished.Add(1)
			}
		})
	}
	want := uint64(writers * perWriter)
	for r := range int64(rounds) {
		round.Store(r + 1)
		for finished.Load() < int64(writers)*(r+1) {
			runtime.Gosched()
		}
		now := t0.Add(time.Duration(r) * time.Second)
		if got := s.win.summary(now, time.Second).Count(); got != want {
			t.Errorf("slice %d: %d requests, want %d", r, got, want)
		}
	}
	wg.Wait()
	now := t0.Add(rounds * time.Second)
	if got, want := s.win.summary(now, 15*time.Minute).Count(), rounds*want; got != want {
		t.Errorf("coarse ring holds %d requests, want %d", got, want)
	}
}

// TestWindowMemory measures, with runtime.MemStats, what the windows of a
// Series that had traffic in every second for longer than the coarse ring
// allocate: every position of both rings plus the two spares, each a 2 KiB
// size class. TotalAlloc counts it (the fake clock's timers add a few
// bytes); HeapAlloc's growth is smaller only because the GC also freed
// earlier garbage.
func TestWindowMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := new(Series)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		for sec := range 1000 {
			sleepUntil(t0.Add(time.Duration(sec) * time.Second))
			s.Record(200, time.Duration(sec)*time.Millisecond)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		slots := s.windowSlots()
		t.Logf("idle Series: %d B; busy windows: %d slots of %d B, %d B allocated (%.1f KiB), heap grew %d B",
			unsafe.Sizeof(Series{}), slots, unsafe.Sizeof(slot{}), allocated, float64(allocated)/1024,
			int64(after.HeapAlloc)-int64(before.HeapAlloc))
		if want := fineSlots + coarseSlots + 2; slots != want {
			t.Errorf("busy Series holds %d slots, want %d", slots, want)
		}
		if allocated > 310<<10 {
			t.Errorf("busy windows allocated %d B, want <= 310 KiB", allocated)
		}
		runtime.KeepAlive(s)
	})
}
