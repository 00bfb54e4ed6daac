package stats

import (
	"sync"
	"time"
)

// Store holds the gateway-wide Series and one Series per route and per
// backend name. main builds one Store and passes it to whatever compiles the
// routing table; it outlives every table, so a route keeps its figures across
// config reloads. Series are never removed: their number is bounded by the
// names that ever appeared in a config.
//
// Route and Backend take a mutex and are meant for table-compile time; the
// request path holds the returned *Series and calls Record on it lock-free.
type Store struct {
	global *Series

	mu       sync.Mutex
	routes   map[string]*Series
	backends map[string]*Series
	breakers func(backend string) any
}

// SetBreakerSource makes /stats show, under backends.NAME.breaker, what f
// returns for NAME (nil: nothing). f must be safe for concurrent use.
func (s *Store) SetBreakerSource(f func(backend string) any) {
	s.mu.Lock()
	s.breakers = f
	s.mu.Unlock()
}

func (s *Store) breakerSource() func(string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.breakers
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		global:   new(Series),
		routes:   make(map[string]*Series),
		backends: make(map[string]*Series),
	}
}

// Global returns the Series of every request the gateway answered.
func (s *Store) Global() *Series { return s.global }

// Route returns the Series of the route with this name (its path_prefix),
// creating it on first use. The same name always returns the same Series.
func (s *Store) Route(name string) *Series { return s.getOrCreate(s.routes, name) }

// Backend returns the Series of the backend with this name, creating it on
// first use. The same name always returns the same Series.
func (s *Store) Backend(name string) *Series { return s.getOrCreate(s.backends, name) }

func (s *Store) getOrCreate(m map[string]*Series, name string) *Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	ser, ok := m[name]
	if !ok {
		ser = new(Series)
		m[name] = ser
	}
	return ser
}

// Snapshot is the Summary of every Series of a Store.
type Snapshot struct {
	Global   Summary
	Routes   map[string]Summary
	Backends map[string]Summary
}

// Snapshot summarises every Series. The maps are never nil. The Store's
// mutex is held only to list the Series, not while summarising them.
func (s *Store) Snapshot() Snapshot {
	return s.snapshot((*Series).Summary)
}

// WindowSnapshot is Snapshot over the last d only: every Series' Window(d),
// all read at the same clock time (see Series.Window for the clamping and
// rounding of d).
func (s *Store) WindowSnapshot(d time.Duration) Snapshot {
	now := time.Now()
	return s.snapshot(func(ser *Series) Summary { return ser.win.summary(now, d) })
}

func (s *Store) snapshot(summarise func(*Series) Summary) Snapshot {
	type named struct {
		name string
		ser  *Series
	}
	s.mu.Lock()
	routes := make([]named, 0, len(s.routes))
	for n, ser := range s.routes {
		routes = append(routes, named{n, ser})
	}
	backends := make([]named, 0, len(s.backends))
	for n, ser := range s.backends {
		backends = append(backends, named{n, ser})
	}
	s.mu.Unlock()

	snap := Snapshot{
		Global:   summarise(s.global),
		Routes:   make(map[string]Summary, len(routes)),
		Backends: make(map[string]Summary, len(backends)),
	}
	for _, r := range routes {
		snap.Routes[r.name] = summarise(r.ser)
	}
	for _, b := range backends {
		snap.Backends[b.name] = summarise(b.ser)
	}
	return snap
}
