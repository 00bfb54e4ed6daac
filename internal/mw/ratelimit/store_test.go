package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rgate/rgate/internal/config"
)

// TestFloodIsBounded sends 200k distinct client keys at a limiter capped at
// 1000: the map never holds more than the cap, and the heap does not grow
// with the number of keys seen.
func TestFloodIsBounded(t *testing.T) {
	// Not parallel: it measures the heap.
	const maxKeys, keys = 1000, 200_000
	l, h := newTest(config.RateLimit{Key: "header:X-User-ID", MaxKeys: maxKeys, Default: rateCfg(10, time.Minute, 0)})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	w := httptest.NewRecorder()
	for i := range keys {
		r.Header.Set("X-User-ID", "user-"+strconv.Itoa(i))
		clear(w.Header())
		h.ServeHTTP(w, r)
		if i%10_000 == 0 && l.Len() > maxKeys {
			t.Fatalf("after %d keys: Len() = %d > %d", i, l.Len(), maxKeys)
		}
	}
	if n := l.Len(); n > maxKeys || n < maxKeys/2 {
		t.Errorf("Len() = %d, want about %d (at most)", n, maxKeys)
	}
	if l.Evicted() == 0 {
		t.Error("Evicted() = 0 after a flood")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// 200k buckets would take over 20 MB; 1000 take about 200 KB.
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d keys: Len %d, Evicted %d, heap grew %d bytes", keys, l.Len(), l.Evicted(), grown)
	if grown > 4<<20 {
		t.Errorf("heap grew by %d bytes for %d keys", grown, keys)
	}
	runtime.KeepAlive(l)
}

// TestEvictionKeepsBusyClients fills a one-shard limiter (max_keys 8, so
// every sample covers the whole shard): new keys evict the buckets closest
// to full, never the exhausted one, and full buckets are dropped for free.
func TestEvictionKeepsBusyClients(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l, h := newTest(config.RateLimit{Key: "header:K", MaxKeys: 8, Default: rateCfg(10, 10*time.Second, 0)})
		if len(l.shards) != 1 || l.shardCap != 8 {
			t.Fatalf("%d shards of %d keys, want 1 of 8", len(l.shards), l.shardCap)
		}
		for range 10 {
			send(h, "10.0.0.1:1", "K", "hot")
		}
		for i := range 7 {
			send(h, "10.0.0.1:1", "K", "cold-"+strconv.Itoa(i))
		}
		for i := range 20 {
			send(h, "10.0.0.1:1", "K", "new-"+strconv.Itoa(i))
			if n := l.Len(); n != 8 {
				t.Fatalf("Len() = %d, want 8", n)
			}
		}
		if got := l.Evicted(); got != 20 {
			t.Errorf("Evicted() = %d, want 20", got)
		}
		if a := send(h, "10.0.0.1:1", "K", "hot"); a.status != http.StatusTooManyRequests {
			t.Fatalf("hot client: status %d, want 429 (its bucket was evicted)", a.status)
		}

		time.Sleep(10 * time.Second) // every bucket is full again
		send(h, "10.0.0.1:1", "K", "fresh-1")
		if got, n := l.Evicted(), l.Len(); got != 20 || n != 8 {
			t.Errorf("Evicted() = %d, Len() = %d after dropping a full bucket, want 20 and 8", got, n)
		}
		time.Sleep(idleGrace) // and has been full for idleGrace: idle
		send(h, "10.0.0.1:1", "K", "fresh-2")
		// fresh-1 is full, but only for idleGrace-1s: kept.
		if got, n := l.Evicted(), l.Len(); got != 20 || n != 2 {
			t.Errorf("Evicted() = %d, Len() = %d after dropping idle buckets, want 20 and 2", got, n)
		}
	})
}

// TestIdleBucketsExpire: below the cap, new keys drop buckets that have
// been idle long enough to be full again.
func TestIdleBucketsExpire(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l, h := newTest(config.RateLimit{Key: "header:K", MaxKeys: 100_000, Default: rateCfg(10, time.Minute, 0)})
		for i := range 2000 {
			send(h, "10.0.0.1:1", "K", "old-"+strconv.Itoa(i))
		}
		time.Sleep(6 * time.Second) // one token's refill: the old buckets are full
		for i := range 1000 {
			send(h, "10.0.0.1:1", "K", "full-"+strconv.Itoa(i))
		}
		if n := l.Len(); n != 3000 {
			t.Errorf("Len() = %d, want 3000: buckets are kept for idleGrace after they are full", n)
		}
		time.Sleep(idleGrace)
		for i := range 2000 {
			send(h, "10.0.0.1:1", "K", "new-"+strconv.Itoa(i))
		}
		n := l.Len()
		t.Logf("Len() = %d", n)
		if n > 4000 {
			t.Errorf("Len() = %d, want idle buckets dropped (at most 4000 of 5000)", n)
		}
		if got := l.Evicted(); got != 0 {
			t.Errorf("Evicted() = %d, want 0 below the cap", got)
		}
	})
}

// TestConcurrent hammers one key and many keys from many goroutines; with
// time standing still exactly burst requests of the hot key pass.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const workers, perWorker, burst = 8, 200, 100
		l := NewLimiter(config.RateLimit{Key: "header:K", MaxKeys: 64, Default: rateCfg(burst, time.Hour, 0)})
		var passed atomic.Int64
		h := New(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("K") == "hot" {
				passed.Add(1)
			}
		}))
		var wg sync.WaitGroup
		for g := range workers {
			wg.Go(func() {
				for i := range perWorker {
					send(h, "10.0.0.1:1", "K", "hot")
					send(h, "10.0.0."+strconv.Itoa(g)+":1", "K", "k-"+strconv.Itoa(g*perWorker+i))
					send(h, "10.0.0."+strconv.Itoa(g)+":1")
				}
			})
		}
		wg.Wait()
		if got := passed.Load(); got != burst {
			t.Errorf("hot key passed %d times, want %d", got, burst)
		}
		if got, want := l.Limited(), uint64(workers*perWorker-burst); got < want {
			t.Errorf("Limited() = %d, want at least %d", got, want)
		}
		if n := l.Len(); n > 64 {
			t.Errorf("Len() = %d > 64", n)
		}
	})
}
