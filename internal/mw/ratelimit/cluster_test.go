package ratelimit

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/cluster/redistest"
	"github.com/rgate/rgate/internal/config"
)

// openStore connects a store to addr with the given timeout.
func openStore(t testing.TB, addr string, timeout time.Duration) *cluster.Store {
	t.Helper()
	c := &config.Cluster{Redis: config.Redis{Addrs: []string{addr}, Timeout: config.Duration(timeout)}}
	cfg := config.Config{Cluster: c}
	cfg.ApplyDefaults()
	s, err := cluster.Open(c, "test:"+strconv.Itoa(int(time.Now().UnixNano()%1e6)), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// countCounters is a ClusterCounters for tests.
type countCounters struct{ errs, fallbacks atomic.Int64 }

func (c *countCounters) StoreError() { c.errs.Add(1) }
func (c *countCounters) Fallback()   { c.fallbacks.Add(1) }

// newClusterTest returns a cluster-scoped limit for cfg on s and its
// handler in front of a next handler that answers 204.
func newClusterTest(cfg config.RateLimit, o ClusterOptions) (*ClusterLimiter, http.Handler) {
	if cfg.OnStoreError == "" {
		cfg.OnStoreError = config.StoreErrorLocal
	}
	if o.Route == "" {
		o.Route = "/api"
	}
	c := NewCluster(cfg, o)
	return c, NewClusterHandler(c, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
}

// TestClusterSameAnswersAsLocal: the same requests get the same statuses,
// RateLimit-* fields, Retry-After and 429 body from a cluster-scoped limit
// as from a local one, burst first, then refusals.
func TestClusterSameAnswersAsLocal(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, time.Second)
	cfg := config.RateLimit{Key: "header:X-User-ID", Default: rateCfg(5, 10*time.Second, 0)}
	_, local := newTest(cfg)
	_, shared := newClusterTest(cfg, ClusterOptions{Store: s})
	for i := range 8 {
		want := send(local, "192.0.2.1:1000", "X-User-ID", "alice")
		got := send(shared, "192.0.2.1:1000", "X-User-ID", "alice")
		if got.status != want.status || got.headers() != want.headers() || got.rateLimited != want.rateLimited {
			t.Fatalf("request %d: cluster %+v, local %+v", i+1, got, want)
		}
		if got.status == http.StatusTooManyRequests && !strings.Contains(got.body, `"error"`) {
			t.Fatalf("request %d: 429 body %q", i+1, got.body)
		}
		if wantStatus := http.StatusNoContent; i >= 5 {
			wantStatus = http.StatusTooManyRequests
			if got.status != wantStatus || got.retry != "2" {
				t.Fatalf("request %d: status %d Retry-After %q, want %d and 2", i+1, got.status, got.retry, wantStatus)
			}
		} else if got.status != wantStatus || got.remaining != strconv.Itoa(4-i) {
			t.Fatalf("request %d: status %d remaining %q", i+1, got.status, got.remaining)
		}
	}
}

// TestClusterRefillAndRetryAfter: a refused client is admitted again once
// Retry-After has passed, not before.
func TestClusterRefillAndRetryAfter(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, time.Second)
	_, h := newClusterTest(config.RateLimit{Default: rateCfg(10, time.Second, 1)}, ClusterOptions{Store: s})
	if a := send(h, "192.0.2.7:1"); a.status != http.StatusNoContent || a.reset != "1" {
		t.Fatalf("first: %+v", a)
	}
	a := send(h, "192.0.2.7:1")
	if a.status != http.StatusTooManyRequests || a.retry != "1" || a.remaining != "0" {
		t.Fatalf("second: %+v", a)
	}
	time.Sleep(120 * time.Millisecond) // one token per 100ms
	if a := send(h, "192.0.2.7:1"); a.status != http.StatusNoContent {
		t.Fatalf("after the refill: %+v", a)
	}
	if a := send(h, "192.0.2.8:1"); a.status != http.StatusNoContent {
		t.Fatalf("another client: %+v", a)
	}
}

// TestClusterTiers: each tier has its own rate and its own bucket.
func TestClusterTiers(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, time.Second)
	cfg := config.RateLimit{
		Key: "header:X-User-ID", TierHeader: "X-Tier",
		Default: rateCfg(2, time.Minute, 0),
		Tiers:   map[string]config.Rate{"gold": rateCfg(6, time.Minute, 0)},
	}
	_, h := newClusterTest(cfg, ClusterOptions{Store: s})
	count := func(kv ...string) int {
		n := 0
		for range 10 {
			if send(h, "192.0.2.1:1", kv...).status == http.StatusNoContent {
				n++
			}
		}
		return n
	}
	if n := count("X-User-ID", "bob"); n != 2 {
		t.Fatalf("default tier admitted %d of 10, want 2", n)
	}
	if n := count("X-User-ID", "bob", "X-Tier", "gold"); n != 6 {
		t.Fatalf("gold tier admitted %d of 10, want 6", n)
	}
	if a := send(h, "192.0.2.1:1", "X-User-ID", "bob", "X-Tier", "gold"); a.limit != "6" || a.policy != "6;w=60" {
		t.Fatalf("gold headers: %+v", a)
	}
}

// TestClusterSharedBudget: two limiters (two replicas, each with its own
// connection) draw from one budget.
func TestClusterSharedBudget(t *testing.T) {
	srv := redistest.Start(t)
	cfg := config.RateLimit{Key: "header:X-User-ID", Default: rateCfg(20, time.Hour, 0)}
	_, a := newClusterTest(cfg, ClusterOptions{Store: openStore(t, srv.Addr, time.Second)})
	_, b := newClusterTest(cfg, ClusterOptions{Store: openStore(t, srv.Addr, time.Second)})
	admitted := 0
	for i := range 60 {
		h := a
		if i%2 == 1 {
			h = b
		}
		if send(h, "192.0.2.1:1", "X-User-ID", "carol").status == http.StatusNoContent {
			admitted++
		}
	}
	if admitted != 20 {
		t.Fatalf("two replicas admitted %d, want the one budget of 20", admitted)
	}
}

// TestClusterKeyAndExpiry: the bucket is one key under the store's prefix,
// and it expires when the bucket is full again.
func TestClusterKeyAndExpiry(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, time.Second)
	_, h := newClusterTest(config.RateLimit{Key: "header:X-User-ID", Default: rateCfg(10, 10*time.Second, 0)},
		ClusterOptions{Store: s, Route: "/pay"})
	for range 3 {
		send(h, "192.0.2.1:1", "X-User-ID", "dave")
	}
	send(h, "192.0.2.9:1")
	ctx := context.Background()
	keys, err := s.Client().Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"rgate:rl:/pay::h:dave": true, "rgate:rl:/pay::ip:192.0.2.9": true}
	if len(keys) != 2 || !want[keys[0]] || !want[keys[1]] {
		t.Fatalf("keys %q, want %v", keys, want)
	}
	ttl, err := s.Client().PTTL(ctx, "rgate:rl:/pay::h:dave").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Three tokens of one per second taken: full again in 3s.
	if ttl <= 2*time.Second || ttl > 3100*time.Millisecond {
		t.Fatalf("expiry %v, want about 3s", ttl)
	}
}

// TestClusterOneCommandPerDecision: each decision is one EVALSHA (after
// the script is loaded once).
func TestClusterOneCommandPerDecision(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, time.Second)
	_, h := newClusterTest(config.RateLimit{Default: rateCfg(1000, time.Second, 0)}, ClusterOptions{Store: s})
	send(h, "192.0.2.1:1") // loads the script
	ctx := context.Background()
	if err := s.Client().ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	const n = 50
	for range n {
		if a := send(h, "192.0.2.1:1"); a.status != http.StatusNoContent {
			t.Fatalf("refused: %+v", a)
		}
	}
	stats := commandStats(t, s)
	if stats["evalsha"] != n || stats["eval"] != 0 {
		t.Fatalf("commands for %d decisions: %v", n, stats)
	}
}

// commandStats returns calls per command from INFO commandstats.
func commandStats(t testing.TB, s *cluster.Store) map[string]int {
	t.Helper()
	info, err := s.Client().Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		out[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.Atoi(calls)
	}
	return out
}

// TestClusterFallbackModes: with Redis stopped, each on_store_error mode
// answers at once: allow admits, deny refuses, local shares the limit
// between the live replicas.
func TestClusterFallbackModes(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, 50*time.Millisecond)
	srv.Stop()
	cfg := config.RateLimit{Key: "header:X-User-ID", Default: rateCfg(10, time.Hour, 0)}
	for _, tc := range []struct {
		mode     string
		admitted int
	}{
		{config.StoreErrorAllow, 30},
		{config.StoreErrorDeny, 0},
		{config.StoreErrorLocal, 5}, // 10 over 2 replicas
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := cfg
			cfg.OnStoreError = tc.mode
			counters := &countCounters{}
			c, h := newClusterTest(cfg, ClusterOptions{Store: s, Replicas: func() int { return 2 }, Counters: counters})
			admitted := 0
			for range 30 {
				start := time.Now()
				a := send(h, "192.0.2.1:1", "X-User-ID", "erin")
				if d := time.Since(start); d > 500*time.Millisecond {
					t.Fatalf("a decision took %v with Redis down", d)
				}
				switch a.status {
				case http.StatusNoContent:
					admitted++
				case http.StatusTooManyRequests:
					if a.retry == "" || !a.rateLimited {
						t.Fatalf("429 without Retry-After or the rate-limited mark: %+v", a)
					}
				default:
					t.Fatalf("status %d", a.status)
				}
			}
			if admitted != tc.admitted {
				t.Fatalf("admitted %d of 30, want %d", admitted, tc.admitted)
			}
			if c.Fallbacks() != 30 || counters.fallbacks.Load() != 30 {
				t.Fatalf("fallbacks %d (counted %d), want 30", c.Fallbacks(), counters.fallbacks.Load())
			}
		})
	}
}

// TestClusterPausedRedis: a Redis that stops answering costs a decision at
// most the timeout; the store enters fallback, and cluster accounting is
// back within 2s of Redis answering again.
func TestClusterPausedRedis(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, 50*time.Millisecond)
	counters := &countCounters{}
	cfg := config.RateLimit{Key: "header:X-User-ID", Default: rateCfg(3, time.Hour, 0), OnStoreError: config.StoreErrorAllow}
	c, h := newClusterTest(cfg, ClusterOptions{Store: s, Counters: counters})
	if a := send(h, "192.0.2.1:1", "X-User-ID", "frank"); a.remaining != "2" {
		t.Fatalf("before the pause: %+v", a)
	}
	srv.Pause()
	for i := range 20 {
		start := time.Now()
		a := send(h, "192.0.2.1:1", "X-User-ID", "frank")
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("request %d waited %v, timeout 50ms", i, d)
		}
		if a.status != http.StatusNoContent {
			t.Fatalf("request %d under allow: %+v", i, a)
		}
	}
	if s.Available() || counters.errs.Load() < 1 || c.StoreErrors() < 1 {
		t.Fatalf("paused Redis: available %v, store errors %d", s.Available(), c.StoreErrors())
	}
	srv.Resume()
	resumed := time.Now()
	for !s.Available() {
		if time.Since(resumed) > 2*time.Second {
			t.Fatalf("store not available 2s after Redis resumed: %+v", s.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The bucket kept its state: of three tokens, one went before the
	// pause and one now; the call that timed out may have taken one too,
	// when Redis ran it on resuming (a late decision over-counts, it never
	// over-issues).
	if a := send(h, "192.0.2.1:1", "X-User-ID", "frank"); a.status != http.StatusNoContent || (a.remaining != "1" && a.remaining != "0") {
		t.Fatalf("after the pause: %+v", a)
	}
}

// TestClusterRestartedRedis: after a restart (empty script cache) the
// script is loaded again with EVAL.
func TestClusterRestartedRedis(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, 100*time.Millisecond)
	_, h := newClusterTest(config.RateLimit{Default: rateCfg(2, time.Hour, 0)}, ClusterOptions{Store: s})
	send(h, "192.0.2.1:1")
	srv.Restart()
	deadline := time.Now().Add(3 * time.Second)
	for {
		a := send(h, "192.0.2.1:1")
		if s.Available() && a.remaining == "1" { // a fresh bucket in the new server
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cluster decision 3s after the restart: %+v, %+v", a, s.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDivideLimit: on_store_error: local divides every rate by the live
// replicas.
func TestDivideLimit(t *testing.T) {
	cfg := config.RateLimit{Default: rateCfg(100, time.Minute, 20), Tiers: map[string]config.Rate{"gold": rateCfg(9, time.Second, 0)}}
	got := divideLimit(cfg, 3)
	if d := got.Default; d.Requests != 100 || d.Per.D() != 3*time.Minute || d.Burst != 6 {
		t.Fatalf("default %+v", d)
	}
	if g := got.Tiers["gold"]; g.Requests != 9 || g.Per.D() != 3*time.Second || g.Burst != 3 {
		t.Fatalf("gold %+v", g)
	}
	if cfg.Tiers["gold"].Burst != 0 {
		t.Fatal("the config's tiers were changed")
	}
}

// TestClusterOnRedisCluster: on a Redis Cluster of three masters each
// bucket is one key on its own node (no CROSSSLOT), and two replicas share
// every client's budget.
func TestClusterOnRedisCluster(t *testing.T) {
	nodes := redistest.StartCluster(t, 3)
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr
	}
	open := func() *cluster.Store {
		c := &config.Cluster{Redis: config.Redis{Addrs: addrs, Timeout: config.Duration(time.Second)}}
		cfg := config.Config{Cluster: c}
		cfg.ApplyDefaults()
		s, err := cluster.Open(c, "test:rc", slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	cfg := config.RateLimit{Key: "header:X-User-ID", Default: rateCfg(4, time.Hour, 0)}
	a, ha := newClusterTest(cfg, ClusterOptions{Store: open()})
	b, hb := newClusterTest(cfg, ClusterOptions{Store: open()})
	for u := range 40 { // spread over the slots of all three nodes
		user := "user-" + strconv.Itoa(u)
		admitted := 0
		for i := range 10 {
			h := ha
			if i%2 == 1 {
				h = hb
			}
			if send(h, "192.0.2.1:1", "X-User-ID", user).status == http.StatusNoContent {
				admitted++
			}
		}
		if admitted != 4 {
			t.Fatalf("%s: admitted %d, want 4", user, admitted)
		}
	}
	if a.Fallbacks()+b.Fallbacks() != 0 {
		t.Fatalf("fallback decisions on a healthy cluster: %d", a.Fallbacks()+b.Fallbacks())
	}
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr})
		keys, err := c.DBSize(context.Background()).Result()
		c.Close()
		if err != nil || keys == 0 {
			t.Errorf("node %s holds %d buckets (%v): the keys did not spread", n.Addr, keys, err)
		}
	}
}

// TestClusterEmptyBucketNotAskedAgain: once Redis refuses a client, this
// replica refuses it until Retry-After without a Redis command, with the
// same headers, and asks Redis again after that.
func TestClusterEmptyBucketNotAskedAgain(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, time.Second)
	_, local := newTest(config.RateLimit{Default: rateCfg(5, time.Second, 1)})
	_, h := newClusterTest(config.RateLimit{Default: rateCfg(5, time.Second, 1)}, ClusterOptions{Store: s})
	send(local, "192.0.2.1:1")
	if a := send(h, "192.0.2.1:1"); a.status != http.StatusNoContent {
		t.Fatalf("first: %+v", a)
	}
	if err := s.Client().ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		a, want := send(h, "192.0.2.1:1"), send(local, "192.0.2.1:1")
		if a.status != http.StatusTooManyRequests || a.headers() != want.headers() {
			t.Fatalf("refusal %d: %+v, local %+v", i, a, want)
		}
	}
	if n := commandStats(t, s)["evalsha"]; n != 1 {
		t.Fatalf("20 refusals cost %d EVALSHA, want 1 (the first)", n)
	}
	time.Sleep(250 * time.Millisecond) // one token per 200ms
	if a := send(h, "192.0.2.1:1"); a.status != http.StatusNoContent {
		t.Fatalf("after Retry-After: %+v", a)
	}
}

func TestOverLimitBounded(t *testing.T) {
	o := newOverLimit(64)
	for i := range 1000 {
		o.put("k"+strconv.Itoa(i), o.now(), time.Hour, time.Hour)
	}
	n := 0
	for i := range o.shards {
		n += len(o.shards[i].m)
	}
	if n > 64 || n == 0 {
		t.Fatalf("%d entries for a cap of 64", n)
	}
	o.put("gone", o.now(), time.Nanosecond, time.Nanosecond)
	time.Sleep(time.Millisecond)
	if _, ok := o.get("gone", o.now()); ok {
		t.Fatal("a lapsed denial still held")
	}
}
