package lb

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/upstream"
)

var policies = []string{config.BalanceRandom, config.BalanceRoundRobin, config.BalanceLeastConn}

// state is how a test upstream is set up.
type state int

const (
	ok      state = iota
	down          // actively unhealthy
	ejected       // passively ejected
)

func makeUps(states ...state) []*upstream.Upstream {
	reg := upstream.NewRegistry()
	ups := make([]*upstream.Upstream, len(states))
	for i, s := range states {
		u := reg.Get(upstream.Key{Scheme: "http", Host: "10.0.0." + strconv.Itoa(i) + ":80"})
		switch s {
		case down:
			u.SetActive(false, "test")
		case ejected:
			u.ReportConnectFailure(upstream.Passive{Threshold: 1, EjectFor: time.Hour})
		}
		ups[i] = u
	}
	return ups
}

func mask(idx ...int) uint64 {
	var m uint64
	for _, i := range idx {
		m = Tried(m, i)
	}
	return m
}

// TestPickAllowed runs every policy many times per case and checks that
// every pick is in the allowed set (and that a non-empty set is reachable).
func TestPickAllowed(t *testing.T) {
	cases := []struct {
		name   string
		states []state
		tried  uint64
		allow  []int // empty: want -1
	}{
		{"empty", nil, 0, nil},
		{"single", []state{ok}, 0, []int{0}},
		{"never active down", []state{ok, down, ok, down}, 0, []int{0, 2}},
		{"respects tried", []state{ok, ok, ok, ok}, mask(0, 2), []int{1, 3}},
		{"tried and down", []state{ok, down, ok, ok}, mask(0, 2), []int{3}},
		{"available before ejected", []state{ejected, ok, ejected}, 0, []int{1}},
		{"untried ejected before nothing", []state{ok, ejected, down}, mask(0), []int{1}},
		{"fallback to ejected", []state{ejected, down, ejected}, 0, []int{0, 2}},
		{"single ejected container", []state{ejected}, 0, []int{0}},
		{"all down", []state{down, down, down}, 0, nil},
		{"all tried", []state{ok, ok, ejected}, mask(0, 1, 2), nil},
		{"rest down", []state{ok, down, ejected}, mask(0, 2), nil},
	}
	for _, policy := range policies {
		for _, tc := range cases {
			t.Run(policy+"/"+tc.name, func(t *testing.T) {
				p, ups := New(policy), makeUps(tc.states...)
				allowed := make(map[int]bool)
				for _, i := range tc.allow {
					allowed[i] = true
				}
				seen := make(map[int]bool)
				for range 200 {
					got := p.Pick(ups, tc.tried)
					if len(tc.allow) == 0 {
						if got != -1 {
							t.Fatalf("Pick = %d, want -1", got)
						}
						continue
					}
					if !allowed[got] {
						t.Fatalf("Pick = %d, want one of %v", got, tc.allow)
					}
					seen[got] = true
				}
				if len(tc.allow) > 0 && policy != config.BalanceLeastConn && len(seen) != len(tc.allow) {
					t.Errorf("picked %v over 200 picks, want each of %v", seen, tc.allow)
				}
			})
		}
	}
}

func TestPickBeyond64(t *testing.T) {
	states := make([]state, 70)
	for _, policy := range policies {
		t.Run(policy, func(t *testing.T) {
			p, ups := New(policy), makeUps(states...)
			for range 100 {
				if got := p.Pick(ups, ^uint64(0)); got < 64 {
					t.Fatalf("Pick = %d with the first 64 tried, want >= 64", got)
				}
			}
		})
	}
}

func TestRandomSpreadsEvenly(t *testing.T) {
	const picks = 60000
	for _, tc := range []struct {
		name   string
		states []state
	}{
		{"all up", []state{ok, ok, ok, ok}},
		{"fallback path", []state{down, ok, ok, ok}},
		{"ejected fallback", []state{ejected, ejected, ejected, down}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ups := New(config.BalanceRandom), makeUps(tc.states...)
			counts := make([]int, len(ups))
			for range picks {
				counts[p.Pick(ups, 0)]++
			}
			usable := 0
			for _, s := range tc.states {
				if s != down {
					usable++
				}
			}
			want := picks / usable
			for i, c := range counts {
				if tc.states[i] == down {
					if c != 0 {
						t.Errorf("down upstream %d picked %d times", i, c)
					}
					continue
				}
				if c < want*85/100 || c > want*115/100 {
					t.Errorf("upstream %d picked %d times, want about %d (counts %v)", i, c, want, counts)
				}
			}
		})
	}
}

func TestRoundRobinCycles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []state
		want   []int
	}{
		{"all up", []state{ok, ok, ok}, []int{0, 1, 2, 0, 1, 2, 0}},
		{"skips ejected", []state{ok, ejected, ok}, []int{0, 2, 2, 0, 2, 2}},
		{"skips down", []state{down, ok, ok}, []int{1, 1, 2, 1, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ups := New(config.BalanceRoundRobin), makeUps(tc.states...)
			for n, want := range tc.want {
				if got := p.Pick(ups, 0); got != want {
					t.Fatalf("pick %d = %d, want %d", n, got, want)
				}
			}
		})
	}
}

func TestRoundRobinConcurrentIsExact(t *testing.T) {
	p, ups := New(config.BalanceRoundRobin), makeUps(ok, ok, ok, ok)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts [4]int
	)
	for range 8 {
		wg.Go(func() {
			var local [4]int
			for range 1000 {
				local[p.Pick(ups, 0)]++
			}
			mu.Lock()
			for i, c := range local {
				counts[i] += c
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for i, c := range counts {
		if c != 2000 {
			t.Errorf("upstream %d picked %d times, want exactly 2000 (%v)", i, c, counts)
		}
	}
}

func TestLeastConn(t *testing.T) {
	for _, tc := range []struct {
		name     string
		states   []state
		inFlight []int
		tried    uint64
		allow    []int
	}{
		{"unique lowest", []state{ok, ok, ok, ok}, []int{3, 0, 2, 5}, 0, []int{1}},
		{"ties", []state{ok, ok, ok, ok}, []int{3, 1, 2, 1}, 0, []int{1, 3}},
		{"lowest is down", []state{ok, down, ok}, []int{3, 0, 2}, 0, []int{2}},
		{"lowest is tried", []state{ok, ok, ok}, []int{3, 0, 2}, mask(1), []int{2}},
		{"lowest is ejected", []state{ok, ejected, ok}, []int{3, 0, 2}, 0, []int{2}},
		{"only ejected left", []state{ejected, ejected, down}, []int{3, 1, 0}, 0, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ups := New(config.BalanceLeastConn), makeUps(tc.states...)
			for i, n := range tc.inFlight {
				for range n {
					ups[i].Acquire()
				}
			}
			seen := make(map[int]int)
			for range 1000 {
				seen[p.Pick(ups, tc.tried)]++
			}
			if len(seen) != len(tc.allow) {
				t.Fatalf("picked %v, want each of %v", seen, tc.allow)
			}
			for _, i := range tc.allow {
				if seen[i] < 1000/len(tc.allow)*7/10 {
					t.Errorf("picked %v, want %v about evenly", seen, tc.allow)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   Picker
	}{
		{"", random{}},
		{config.BalanceRandom, random{}},
		{"bogus", random{}},
		{config.BalanceLeastConn, leastConn{}},
	} {
		if got := New(tc.policy); got != tc.want {
			t.Errorf("New(%q) = %T, want %T", tc.policy, got, tc.want)
		}
	}
	if _, isRR := New(config.BalanceRoundRobin).(*roundRobin); !isRR {
		t.Error("New(round_robin) is not a round robin picker")
	}
	if New(config.BalanceRoundRobin) == New(config.BalanceRoundRobin) {
		t.Error("round robin pickers share their position")
	}
}

func TestTried(t *testing.T) {
	if got := Tried(Tried(0, 0), 63); got != 1|1<<63 {
		t.Errorf("Tried = %b", got)
	}
	if got := Tried(5, 64); got != 5 {
		t.Errorf("Tried(5, 64) = %d, want 5 (untracked)", got)
	}
	if got := Tried(5, -1); got != 5 {
		t.Errorf("Tried(5, -1) = %d, want 5", got)
	}
}
