package route

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/metrics"
)

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestClusterLimiterSurvivesRecompile: a cluster-scoped rate limit is
// built on the store, kept across compiles while its config is unchanged,
// and served as local when there is no store.
func TestClusterLimiterSurvivesRecompile(t *testing.T) {
	t.Parallel()
	cc := &config.Cluster{Redis: config.Redis{Addrs: []string{closedAddr(t)}, Timeout: config.Duration(20 * time.Millisecond)}}
	store, err := cluster.Open(cc, "test:1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	mk := func() *config.Config {
		cfg := policyConfig()
		cfg.Cluster = cc
		cfg.Routes[0].RateLimit.Scope = config.ScopeCluster
		cfg.Routes[0].RateLimit.OnStoreError = config.StoreErrorDeny
		return cfg
	}
	st := NewState()
	deps := Deps{State: st, Cluster: store, Metrics: metrics.New(), Replicas: func() int { return 3 }}
	t1 := Compile(mk(), docker.Snapshot{}, deps)
	r1 := t1.Lookup("/api/payment")
	if r1.ClusterLimiter == nil || r1.Limiter != nil || r1.ClusterLimiter.Mode() != config.StoreErrorDeny {
		t.Fatalf("cluster limiter %v, local limiter %v", r1.ClusterLimiter, r1.Limiter)
	}
	t2 := Compile(mk(), docker.Snapshot{}, deps)
	if t2.Lookup("/api/payment").ClusterLimiter != r1.ClusterLimiter {
		t.Error("an unchanged cluster rate limit lost its state")
	}
	cfg := mk()
	cfg.Routes[0].RateLimit.OnStoreError = config.StoreErrorAllow
	if Compile(cfg, docker.Snapshot{}, deps).Lookup("/api/payment").ClusterLimiter == r1.ClusterLimiter {
		t.Error("a changed cluster rate limit kept its state")
	}
	local := Compile(mk(), docker.Snapshot{}, Deps{State: NewState()}).Lookup("/api/payment")
	if local.Limiter == nil || local.ClusterLimiter != nil {
		t.Errorf("without a store: local %v, cluster %v", local.Limiter, local.ClusterLimiter)
	}
}
