package breaker

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rgate/rgate/internal/config"
)

// testConfig is the example: 5 failures in 10s once 10 requests
// were seen, open for 30s, one probe.
func testConfig() config.CircuitBreaker {
	return config.CircuitBreaker{
		Failures:         5,
		Window:           config.Duration(10 * time.Second),
		MinRequests:      10,
		OpenFor:          config.Duration(30 * time.Second),
		HalfOpenRequests: 1,
	}
}

// play sends one request per letter of seq through b: F fails, S succeeds.
func play(t *testing.T, b *Breaker, seq string) {
	t.Helper()
	for i, c := range seq {
		tk, ok, _ := b.Allow()
		if !ok {
			t.Fatalf("request %d of %q refused", i, seq)
		}
		b.Done(tk, c == 'F')
	}
}

// tripIt opens b with testConfig's thresholds.
func tripIt(t *testing.T, b *Breaker) {
	t.Helper()
	play(t, b, "SSSSSFFFFF")
	if got := b.State().Name; got != Open {
		t.Fatalf("state after 5 failures in 10 requests = %s, want open", got)
	}
}

func TestTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, seq string
		want      string
	}{
		{"below min requests, all failures", "FFFFFFFFF", Closed},
		{"failures reach threshold at min requests", "SSSSSFFFFF", Open},
		{"threshold reached before min, then min", "FFFFFSSSSF", Open},
		{"min seen, failures below threshold", "SSSSSSFFFF", Closed},
		{"a success never opens", "FFFFFSSSSS", Closed},
		{"the next failure does", "FFFFFSSSSSF", Open},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := NewBreaker(testConfig())
			play(t, b, tc.seq)
			if got := b.State().Name; got != tc.want {
				t.Errorf("state = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestOldFailuresExpire(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pause time.Duration
		want  string
	}{
		{"no pause", 0, Open},
		{"inside the window", 8 * time.Second, Open},
		{"last bucket still inside", 9*time.Second + 900*time.Millisecond, Open},
		{"a whole window later", 10 * time.Second, Closed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewBreaker(testConfig())
				play(t, b, "FFFFSSSSSS")
				time.Sleep(tc.pause)
				play(t, b, "F")
				if got := b.State().Name; got != tc.want {
					t.Errorf("state = %s, want %s (window %+v)", got, tc.want, b.State())
				}
			})
		})
	}
}

func TestOpenRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBreaker(testConfig())
		time.Sleep(time.Minute)
		trippedAt := time.Now()
		tripIt(t, b)
		for _, wait := range []time.Duration{0, 10 * time.Second, 29 * time.Second} {
			time.Sleep(wait - time.Since(trippedAt))
			_, ok, retry := b.Allow()
			if want := 30*time.Second - wait; ok || retry != want {
				t.Errorf("after %v: Allow() = %v, %v; want false, %v", wait, ok, retry, want)
			}
		}
		s := b.State()
		want := State{
			Name: Open, Since: trippedAt, LastTrip: "5 failures in 10s (10 requests)",
			LastTripAt: trippedAt, Trips: 1, Rejected: 3, WindowRequests: 0, WindowFailures: 0,
		}
		if !s.Since.Equal(want.Since) || !s.LastTripAt.Equal(want.LastTripAt) {
			t.Errorf("Since %v, LastTripAt %v; want both %v", s.Since, s.LastTripAt, trippedAt)
		}
		s.Since, s.LastTripAt, want.Since, want.LastTripAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if s != want {
			t.Errorf("State() = %+v\nwant      %+v", s, want) // the window aged out in 29s
		}
		if b.StateCode() != 1 {
			t.Errorf("StateCode() = %d, want 1", b.StateCode())
		}
	})
}

func TestHalfOpenAdmitsExactlyProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.HalfOpenRequests = 3
		b := NewBreaker(cfg)
		tripIt(t, b)
		time.Sleep(cfg.OpenFor.D())

		const callers = 20
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			tickets []Ticket
			retries []time.Duration
		)
		start := make(chan struct{})
		for range callers {
			wg.Go(func() {
				<-start
				tk, ok, retry := b.Allow()
				mu.Lock()
				defer mu.Unlock()
				if ok {
					tickets = append(tickets, tk)
				} else {
					retries = append(retries, retry)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(tickets) != 3 {
			t.Fatalf("%d probes admitted, want 3", len(tickets))
		}
		for _, r := range retries {
			if r != time.Second {
				t.Errorf("refused probe retryAfter = %v, want 1s", r)
			}
		}
		if s := b.State(); s.Name != HalfOpen || s.Rejected != callers-3 || b.StateCode() != 2 {
			t.Errorf("State() = %+v, code %d; want half_open with %d rejected", s, b.StateCode(), callers-3)
		}
		b.Cancel(tickets[0])
		if _, ok, _ := b.Allow(); !ok {
			t.Error("a cancelled probe's slot was not freed")
		}
		if _, ok, _ := b.Allow(); ok {
			t.Error("more than 3 probes in flight")
		}
	})
}

func TestProbeOutcome(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failed    bool
		wantState string
		wantTrip  string
		wantTrips uint64
	}{
		{"success closes", false, Closed, "5 failures in 10s (10 requests)", 1},
		{"failure reopens", true, Open, "probe failed while half-open", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewBreaker(testConfig())
				tripIt(t, b)
				time.Sleep(30 * time.Second)
				probe, ok, _ := b.Allow()
				if !ok {
					t.Fatal("probe refused after OpenFor")
				}
				time.Sleep(time.Second)
				b.Done(probe, tc.failed)
				s := b.State()
				if s.Name != tc.wantState || s.LastTrip != tc.wantTrip || s.Trips != tc.wantTrips ||
					!s.Since.Equal(time.Now()) || s.WindowRequests != 0 {
					t.Errorf("State() = %+v; want %s since now, trip %q, %d trips, empty window",
						s, tc.wantState, tc.wantTrip, tc.wantTrips)
				}
				_, ok, retry := b.Allow()
				if tc.failed && (ok || retry != 30*time.Second) {
					t.Errorf("after a failed probe Allow() = %v, %v; want false, 30s", ok, retry)
				}
				if !tc.failed && !ok {
					t.Error("closed after a good probe, but Allow() refused")
				}
			})
		})
	}
}

func TestCancelFreesProbeSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBreaker(testConfig())
		tripIt(t, b)
		time.Sleep(30 * time.Second)
		probe, ok, _ := b.Allow()
		if !ok {
			t.Fatal("probe refused")
		}
		if _, ok, _ := b.Allow(); ok {
			t.Fatal("second probe admitted with half_open_requests 1")
		}
		b.Cancel(probe)
		b.Cancel(probe) // a second Cancel must not free a slot it does not hold
		if s := b.State(); s.Name != HalfOpen || s.Trips != 1 {
			t.Errorf("after Cancel State() = %+v, want half_open, 1 trip", s)
		}
		if _, ok, _ := b.Allow(); !ok {
			t.Error("slot not freed by Cancel")
		}
		if _, ok, _ := b.Allow(); ok {
			t.Error("double Cancel freed two slots")
		}
	})
}

func TestStaleTicketsIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.HalfOpenRequests = 2
		b := NewBreaker(cfg)
		longPoll, _, _ := b.Allow() // admitted while closed, finishes much later
		tripIt(t, b)
		time.Sleep(30 * time.Second)
		p1, _, _ := b.Allow()
		p2, _, _ := b.Allow()

		b.Done(longPoll, false)
		if s := b.State(); s.Name != HalfOpen {
			t.Fatalf("a pre-trip request's success changed half_open to %s", s.Name)
		}
		b.Done(p1, false)
		b.Done(p2, true) // decided already by p1
		b.Done(Ticket{}, true)
		b.Cancel(longPoll)
		if s := b.State(); s.Name != Closed || s.Trips != 1 || s.WindowRequests != 0 {
			t.Errorf("State() = %+v, want closed, 1 trip, empty window", s)
		}
	})
}

// TestConcurrent drives Allow, Done, Cancel and State from many goroutines
// for the race detector, through several trips and recoveries.
func TestConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := config.CircuitBreaker{
			Failures: 3, Window: config.Duration(time.Second), MinRequests: 5,
			OpenFor: config.Duration(100 * time.Millisecond), HalfOpenRequests: 2,
		}
		b := NewBreaker(cfg)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
					_ = b.State()
				}
			}
		})
		var workers sync.WaitGroup
		for g := range 8 {
			workers.Go(func() {
				for i := range 2000 {
					tk, ok, _ := b.Allow()
					if ok {
						switch (g + i) % 7 {
						case 0:
							b.Cancel(tk)
						default:
							b.Done(tk, (g*i)%3 == 0)
						}
					}
					if i%50 == 0 {
						time.Sleep(10 * time.Millisecond)
					}
				}
			})
		}
		workers.Wait()
		close(stop)
		wg.Wait()
		s := b.State()
		if s.Trips == 0 || s.Rejected == 0 {
			t.Errorf("State() = %+v, want some trips and rejections", s)
		}
		if p := probesOf(b.word.Load()); p != 0 {
			t.Errorf("%d probes still counted in flight after every ticket settled", p)
		}
	})
}

func TestNewBreakerDefaults(t *testing.T) {
	t.Parallel()
	b := NewBreaker(config.CircuitBreaker{})
	if b.failures != config.DefaultBreakerFailures || b.minRequests != config.DefaultBreakerMinReqs ||
		b.window != config.DefaultBreakerWindow || b.openFor != config.DefaultBreakerOpenFor ||
		b.maxProbes != config.DefaultBreakerHalfOpen || b.width != int64(time.Second) {
		t.Errorf("zero config gave %+v", b)
	}
	if s := b.State(); s.Name != Closed || s.LastTrip != "" || !s.LastTripAt.IsZero() {
		t.Errorf("new breaker State() = %+v", s)
	}
}
