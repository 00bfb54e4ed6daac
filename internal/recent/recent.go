// Package recent keeps the last requests the gateway answered in a fixed
// ring, for /requests and the dashboard. Adding is lock-free apart from a
// per-slot mutex that only a reader of that same slot can contend on, and
// allocates nothing: a record holds the request's strings by reference.
package recent

import (
	"sync"
	"sync/atomic"
	"time"
)

// Record is one finished request.
type Record struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Route     string    `json:"route"`
	Backend   string    `json:"backend"`
	Container string    `json:"container"`
	Upstream  string    `json:"upstream"`
	Status    int       `json:"status"`
	LatencyMs float64   `json:"latency_ms"`
	Cache     string    `json:"cache"`
	Retries   int       `json:"retries"`
	// Consumer is the authenticated caller ("" when anonymous).
	Consumer string `json:"consumer,omitempty"`
}

// Ring holds the last Size records.
type Ring struct {
	next  atomic.Uint64
	slots []slot
}

type slot struct {
	mu  sync.Mutex
	seq uint64 // 1 + the position written last; 0 = never written
	rec Record
}

// New returns a ring of size records (at least 1).
func New(size int) *Ring {
	return &Ring{slots: make([]slot, max(size, 1))}
}

// Add stores rec, overwriting the oldest record when the ring is full.
func (r *Ring) Add(rec *Record) {
	pos := r.next.Add(1) - 1
	s := &r.slots[pos%uint64(len(r.slots))]
	s.mu.Lock()
	if pos+1 > s.seq { // a slower writer of an older lap must not win
		s.seq = pos + 1
		s.rec = *rec
	}
	s.mu.Unlock()
}

// Last returns up to n records, newest first.
func (r *Ring) Last(n int) []Record {
	end := r.next.Load()
	n = min(n, len(r.slots), int(end))
	out := make([]Record, 0, n)
	for pos := end; pos > end-uint64(n); pos-- {
		s := &r.slots[(pos-1)%uint64(len(r.slots))]
		s.mu.Lock()
		if s.seq == pos {
			out = append(out, s.rec)
		}
		s.mu.Unlock()
	}
	return out
}
