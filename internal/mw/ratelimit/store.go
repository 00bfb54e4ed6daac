package ratelimit

import (
	"crypto/sha256"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

const (
	// expireSample is how many buckets a new key looks at, to drop full
	// ones, while its shard is under its cap.
	expireSample = 2
	// evictSample is how many buckets a new key looks at when its shard is
	// at its cap; one of them is dropped.
	evictSample = 8
	// idleGrace is how long a bucket stays after it is full again, so that
	// a client calling now and then keeps its bucket instead of making a new
	// one per visit.
	idleGrace = time.Minute
)

// shard is one lock's worth of buckets: one map per (tier, key kind).
type shard struct {
	mu   sync.Mutex
	maps []map[string]*rate.Limiter // guarded by mu
	n    int                        // buckets in maps; guarded by mu
	// limited and evicted are counters read by metrics.
	limited atomic.Uint64
	evicted atomic.Uint64
	// Keeps the hot fields of neighbouring shards off one cache line.
	_ [64]byte
}

func (s *shard) init(nmaps int) {
	s.maps = make([]map[string]*rate.Limiter, nmaps)
	for i := range s.maps {
		s.maps[i] = make(map[string]*rate.Limiter)
	}
}

// shardFor returns the shard of a client key.
func (l *Limiter) shardFor(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)&uint64(len(l.shards)-1)]
}

// bucket returns the bucket of key in map slot of s, making it when new.
func (l *Limiter) bucket(s *shard, slot int, key string, now time.Time) *rate.Limiter {
	s.mu.Lock()
	b := s.maps[slot][key]
	if b == nil {
		b = l.insert(s, slot, key, now)
	}
	s.mu.Unlock()
	return b
}

// insert makes room if needed and adds a full bucket for key. s.mu is held.
func (l *Limiter) insert(s *shard, slot int, key string, now time.Time) *rate.Limiter {
	if s.n >= l.shardCap {
		l.sweep(s, now, evictSample, true)
	} else {
		l.sweep(s, now, expireSample, false)
	}
	t := l.bySlot[slot/2]
	b := rate.NewLimiter(t.perSec, t.burst)
	// The key may point into a larger buffer (a header block): keep a copy.
	s.maps[slot][strings.Clone(key)] = b
	s.n++
	return b
}

// sweep looks at up to n buckets of s, from a random map and a random
// position in it, and drops those that have been full (as good as new) for
// idleGrace. When force is set and none was dropped, it drops the one
// closest to full: the bucket whose loss hands its client the fewest free
// tokens (none when it is full). s.mu is held.
func (l *Limiter) sweep(s *shard, now time.Time, n int, force bool) {
	if s.n == 0 {
		return
	}
	var (
		victimMap map[string]*rate.Limiter
		victimKey string
		victimGap = math.Inf(1)
		dropped   bool
	)
	// TokensAt before the bucket's last update returns the tokens left by
	// that update, never a full bucket; so "full at now-idleGrace" means
	// untouched and full for at least idleGrace.
	idleSince := now.Add(-idleGrace)
	start := rand.IntN(len(s.maps))
	for i := 0; i < len(s.maps) && n > 0; i++ {
		slot := (start + i) % len(s.maps)
		m := s.maps[slot]
		burst := float64(l.bySlot[slot/2].burst)
		for k, b := range m {
			if n == 0 {
				break
			}
			n--
			if b.TokensAt(idleSince) >= burst {
				delete(m, k)
				s.n--
				dropped = true
				continue
			}
			if gap := burst - b.TokensAt(now); gap < victimGap {
				victimMap, victimKey, victimGap = m, k, gap
			}
		}
	}
	if force && !dropped && victimMap != nil {
		delete(victimMap, victimKey)
		s.n--
		if victimGap > 0 {
			s.evicted.Add(1)
		}
	}
}

// boundKey returns key, or a fixed-size digest of it when it is longer than
// MaxKeyLen. The digest starts with a NUL, which no header value contains,
// so it cannot collide with a key sent as is.
func boundKey(key string) string {
	if len(key) <= MaxKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "\x00" + string(sum[:])
}
