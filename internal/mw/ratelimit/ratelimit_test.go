package ratelimit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/reqinfo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// infoWriter is a recorder that carries a reqinfo.Info, as the gateway's
// writer does.
type infoWriter struct {
	*httptest.ResponseRecorder
	info reqinfo.Info
}

func (w *infoWriter) RequestInfo() *reqinfo.Info { return &w.info }

// answer is what a test reads from one response.
type answer struct {
	status                                 int
	limit, remaining, reset, policy, retry string
	body                                   string
	rateLimited                            bool
}

func (a answer) headers() [5]string {
	return [5]string{a.limit, a.remaining, a.reset, a.policy, a.retry}
}

func rateCfg(requests int, per time.Duration, burst int) config.Rate {
	return config.Rate{Requests: requests, Per: config.Duration(per), Burst: burst}
}

// newTest returns a limiter for cfg and the handler in front of a next
// handler that answers 204.
func newTest(cfg config.RateLimit) (*Limiter, http.Handler) {
	l := NewLimiter(cfg)
	return l, New(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
}

// send serves one GET from remote with the given header pairs.
func send(h http.Handler, remote string, kv ...string) answer {
	r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Set(kv[i], kv[i+1])
	}
	w := &infoWriter{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, r)
	res := w.Result()
	return answer{
		status:      res.StatusCode,
		limit:       res.Header.Get("RateLimit-Limit"),
		remaining:   res.Header.Get("RateLimit-Remaining"),
		reset:       res.Header.Get("RateLimit-Reset"),
		policy:      res.Header.Get("RateLimit-Policy"),
		retry:       res.Header.Get("Retry-After"),
		body:        w.Body.String(),
		rateLimited: w.info.RateLimited,
	}
}

func TestLimitThen429(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l, h := newTest(config.RateLimit{Default: rateCfg(5, 10*time.Second, 0)})
		// 0.5 tokens/s: after i requests the bucket lacks i tokens, 2i seconds.
		for i, want := range [][5]string{
			{"5", "4", "2", "5;w=10", ""},
			{"5", "3", "4", "5;w=10", ""},
			{"5", "2", "6", "5;w=10", ""},
			{"5", "1", "8", "5;w=10", ""},
			{"5", "0", "10", "5;w=10", ""},
		} {
			a := send(h, "10.0.0.1:1000")
			if a.status != http.StatusNoContent || a.headers() != want || a.rateLimited {
				t.Fatalf("request %d: status %d headers %q limited %v, want 204 %q", i+1, a.status, a.headers(), a.rateLimited, want)
			}
		}
		a := send(h, "10.0.0.1:1000", "X-Request-Id", "req-42")
		if want := [5]string{"5", "0", "10", "5;w=10", "2"}; a.status != http.StatusTooManyRequests || a.headers() != want {
			t.Fatalf("6th request: status %d headers %q, want 429 %q", a.status, a.headers(), want)
		}
		if !a.rateLimited {
			t.Error("reqinfo RateLimited not set on 429")
		}
		var body struct {
			Error     string `json:"error"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(a.body), &body); err != nil || body.RequestID != "req-42" || body.Error == "" {
			t.Errorf("429 body %q: %+v %v", a.body, body, err)
		}
		if got := l.Limited(); got != 1 {
			t.Errorf("Limited() = %d, want 1", got)
		}
		if got := l.Len(); got != 1 {
			t.Errorf("Len() = %d, want 1", got)
		}
	})
}

// TestHeaderRounding checks a burst smaller than the quota and a rate that is
// not a whole number of tokens per second (100 per minute, burst 20).
func TestHeaderRounding(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, h := newTest(config.RateLimit{Default: rateCfg(100, time.Minute, 20)})
		var a answer
		for range 20 {
			a = send(h, "10.0.0.1:1")
		}
		if want := [5]string{"20", "0", "12", "100;w=60;burst=20", ""}; a.status != http.StatusNoContent || a.headers() != want {
			t.Fatalf("20th request: status %d headers %q, want 204 %q", a.status, a.headers(), want)
		}
		// One token takes 0.6s.
		a = send(h, "10.0.0.1:1")
		if want := [5]string{"20", "0", "12", "100;w=60;burst=20", "1"}; a.status != http.StatusTooManyRequests || a.headers() != want {
			t.Fatalf("21st request: status %d headers %q, want 429 %q", a.status, a.headers(), want)
		}
	})
}

func TestRefill(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, h := newTest(config.RateLimit{Default: rateCfg(5, 10*time.Second, 0)})
		for range 5 {
			send(h, "10.0.0.1:1")
		}
		// Denied requests take nothing, so they do not delay the refill.
		for range 10 {
			if a := send(h, "10.0.0.1:1"); a.status != http.StatusTooManyRequests {
				t.Fatalf("status %d, want 429", a.status)
			}
		}
		time.Sleep(time.Second)
		if a := send(h, "10.0.0.1:1"); a.status != http.StatusTooManyRequests || a.retry != "1" {
			t.Fatalf("after 1s: status %d Retry-After %q, want 429 1", a.status, a.retry)
		}
		time.Sleep(time.Second)
		if a := send(h, "10.0.0.1:1"); a.status != http.StatusNoContent || a.remaining != "0" || a.reset != "10" {
			t.Fatalf("after 2s: status %d remaining %q reset %q, want 204 0 10", a.status, a.remaining, a.reset)
		}
		time.Sleep(time.Hour)
		if a := send(h, "10.0.0.1:1"); a.status != http.StatusNoContent || a.remaining != "4" || a.reset != "2" {
			t.Fatalf("after an hour: status %d remaining %q reset %q, want 204 4 2", a.status, a.remaining, a.reset)
		}
	})
}

func TestTiers(t *testing.T) {
	t.Parallel()
	cfg := config.RateLimit{
		Key:        "header:X-User-ID",
		TierHeader: "X-User-Tier",
		Default:    rateCfg(2, time.Minute, 0),
		Tiers: map[string]config.Rate{
			"premium":   rateCfg(5, time.Minute, 0),
			"anonymous": rateCfg(1, time.Minute, 0),
		},
	}
	for _, tc := range []struct {
		name, tier string // tier "" sends no tier header
		allowed    int
	}{
		{"premium gets more", "premium", 5},
		{"anonymous gets less", "anonymous", 1},
		{"unknown tier falls back to default", "gold", 2},
		{"missing tier header uses default", "", 2},
		{"tier names are case-sensitive", "Premium", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				_, h := newTest(cfg)
				kv := []string{"X-User-ID", "alice"}
				if tc.tier != "" {
					kv = append(kv, "X-User-Tier", tc.tier)
				}
				for i := range tc.allowed {
					if a := send(h, "10.0.0.1:1", kv...); a.status != http.StatusNoContent || a.limit != strconv.Itoa(tc.allowed) {
						t.Fatalf("request %d: status %d limit %q, want 204 %d", i+1, a.status, a.limit, tc.allowed)
					}
				}
				if a := send(h, "10.0.0.1:1", kv...); a.status != http.StatusTooManyRequests {
					t.Fatalf("request %d: status %d, want 429", tc.allowed+1, a.status)
				}
			})
		})
	}
	t.Run("tiers have separate buckets", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			_, h := newTest(cfg)
			send(h, "10.0.0.1:1", "X-User-ID", "bob", "X-User-Tier", "anonymous")
			if a := send(h, "10.0.0.1:1", "X-User-ID", "bob", "X-User-Tier", "anonymous"); a.status != http.StatusTooManyRequests {
				t.Fatalf("anonymous bucket: status %d, want 429", a.status)
			}
			if a := send(h, "10.0.0.1:1", "X-User-ID", "bob", "X-User-Tier", "premium"); a.status != http.StatusNoContent || a.remaining != "4" {
				t.Fatalf("premium bucket: status %d remaining %q, want 204 4", a.status, a.remaining)
			}
		})
	})
}

// TestClientKey sends two requests with a burst of 1: the second is allowed
// only when it is counted under a different key than the first.
func TestClientKey(t *testing.T) {
	t.Parallel()
	type req struct {
		remote string
		kv     []string
	}
	for _, tc := range []struct {
		name          string
		key           string
		first, second req
		independent   bool
	}{
		{"client_ip ignores the port", "client_ip",
			req{"10.0.0.1:1000", nil}, req{"10.0.0.1:2000", nil}, false},
		{"client_ip distinct IPs", "client_ip",
			req{"10.0.0.1:1000", nil}, req{"10.0.0.2:1000", nil}, true},
		{"client_ip IPv6", "client_ip",
			req{"[2001:db8::1]:1000", nil}, req{"[2001:db8::1]:2000", nil}, false},
		{"client_ip ignores the key header", "client_ip",
			req{"10.0.0.1:1", []string{"X-User-ID", "a"}}, req{"10.0.0.1:1", []string{"X-User-ID", "b"}}, false},
		{"header distinct users on one IP", "header:X-User-ID",
			req{"10.0.0.1:1", []string{"X-User-ID", "a"}}, req{"10.0.0.1:1", []string{"X-User-ID", "b"}}, true},
		{"header same user on two IPs", "header:X-User-ID",
			req{"10.0.0.1:1", []string{"X-User-ID", "a"}}, req{"10.0.0.2:1", []string{"X-User-ID", "a"}}, false},
		{"missing header falls back to the IP", "header:X-User-ID",
			req{"10.0.0.1:1", nil}, req{"10.0.0.1:2", nil}, false},
		{"empty header falls back to the IP", "header:X-User-ID",
			req{"10.0.0.1:1", nil}, req{"10.0.0.1:2", []string{"X-User-ID", ""}}, false},
		{"fallback IPs are independent", "header:X-User-ID",
			req{"10.0.0.1:1", nil}, req{"10.0.0.2:1", nil}, true},
		{"a header value equal to an IP is not that IP", "header:X-User-ID",
			req{"10.0.0.1:1", nil}, req{"10.0.0.9:1", []string{"X-User-ID", "10.0.0.1"}}, true},
		{"lower-case header name in config", "header:x-user-id",
			req{"10.0.0.1:1", []string{"X-User-Id", "a"}}, req{"10.0.0.2:1", []string{"x-USER-id", "a"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				_, h := newTest(config.RateLimit{Key: tc.key, Default: rateCfg(1, time.Hour, 0)})
				if a := send(h, tc.first.remote, tc.first.kv...); a.status != http.StatusNoContent {
					t.Fatalf("first: status %d", a.status)
				}
				want := http.StatusTooManyRequests
				if tc.independent {
					want = http.StatusNoContent
				}
				if a := send(h, tc.second.remote, tc.second.kv...); a.status != want {
					t.Fatalf("second: status %d, want %d", a.status, want)
				}
			})
		})
	}
}

func TestLongKeysAreHashed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l, h := newTest(config.RateLimit{Key: "header:X-Token", Default: rateCfg(1, time.Hour, 0)})
		long := strings.Repeat("x", 10000)
		send(h, "10.0.0.1:1", "X-Token", long+"a")
		if a := send(h, "10.0.0.2:1", "X-Token", long+"a"); a.status != http.StatusTooManyRequests {
			t.Errorf("same long key: status %d, want 429", a.status)
		}
		if a := send(h, "10.0.0.1:1", "X-Token", long+"b"); a.status != http.StatusNoContent {
			t.Errorf("other long key: status %d, want 204", a.status)
		}
		for i := range l.shards {
			for _, m := range l.shards[i].maps {
				for k := range m {
					if len(k) > MaxKeyLen+1 {
						t.Errorf("stored key of %d bytes", len(k))
					}
				}
			}
		}
		if n := l.Len(); n != 2 {
			t.Errorf("Len() = %d, want 2", n)
		}
	})
}

func TestPolicyValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		requests int
		per      time.Duration
		burst    int
		want     string
	}{
		{100, time.Minute, 100, "100;w=60"},
		{100, time.Minute, 20, "100;w=60;burst=20"},
		{1, time.Second, 1, "1;w=1"},
		{5, 500 * time.Millisecond, 5, "10;w=1;burst=5"},
		{3, 1500 * time.Millisecond, 3, "4;w=2;burst=3"},
		{1, time.Hour, 1, "1;w=3600"},
	} {
		if got := policyValue(tc.requests, tc.per, tc.burst); got != tc.want {
			t.Errorf("policyValue(%d, %v, %d) = %q, want %q", tc.requests, tc.per, tc.burst, got, tc.want)
		}
	}
}

func TestNewLimiterDefaults(t *testing.T) {
	t.Parallel()
	l := NewLimiter(config.RateLimit{})
	if l.keyHeader != "" || l.tierHeader != "" {
		t.Errorf("headers %q %q, want client_ip and no tiers", l.keyHeader, l.tierHeader)
	}
	if l.def.burst != 1 || l.def.perSec != 1 {
		t.Errorf("default tier burst %d rate %v, want 1 and 1/s", l.def.burst, l.def.perSec)
	}
	if len(l.shards) != maxShards || l.shardCap*len(l.shards) > config.DefaultRateMaxKeys {
		t.Errorf("%d shards of %d keys", len(l.shards), l.shardCap)
	}
	for _, maxKeys := range []int{1, 7, 100, 1000, 4096, 100000} {
		l := NewLimiter(config.RateLimit{MaxKeys: maxKeys})
		if n := len(l.shards); n&(n-1) != 0 || l.shardCap*n > maxKeys || l.shardCap < 1 {
			t.Errorf("max_keys %d: %d shards of %d keys", maxKeys, n, l.shardCap)
		}
	}
	// Tier header without tiers is ignored.
	l = NewLimiter(config.RateLimit{TierHeader: "x-tier", Default: rateCfg(1, time.Second, 0)})
	if l.tierHeader != "" {
		t.Errorf("tierHeader %q without tiers", l.tierHeader)
	}
}

func TestNilLimiterIsNoLimit(t *testing.T) {
	t.Parallel()
	next := http.NotFoundHandler()
	if h := New(nil, next); h == nil {
		t.Fatal("New(nil, next) = nil")
	}
	if a := send(New(nil, next), "10.0.0.1:1"); a.status != http.StatusNotFound || a.limit != "" {
		t.Errorf("status %d limit %q, want 404 and no headers", a.status, a.limit)
	}
}

func TestCeilSeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   float64
		want int
	}{
		{0, 0}, {-1, 0}, {1e-9, 0}, {0.1, 1}, {1, 1}, {1.0000000001, 1}, {11.999999999999998, 12},
		{12.000000000000002, 12}, {12.5, 13}, {1e12, maxHeaderSeconds},
	} {
		if got := ceilSeconds(tc.in); got != tc.want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
