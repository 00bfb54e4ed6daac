package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// overLimit remembers, per replica, the cluster buckets Redis found empty
// and until when: a bucket refused at t with Retry-After r has no token
// before t+r whatever the other replicas do (they can only take more), so
// refusing it here until then is the answer Redis would give, without
// asking. It keeps a client hammering an empty bucket from costing Redis a
// command per refused request (envoyproxy/ratelimit keeps the same cache).
// Times are monotonic, from the replica's clock; only durations Redis
// computed are added to them, so clock skew does not enter.
type overLimit struct {
	seed     maphash.Seed
	epoch    time.Time
	shards   []overShard
	shardCap int
}

type overShard struct {
	mu sync.Mutex
	m  map[string]denial // guarded by mu
	_  [40]byte          // keeps neighbouring shards' locks off one cache line
}

// denial is one empty bucket: no token before until; full at full
// (nanoseconds since epoch).
type denial struct{ until, full int64 }

// overSample is how many entries an insert into a full shard looks at.
const overSample = 8

func newOverLimit(maxKeys int) *overLimit {
	n := maxShards
	for n > 1 && maxKeys/n < minShardKeys {
		n /= 2
	}
	o := &overLimit{seed: maphash.MakeSeed(), epoch: time.Now(), shards: make([]overShard, n), shardCap: max(maxKeys/n, 1)}
	for i := range o.shards {
		o.shards[i].m = make(map[string]denial)
	}
	return o
}

func (o *overLimit) now() int64 { return int64(time.Since(o.epoch)) }

func (o *overLimit) shard(key string) *overShard {
	return &o.shards[maphash.String(o.seed, key)&uint64(len(o.shards)-1)]
}

// get returns key's denial when it still holds at now.
func (o *overLimit) get(key string, now int64) (denial, bool) {
	s := o.shard(key)
	s.mu.Lock()
	d, ok := s.m[key]
	if ok && now >= d.until {
		delete(s.m, key)
		ok = false
	}
	s.mu.Unlock()
	return d, ok
}

// put remembers that key has no token for retry and is full in full.
func (o *overLimit) put(key string, now int64, retry, full time.Duration) {
	s := o.shard(key)
	s.mu.Lock()
	if _, ok := s.m[key]; !ok && len(s.m) >= o.shardCap {
		o.evict(s, now)
	}
	s.m[key] = denial{until: now + int64(retry), full: now + int64(full)}
	s.mu.Unlock()
}

// evict drops the lapsed entries among a few of s, or one of them when
// none has lapsed (losing a denial costs one Redis call). s.mu is held.
func (o *overLimit) evict(s *overShard, now int64) {
	n, dropped := 0, false
	var victim string
	for k, d := range s.m {
		if now >= d.until {
			delete(s.m, k)
			dropped = true
		}
		victim = k
		if n++; n == overSample {
			break
		}
	}
	if !dropped {
		delete(s.m, victim)
	}
}
