package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rgate/rgate/internal/cluster/redistest"
)

// statsClusterYAML is the cluster: block of a replica named id on redisAddr.
func statsClusterYAML(redisAddr, id string) string {
	return fmt.Sprintf("cluster:\n  redis: {addrs: [%s], timeout: 200ms}\n  instance_id: %s\n", redisAddr, id)
}

// clusterStatsDoc is GET /stats?scope=cluster.
type clusterStatsDoc struct {
	Scope         string `json:"scope"`
	RequestsCount struct {
		Success int64 `json:"success"`
		Error   int64 `json:"error"`
	} `json:"requests_count"`
	LatencyMs struct {
		Average, P95, P99 float64
	} `json:"latency_ms"`
	Replicas  int `json:"replicas"`
	Instances []struct {
		ID            string `json:"id"`
		RequestsCount struct {
			Success int64 `json:"success"`
			Error   int64 `json:"error"`
		} `json:"requests_count"`
	} `json:"instances"`
}

// getClusterStats reads GET /stats?scope=cluster; the document is zero
// unless the status is 200.
func (g *gw) getClusterStats(t *testing.T) (clusterStatsDoc, reply) {
	t.Helper()
	r := g.get(t, "/stats?scope=cluster")
	var c clusterStatsDoc
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.body, &c); err != nil {
			t.Fatalf("/stats?scope=cluster: %v in %q", err, r.body)
		}
	}
	return c, r
}

// killForStats ends the process with SIGKILL, as a crash would, and waits for it;
// the cleanup then does not expect exit code 0.
func (g *gw) killForStats(t *testing.T) {
	t.Helper()
	g.signal(syscall.SIGKILL)
	<-g.exited
	g.err = nil // written by the waiting goroutine before exited closed
}

// TestClusterStats: three replicas share one Redis; after traffic to each,
// every replica's /stats?scope=cluster is the sum of the replicas' own
// /stats counts with replicas 3 and each instance's counts; a killed
// replica's publication expires within 3s and it drops out; with Redis
// paused the cluster scope answers 503 and recovers when Redis
// resumes; with Redis stopped it answers 503 naming the store, and
// /stats without a scope is unchanged.
func TestClusterStats(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	up := newRecorder(t, nil).url()
	var gws []*gw
	for i := range 3 {
		id := fmt.Sprintf("replica-%d", i)
		gws = append(gws, startGateway(t, staticRoutes([3]string{"/t", up, ""})+statsClusterYAML(srv.Addr, id)))
	}
	for i, g := range gws {
		for j := range 10 * (i + 1) {
			path := "/t/x"
			if j%5 == 0 {
				path = "/nowhere" // the default response, 404: an error
			}
			g.get(t, path)
		}
	}
	sum := func(gs []*gw) (s, e int64) {
		for _, g := range gs {
			a, b := g.stats(t).counts(t)
			s, e = s+a, e+b
		}
		return s, e
	}
	wantS, wantE := sum(gws)
	if wantS != 48 || wantE != 12 {
		t.Fatalf("the replicas' own /stats sum to %d/%d, want 48/12", wantS, wantE)
	}
	for _, g := range gws {
		var c clusterStatsDoc
		eventually(t, 5*time.Second, "cluster stats equal to the sum of the replicas' own", func() bool {
			c, _ = g.getClusterStats(t)
			return c.Replicas == 3 && c.RequestsCount.Success == wantS && c.RequestsCount.Error == wantE
		})
		if c.Scope != "cluster" || len(c.Instances) != 3 || c.LatencyMs.P99 <= 0 || c.LatencyMs.P95 > c.LatencyMs.P99 {
			t.Errorf("cluster document %+v", c)
		}
		for _, in := range c.Instances {
			n := in.RequestsCount.Success + in.RequestsCount.Error
			var i int
			if _, err := fmt.Sscanf(in.ID, "replica-%d", &i); err != nil || n != int64(10*(i+1)) {
				t.Errorf("instance %q counts %d", in.ID, n)
			}
		}
	}

	// The killed replica's publication carries the 3s expiry in Redis
	// (checked there, not by a clock: these machines are noisy), and it
	// drops out of the cluster figures once that has run.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	key := "rgate:stats:{rgate}:replica:replica-2"
	gws[2].killForStats(t)
	// PTTL answers -2 for a key already expired, -1 for one that never would.
	if ttl, err := rdb.PTTL(t.Context(), key).Result(); err != nil || ttl == -1 || ttl > 3*time.Second {
		t.Errorf("PTTL %s = %v, %v; want a key expiring within 3s", key, ttl, err)
	}
	wantS, wantE = sum(gws[:2])
	var c clusterStatsDoc
	took := eventually(t, 20*time.Second, "the killed replica gone from the cluster stats", func() bool {
		c, _ = gws[0].getClusterStats(t)
		return c.Replicas == 2 && c.RequestsCount.Success == wantS && c.RequestsCount.Error == wantE
	})
	t.Logf("killed replica dropped out after %v", took.Round(10*time.Millisecond))
	if n, err := rdb.Exists(t.Context(), key).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS %s = %d, %v after it dropped out; want 0", key, n, err)
	}

	// Redis paused (SIGSTOP: connections stay open, nothing answers): 503
	// (the read is bounded by max(timeout, 1s); the elapsed time is only
	// logged); answering again once Redis resumes.
	srv.Pause()
	start := time.Now()
	_, r := gws[1].getClusterStats(t)
	t.Logf("scope=cluster with Redis paused answered %d after %v", r.status, time.Since(start).Round(time.Millisecond))
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("scope=cluster with Redis paused: %d %q, want 503", r.status, r.body)
	}
	srv.Resume()
	eventually(t, 15*time.Second, "cluster stats again after Redis resumed", func() bool {
		c, _ = gws[1].getClusterStats(t)
		return c.Replicas == 2
	})

	local := gws[0].get(t, "/stats")
	srv.Stop()
	start = time.Now()
	_, r = gws[0].getClusterStats(t)
	t.Logf("scope=cluster with Redis stopped answered %d after %v", r.status, time.Since(start).Round(time.Millisecond))
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "cluster stats") && !strings.Contains(string(r.body), "cluster store") {
		t.Errorf("scope=cluster with Redis stopped: %d %q, want 503 naming the store", r.status, r.body)
	}
	if again := gws[0].get(t, "/stats"); again.status != 200 || string(again.body) != string(local.body) {
		t.Errorf("/stats without scope with Redis stopped: %d %q, want 200 and this replica's figures as before: %q",
			again.status, again.body, local.body)
	}
}
