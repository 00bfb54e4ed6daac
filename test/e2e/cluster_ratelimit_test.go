package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/cluster/redistest"
)

// Tests of cluster-scoped rate limits (issue 14): one real redis-server
// and three rgate processes sharing it, in front of one in-process
// upstream.

const clusterReplicas = 3

// clusterUpstream is an in-process upstream answering 200 "ok".
func clusterUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// clusterConfig is a config with a cluster: section on redisAddr (store
// timeout as given), then the routes (prefix, extra route lines) to one
// upstream.
func clusterConfig(redisAddr, timeout, upstream string, routes ...[2]string) string {
	var rs [][3]string
	for _, r := range routes {
		rs = append(rs, [3]string{r[0], upstream, r[1]})
	}
	cfg := strings.Replace(staticRoutes(rs...), "access_log: {enabled: true}\n", "", 1)
	return fmt.Sprintf("cluster:\n  redis:\n    addrs: [%s]\n    timeout: %s\n", redisAddr, timeout) + cfg
}

// startReplicas runs clusterReplicas gateways on the same config.
func startReplicas(t *testing.T, config string) []*gw {
	t.Helper()
	gws := make([]*gw, clusterReplicas)
	var wg sync.WaitGroup
	for i := range gws {
		wg.Go(func() { gws[i] = startGatewayWith(t, config, gwOptions{}) })
	}
	wg.Wait()
	for _, g := range gws {
		if g == nil {
			t.FailNow()
		}
	}
	return gws
}

// loadResult counts what a load run saw.
type loadResult struct {
	ok, limited, other atomic.Int64
	failures           atomic.Int64 // transport errors and 5xx
	maxLatency         atomic.Int64 // nanoseconds
	mu                 sync.Mutex
	firstFailure       string
}

func (r *loadResult) record(status int, err error, took time.Duration) {
	for {
		old := r.maxLatency.Load()
		if int64(took) <= old || r.maxLatency.CompareAndSwap(old, int64(took)) {
			break
		}
	}
	switch {
	case err != nil || status >= 500:
		r.failures.Add(1)
		r.mu.Lock()
		if r.firstFailure == "" {
			r.firstFailure = fmt.Sprintf("status %d, err %v", status, err)
		}
		r.mu.Unlock()
	case status == http.StatusOK:
		r.ok.Add(1)
	case status == http.StatusTooManyRequests:
		r.limited.Add(1)
	default:
		r.other.Add(1)
	}
}

// hammer sends GET path with the given headers from workers goroutines,
// round-robin over gws, until ctx ends.
func hammer(ctx context.Context, gws []*gw, workers int, path string, kv ...string) *loadResult {
	res := &loadResult{}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i++ {
				g := gws[i%len(gws)]
				req, _ := http.NewRequest(http.MethodGet, g.url+path, nil)
				for j := 0; j+1 < len(kv); j += 2 {
					req.Header.Set(kv[j], kv[j+1])
				}
				start := time.Now()
				r, err := doWith(client, req)
				res.record(r.status, err, time.Since(start))
			}
		})
	}
	go func() { <-ctx.Done(); wg.Wait(); client.CloseIdleConnections() }()
	return res
}

// runLoad is hammer for d, returning once every worker has stopped.
func runLoad(t *testing.T, d time.Duration, gws []*gw, workers int, path string, kv ...string) (*loadResult, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	start := time.Now()
	res := &loadResult{}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i++ {
				req, _ := http.NewRequest(http.MethodGet, gws[i%len(gws)].url+path, nil)
				for j := 0; j+1 < len(kv); j += 2 {
					req.Header.Set(kv[j], kv[j+1])
				}
				t0 := time.Now()
				r, err := doWith(client, req)
				if ctx.Err() != nil && err != nil {
					return // cut off by the end of the run
				}
				res.record(r.status, err, time.Since(t0))
			}
		})
	}
	wg.Wait()
	return res, time.Since(start)
}

// TestClusterRateLimitAcrossReplicas: three replicas together admit what
// one admits alone (within 5%) with scope: cluster, while scope: local
// lets about three times that through.
func TestClusterRateLimitAcrossReplicas(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	limit := "    rate_limit:\n      key: header:X-User-ID\n      default: {requests: 50, per: 1s, burst: 100}\n"
	// A timeout well above this loaded machine's round trips: this test
	// measures the shared budget, not the fallback.
	gws := startReplicas(t, clusterConfig(srv.Addr, "1s", clusterUpstream(t),
		[2]string{"/c", limit + "      scope: cluster\n"},
		[2]string{"/l", limit + "      scope: local\n"}))

	for _, tc := range []struct {
		path   string
		copies float64 // budgets admitted: 1 cluster-wide, one per replica locally
	}{{"/c/x", 1}, {"/l/x", clusterReplicas}} {
		resetCommandStats(t, srv.Addr)
		res, took := runLoad(t, 3*time.Second, gws, 12, tc.path, "X-User-ID", "u-"+tc.path)
		if tc.copies == 1 {
			calls := redisCalls(t, srv.Addr)
			t.Logf("%s: %d Redis commands (EVALSHA/EVAL) for %d admitted and %d refused: %.2f per admitted",
				tc.path, calls, res.ok.Load(), res.limited.Load(), float64(calls)/float64(res.ok.Load()))
			if calls > res.ok.Load()+res.limited.Load() {
				t.Errorf("%s: %d Redis commands for %d requests", tc.path, calls, res.ok.Load()+res.limited.Load())
			}
		}
		if n := res.failures.Load(); n > 0 {
			t.Fatalf("%s: %d failed requests, first: %s", tc.path, n, res.firstFailure)
		}
		want := tc.copies * (100 + 50*took.Seconds())
		got := float64(res.ok.Load())
		t.Logf("%s: %d admitted, %d refused in %v over %d replicas; one budget admits %.0f, want %.0f",
			tc.path, res.ok.Load(), res.limited.Load(), took.Round(time.Millisecond), clusterReplicas, want/tc.copies, want)
		if res.limited.Load() < int64(got) {
			t.Fatalf("%s: the load did not exceed the limit (%d refused)", tc.path, res.limited.Load())
		}
		if math.Abs(got-want) > 0.05*want {
			t.Errorf("%s: admitted %.0f, want %.0f within 5%%", tc.path, got, want)
		}
	}
}

// TestClusterRateLimitTiers: each tier's budget is shared by the replicas,
// and the answers carry that tier's RateLimit fields.
func TestClusterRateLimitTiers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	gws := startReplicas(t, clusterConfig(srv.Addr, "1s", clusterUpstream(t), [2]string{"/t", `    rate_limit:
      key: header:X-User-ID
      tier_header: X-Tier
      scope: cluster
      default: {requests: 10, per: 1h}
      tiers:
        gold: {requests: 40, per: 1h}
`}))
	for _, tc := range []struct {
		name  string
		kv    []string
		limit int
	}{
		{"default", []string{"X-User-ID", "tina"}, 10},
		{"gold", []string{"X-User-ID", "tina", "X-Tier", "gold"}, 40},
		{"unknown tier", []string{"X-User-ID", "tom", "X-Tier", "platinum"}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			admitted := 0
			for i := range 3 * tc.limit {
				r := gws[i%clusterReplicas].getH(t, "/t/x", tc.kv...)
				switch r.status {
				case http.StatusOK:
					admitted++
					if got := r.header.Get("RateLimit-Remaining"); got != strconv.Itoa(tc.limit-admitted) {
						t.Fatalf("request %d: RateLimit-Remaining %q, want %d", i+1, got, tc.limit-admitted)
					}
				case http.StatusTooManyRequests:
					checkErrorBody(t, r)
					if r.header.Get("Retry-After") == "" {
						t.Fatalf("429 without Retry-After")
					}
				default:
					t.Fatalf("request %d: status %d", i+1, r.status)
				}
				if got := r.header.Get("RateLimit-Limit"); got != strconv.Itoa(tc.limit) {
					t.Fatalf("RateLimit-Limit %q, want %d", got, tc.limit)
				}
			}
			if admitted != tc.limit {
				t.Fatalf("three replicas admitted %d, want the tier's %d", admitted, tc.limit)
			}
		})
	}
}

// storeState is a replica's /health cluster.state.
func storeState(t *testing.T, g *gw) string {
	t.Helper()
	return jsonString(g.adminJSON(t, "/health"), "cluster", "state")
}

// clusterDecides reports whether every replica's answer on path comes
// from Redis: 200 under a limit that the deny fallback would refuse.
func clusterDecides(t *testing.T, gws []*gw, path string) bool {
	t.Helper()
	for _, g := range gws {
		r, err := g.tryDo(g.requestH(t, http.MethodGet, path, nil, "X-User-ID", "probe"))
		if err != nil || r.status != http.StatusOK {
			return false
		}
	}
	return true
}

// TestClusterRateLimitRedisTrouble: Redis stopped, restarted and paused
// under load: no request fails or waits much past the 50ms timeout, each
// route's on_store_error applies, accounting resumes within 2s of Redis
// answering again, and /health, /metrics and the log tell.
func TestClusterRateLimitRedisTrouble(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	gws := startReplicas(t, clusterConfig(srv.Addr, "50ms", clusterUpstream(t),
		[2]string{"/allow", "    rate_limit: {key: header:X-User-ID, scope: cluster, on_store_error: allow, default: {requests: 100000, per: 1s}}\n"},
		[2]string{"/deny", "    rate_limit: {key: header:X-User-ID, scope: cluster, on_store_error: deny, default: {requests: 100000, per: 1s}}\n"},
		[2]string{"/local", "    rate_limit: {key: header:X-User-ID, scope: cluster, on_store_error: local, default: {requests: 6, per: 1h}}\n"}))
	const bound = 50*time.Millisecond + 1950*time.Millisecond // timeout + a generous own time (a hang would be unbounded)
	ctx, stop := context.WithCancel(t.Context())
	load := hammer(ctx, gws, 6, "/allow/x", "X-User-ID", "steady")
	defer stop()
	eventually(t, 2*time.Second, "cluster decisions with Redis up", func() bool { return clusterDecides(t, gws, "/deny/x") })

	// Every replica counts the three live replicas (the local fallback
	// divides the limit by that count).
	for i, g := range gws {
		eventually(t, 5*time.Second, fmt.Sprintf("replica %d counting 3 replicas", i), func() bool {
			doc, r := g.getClusterStats(t)
			return r.status == http.StatusOK && doc.Replicas == len(gws)
		})
	}

	// Stopped (SIGTERM): every replica falls back at once.
	srv.Stop()
	for _, g := range gws {
		eventually(t, 2*time.Second, "fallback after Redis stopped", func() bool { return storeState(t, g) == "fallback" })
	}
	checkFallbackModes(t, gws, bound)

	// Restarted: accounting resumes within 2s of Redis answering.
	srv.Restart()
	took := eventually(t, 2*time.Second, "cluster decisions after the restart", func() bool { return clusterDecides(t, gws, "/deny/x") })
	t.Logf("cluster decisions %v after the restarted Redis answered", took)

	// Paused (SIGSTOP): slower than the timeout; then resumed.
	srv.Pause()
	eventually(t, 2*time.Second, "deny while Redis is paused", func() bool {
		r := gws[0].getH(t, "/deny/x", "X-User-ID", "paused")
		return r.status == http.StatusTooManyRequests
	})
	for _, g := range gws {
		start := time.Now()
		r := g.getH(t, "/deny/x", "X-User-ID", "paused")
		if d := time.Since(start); d > bound {
			t.Errorf("a request waited %v with Redis paused", d)
		}
		if r.status != http.StatusOK && r.status != http.StatusTooManyRequests {
			t.Errorf("status %d with Redis paused", r.status)
		}
	}
	srv.Resume()
	took = eventually(t, 2*time.Second, "cluster decisions after the pause", func() bool { return clusterDecides(t, gws, "/deny/x") })
	t.Logf("cluster decisions %v after the paused Redis resumed", took)

	stop()
	time.Sleep(100 * time.Millisecond) // let the last requests land
	if n := load.failures.Load(); n > 0 {
		t.Errorf("%d requests of the load failed; first: %s", n, load.firstFailure)
	}
	if slowest := time.Duration(load.maxLatency.Load()); slowest > bound {
		t.Errorf("the slowest request of the load took %v, bound %v", slowest, bound)
	}
	if load.ok.Load() == 0 || load.limited.Load()+load.other.Load() > 0 {
		t.Errorf("allow route under load: %d ok, %d refused, %d other", load.ok.Load(), load.limited.Load(), load.other.Load())
	}
	t.Logf("load on /allow: %d ok, slowest %v", load.ok.Load(), time.Duration(load.maxLatency.Load()))
	checkTroubleReported(t, gws)
}

// checkFallbackModes: with Redis down, allow admits, deny refuses, local
// gives each replica its own buckets (at the limit divided by the live
// replicas: 1 until replicas are counted), all within bound.
func checkFallbackModes(t *testing.T, gws []*gw, bound time.Duration) {
	t.Helper()
	const liveReplicas = 3 // counted by each replica's stats sharer before Redis went away
	for i, g := range gws {
		for _, tc := range []struct {
			path          string
			status        int
			admitAtMostOf int
		}{{"/allow/x", http.StatusOK, 0}, {"/deny/x", http.StatusTooManyRequests, 0}, {"/local/x", 0, 6 / liveReplicas}} {
			admitted := 0
			for range 10 {
				start := time.Now()
				r := g.getH(t, tc.path, "X-User-ID", "down")
				if d := time.Since(start); d > bound {
					t.Errorf("replica %d %s: waited %v with Redis down", i, tc.path, d)
				}
				if tc.status != 0 && r.status != tc.status {
					t.Fatalf("replica %d %s: status %d, want %d", i, tc.path, r.status, tc.status)
				}
				if r.status == http.StatusOK {
					admitted++
				} else if r.status != http.StatusTooManyRequests {
					t.Fatalf("replica %d %s: status %d", i, tc.path, r.status)
				}
			}
			if tc.admitAtMostOf > 0 && admitted != tc.admitAtMostOf {
				t.Errorf("replica %d %s: admitted %d of 10, want the limit divided by the live replicas, %d", i, tc.path, admitted, tc.admitAtMostOf)
			}
		}
	}
}

// checkTroubleReported: the two outages are in /metrics, /health and in
// each replica's log, once per change.
func checkTroubleReported(t *testing.T, gws []*gw) {
	t.Helper()
	for i, g := range gws {
		fams := g.metrics(t)
		if v, _ := metricValue(fams, "rgate_ratelimit_fallback_total", map[string]string{"route": "/deny", "mode": "deny"}); v < 1 {
			t.Errorf("replica %d: rgate_ratelimit_fallback_total{route=/deny,mode=deny} = %v", i, v)
		}
		if v, _ := metricValue(fams, "rgate_ratelimit_fallback_total", map[string]string{"route": "/allow", "mode": "allow"}); v < 1 {
			t.Errorf("replica %d: rgate_ratelimit_fallback_total{route=/allow,mode=allow} = %v", i, v)
		}
		if v, _ := metricValue(fams, "rgate_ratelimit_store_errors_total", nil); v < 1 {
			t.Errorf("replica %d: rgate_ratelimit_store_errors_total = %v", i, v)
		}
		h := g.adminJSON(t, "/health")
		if jsonString(h, "cluster", "state") != "ok" || jsonString(h, "cluster", "last_error") == "" {
			t.Errorf("replica %d: /health cluster = %v", i, h["cluster"])
		}
		out := g.output()
		down := strings.Count(out, "cluster store unavailable")
		up := strings.Count(out, "cluster store available again")
		// Two outages; a loaded machine may add a late answer or two, each
		// one entering and leaving fallback once.
		if down < 2 || up != down {
			t.Errorf("replica %d: the log says unavailable %d times and available again %d times, want twice (or more) each", i, down, up)
		}
	}
}

// resetCommandStats clears the Redis server's INFO commandstats.
func resetCommandStats(t *testing.T, addr string) {
	t.Helper()
	if out, err := exec.Command("redis-cli", "-u", "redis://"+addr, "config", "resetstat").CombinedOutput(); err != nil {
		t.Fatalf("redis-cli config resetstat: %v %s", err, out)
	}
}

// redisCalls is how many EVALSHA and EVAL commands the Redis server ran
// since the last resetCommandStats.
func redisCalls(t *testing.T, addr string) int64 {
	t.Helper()
	out, err := exec.Command("redis-cli", "-u", "redis://"+addr, "info", "commandstats").Output()
	if err != nil {
		t.Fatalf("redis-cli info commandstats: %v", err)
	}
	var n int64
	for line := range strings.SplitSeq(string(out), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "cmdstat_evalsha" && name != "cmdstat_eval") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		v, _ := strconv.ParseInt(calls, 10, 64)
		n += v
	}
	return n
}
