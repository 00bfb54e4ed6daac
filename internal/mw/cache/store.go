package cache

import (
	"hash/maphash"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rgate/rgate/internal/config"
)

const (
	maxShards     = 16
	minShardBytes = 1 << 20
	// entryOverhead estimates the bytes of the entry struct, its map slots
	// and slice headers that len() does not see.
	entryOverhead = 256
	// valueOverhead estimates the string and slice headers of one stored
	// header value.
	valueOverhead = 32
)

// Store is one route's cache: its entries, its in-flight fetches and its
// counters. Keep it across routing-table swaps while the route's cache
// config is unchanged. It is safe for concurrent use.
type Store struct {
	ttl      time.Duration
	staleFor time.Duration
	maxBytes int64
	maxEntry int64
	seed     maphash.Seed
	mask     uint64
	shards   []shard

	entries, bytes atomic.Int64

	// waitHook, when set (tests only), runs when a request starts waiting
	// for another request's fetch.
	waitHook func()
}

// Stats are a Store's counters. Hits include collapsed requests; Misses
// count answers that came from the next handler; Stale counts stale entries
// served instead of an error. Entries and Bytes are the current contents.
type Stats struct {
	Hits, Misses, Stale, Entries, Bytes uint64
}

// shard is one lock's worth of the store. Its list runs from head (newest)
// to tail (next eviction candidate).
type shard struct {
	mu      sync.RWMutex
	items   map[string]*entry  // full key -> entry
	specs   map[string]*spec   // primary key -> Vary names of its entries
	flights map[string]*flight // full key at lookup -> fetch under way
	head    *entry
	tail    *entry
	bytes   int64
	max     int64

	// Counters live per shard so hits on different URLs do not all add
	// to one cache line.
	hits, misses, stale atomic.Uint64
	_                   [64]byte // keep neighbouring shards apart
}

// spec is the Vary header names recorded for a primary key, and how many
// entries use it.
type spec struct {
	vary []string
	n    int
}

// flight is a fetch that other requests for the same key wait for.
type flight struct {
	done   chan struct{}
	result result // written before done is closed
	status int    // the leader's answer status
}

type result uint8

const (
	notStored result = iota
	stored
	failed // the answer was a 5xx
)

// NewStore returns an empty store for cfg. Zero values take the defaults of
// config.Cache: ttl 60s, max_bytes 64MiB, stale_if_error 1h.
func NewStore(cfg config.Cache) *Store {
	s := &Store{
		ttl:      cfg.TTL.D(),
		staleFor: cfg.StaleIfError.D(),
		maxBytes: int64(cfg.MaxBytes),
		seed:     maphash.MakeSeed(),
	}
	if s.ttl <= 0 {
		s.ttl = config.DefaultCacheTTL
	}
	if s.staleFor <= 0 {
		s.staleFor = config.DefaultStaleIfError
	}
	if s.maxBytes <= 0 {
		s.maxBytes = int64(config.DefaultCacheMaxBytes)
	}
	n := 1
	for n < maxShards && int64(n*2)*minShardBytes <= s.maxBytes {
		n *= 2
	}
	s.mask = uint64(n - 1)
	s.shards = make([]shard, n)
	per := s.maxBytes / int64(n)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.max = per
		sh.items = make(map[string]*entry)
		sh.specs = make(map[string]*spec)
		sh.flights = make(map[string]*flight)
	}
	s.maxEntry = min(s.maxBytes/8, per/2)
	return s
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	st := Stats{
		Entries: uint64(max(s.entries.Load(), 0)),
		Bytes:   uint64(max(s.bytes.Load(), 0)),
	}
	for i := range s.shards {
		sh := &s.shards[i]
		st.Hits += sh.hits.Load()
		st.Misses += sh.misses.Load()
		st.Stale += sh.stale.Load()
	}
	return st
}

func (s *Store) shardFor(primary []byte) *shard {
	return &s.shards[maphash.Bytes(s.seed, primary)&s.mask]
}

func (s *Store) shardForKey(primary string) *shard {
	return &s.shards[maphash.String(s.seed, primary)&s.mask]
}

// find returns the entry of the request with header h under primary key p,
// with the full key it was looked up by (p's backing array grows into it),
// and why it missed when it did. Call with sh.mu held (read or write).
func (sh *shard) find(p []byte, h http.Header) (*entry, []byte, string) {
	sp := sh.specs[string(p)]
	if sp == nil {
		return nil, p, fwdURIMiss
	}
	full := appendVariant(p, sp.vary, h)
	e := sh.items[string(full)]
	if e == nil {
		return nil, full, fwdVaryMiss
	}
	return e, full, ""
}

// insert stores e, replacing the entry under the same key and evicting
// until the shard is within its share.
func (s *Store) insert(e *entry) {
	sh := s.shardForKey(e.key[:e.plen])
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e.size > sh.max {
		return
	}
	if old := sh.items[e.key]; old != nil {
		s.remove(sh, old)
	}
	s.evict(sh, e.size)
	primary := e.key[:e.plen]
	sp := sh.specs[primary]
	if sp == nil || !slices.Equal(sp.vary, e.vary) {
		sp = &spec{vary: e.vary}
		sh.specs[primary] = sp
	}
	sp.n++
	e.spec = sp
	sh.items[e.key] = e
	sh.pushFront(e)
	sh.bytes += e.size
	s.bytes.Add(e.size)
	s.entries.Add(1)
}

// evict makes room for need bytes in sh (CLOCK: a referenced tail entry
// moves to the front with its bit cleared; an unreferenced one goes). Call
// with sh.mu held for writing; no reader can set a bit meanwhile, so each
// entry moves at most once and the loop ends.
func (s *Store) evict(sh *shard, need int64) {
	for sh.bytes+need > sh.max && sh.tail != nil {
		e := sh.tail
		if e.ref.Load() {
			e.ref.Store(false)
			sh.unlink(e)
			sh.pushFront(e)
			continue
		}
		s.remove(sh, e)
	}
}

// remove drops e from sh. Call with sh.mu held for writing.
func (s *Store) remove(sh *shard, e *entry) {
	sh.unlink(e)
	if sh.items[e.key] == e {
		delete(sh.items, e.key)
	}
	sh.bytes -= e.size
	s.bytes.Add(-e.size)
	s.entries.Add(-1)
	e.spec.n--
	if primary := e.key[:e.plen]; e.spec.n == 0 && sh.specs[primary] == e.spec {
		delete(sh.specs, primary)
	}
}

// land ends flight f under key: followers wake and read res.
func (sh *shard) land(key string, f *flight, res result, status int) {
	sh.mu.Lock()
	if sh.flights[key] == f {
		delete(sh.flights, key)
	}
	sh.mu.Unlock()
	f.result, f.status = res, status
	close(f.done)
}

func (sh *shard) pushFront(e *entry) {
	e.prev, e.next = nil, sh.head
	if sh.head != nil {
		sh.head.prev = e
	}
	sh.head = e
	if sh.tail == nil {
		sh.tail = e
	}
}

func (sh *shard) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		sh.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		sh.tail = e.prev
	}
	e.prev, e.next = nil, nil
}
