package cache

import (
	"context"
	"net/http"
	"time"
)

// look is what a lookup found for one request.
type look struct {
	fresh *entry // may answer the request now
	stale *entry // expired, but may stand in for a failed fetch
	fwd   string // why the request goes forward, when fresh is nil
}

// role is what a request does after joining the flights of its key.
type role uint8

const (
	hitRole      role = iota // a fresh entry appeared: answer from it
	leaderRole               // fetch, store, then wake the followers
	followerRole             // wait for the leader
	aloneRole                // fetch without a flight
)

// lookup classifies the entry for the request (header h, flags q) under
// primary key p, holding sh's read lock.
func (s *Store) lookup(sh *shard, p []byte, h http.Header, q reqFlags, now time.Time) look {
	sh.mu.RLock()
	l, _ := classify(sh, p, h, q, now)
	sh.mu.RUnlock()
	return l
}

// classify finds and judges the request's entry, and returns the key it
// was looked up by (the primary key grown by Vary values, in p's backing
// array: kept apart from look so that a look does not pin the caller's key
// buffer to the heap). Call with sh.mu held.
func classify(sh *shard, p []byte, h http.Header, q reqFlags, now time.Time) (look, []byte) {
	e, full, fwd := sh.find(p, h)
	l := look{fwd: fwd}
	if e == nil {
		return l, full
	}
	ttl := e.ttl(now)
	switch {
	case q.noCache || (q.auth && !e.shared):
		l.fwd = fwdRequest
	case ttl > 0 && q.maxAge >= 0 && e.currentAge(now) > seconds(q.maxAge):
		l.fwd = fwdRequest
	case ttl > 0:
		l.fresh = e
		e.touch()
	case -ttl <= e.staleFor:
		l.stale, l.fwd = e, fwdStale
	default:
		l.fwd = fwdStale // past its stale window: as good as absent
	}
	return l, full
}

// join looks the request up again under sh's write lock. It returns the
// fresh entry a flight stored meanwhile (hitRole), the flight under way for
// the key (followerRole; aloneRole for a no-cache request, which wants its
// own fetch), or a new flight registered under key for the caller to lead
// and land.
func (s *Store) join(sh *shard, p []byte, h http.Header, q reqFlags, now time.Time) (l look, f *flight, key string, r role) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l, full := classify(sh, p, h, q, now)
	switch {
	case l.fresh != nil:
		return l, nil, "", hitRole
	case sh.flights[string(full)] != nil:
		if q.noCache {
			return l, nil, "", aloneRole
		}
		return l, sh.flights[string(full)], "", followerRole
	}
	f = &flight{done: make(chan struct{})}
	key = string(full)
	sh.flights[key] = f
	return l, f, key, leaderRole
}

// wait blocks until f lands (true) or ctx is done (false).
func (s *Store) wait(ctx context.Context, f *flight) bool {
	if s.waitHook != nil {
		s.waitHook()
	}
	select {
	case <-f.done:
		return true
	case <-ctx.Done():
		return false
	}
}
