package ratelimit

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/cluster/redistest"
	"github.com/rgate/rgate/internal/config"
)

// BenchmarkDecision compares one admitted request's decision on a local
// limit with one on a cluster limit against a real redis-server on
// loopback (one client, 10k keys): the cost of a decision when nothing
// else is in flight. It reports this process's CPU per decision, and for
// the cluster runs Redis commands per admitted request from INFO
// commandstats.
func BenchmarkDecision(b *testing.B) {
	cfg := config.RateLimit{Key: "header:X-User-ID", Default: fast, OnStoreError: config.StoreErrorLocal}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	users := make([]string, 10_000)
	for i := range users {
		users[i] = "user-" + string(rune('a'+i%26)) + "-" + time.Duration(i).String()
	}
	run := func(b *testing.B, h http.Handler) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		w := &nopWriter{h: http.Header{}}
		admitted := 0
		b.ReportAllocs()
		start := cpuTime()
		defer func() { b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-us/op") }()
		for i := 0; b.Loop(); i++ {
			r.Header["X-User-Id"] = users[i%len(users) : i%len(users)+1]
			clear(w.h)
			w.status = 0
			h.ServeHTTP(w, r)
			if w.status == 0 {
				admitted++
			}
		}
		return admitted
	}
	b.Run("local", func(b *testing.B) {
		run(b, New(NewLimiter(cfg), next))
	})
	srv := redistest.Start(b)
	s := openStore(b, srv.Addr, time.Second)
	for _, mode := range clusterModes {
		b.Run(mode, func(b *testing.B) { benchCluster(b, s, cfg, next, mode, run) })
	}
}

// clusterModes are the ways a cluster limit can talk to one Redis:
// "cluster" as it runs (batched), "cluster-autopipelined" (one EVALSHA
// per decision, sharing the connection, as against a Redis Cluster) and
// "cluster-unpipelined" (one EVALSHA per decision on a pooled connection).
var clusterModes = []string{"cluster", "cluster-autopipelined", "cluster-unpipelined"}

// newBenchCluster is a cluster limit for cfg on s in the given mode.
func newBenchCluster(s *cluster.Store, cfg config.RateLimit, mode string) *ClusterLimiter {
	c := NewCluster(cfg, ClusterOptions{Store: s, Route: "/bench"})
	switch mode {
	case "cluster-autopipelined":
		c.batch, c.ap = nil, pipeliner(c.client)
	case "cluster-unpipelined":
		c.batch, c.ap = nil, nil
	}
	return c
}

func benchCluster(b *testing.B, s *cluster.Store, cfg config.RateLimit, next http.Handler, mode string, run func(*testing.B, http.Handler) int) {
	c := newBenchCluster(s, cfg, mode)
	h := NewClusterHandler(c, next)
	if err := s.Client().ConfigResetStat(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
	admitted := run(b, h)
	if c.Fallbacks() != 0 {
		b.Fatalf("%d decisions fell back", c.Fallbacks())
	}
	stats := commandStats(b, s)
	if admitted > 0 {
		b.ReportMetric(float64(stats["evalsha"]+stats["eval"])/float64(admitted), "redis-cmds/admitted")
	}
}

// BenchmarkDecisionParallel is BenchmarkDecision from 64 goroutines (as
// many requests in flight as the bench's wrk connections), reporting this
// process's CPU per decision and, for the cluster limits, Redis's own CPU
// and client commands per decision.
func BenchmarkDecisionParallel(b *testing.B) {
	cfg := config.RateLimit{Default: fast, OnStoreError: config.StoreErrorLocal}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		b.SetParallelism(32) // x GOMAXPROCS goroutines
		start := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = "192.0.2." + strconv.Itoa(rand.IntN(250)) + ":1"
			w := &nopWriter{h: http.Header{}}
			for pb.Next() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
		b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-us/op")
	}
	b.Run("local", func(b *testing.B) { run(b, New(NewLimiter(cfg), next)) })
	srv := redistest.Start(b)
	s := openStore(b, srv.Addr, time.Second)
	for _, mode := range clusterModes {
		b.Run(mode, func(b *testing.B) {
			c := newBenchCluster(s, cfg, mode)
			if err := s.Client().ConfigResetStat(context.Background()).Err(); err != nil {
				b.Fatal(err)
			}
			redisStart := redisCPU(b, s)
			run(b, NewClusterHandler(c, next))
			b.ReportMetric(float64((redisCPU(b, s)-redisStart).Microseconds())/float64(b.N), "redis-cpu-us/op")
			stats := commandStats(b, s)
			b.ReportMetric(float64(stats["evalsha"]+stats["eval"])/float64(b.N), "redis-cmds/op")
			if c.Fallbacks() != 0 {
				b.Fatalf("%d decisions fell back", c.Fallbacks())
			}
		})
	}
}

// redisCPU is the Redis server's user + system CPU time (INFO cpu).
func redisCPU(b *testing.B, s *cluster.Store) time.Duration {
	b.Helper()
	info, err := s.Client().Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\n") {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (name == "used_cpu_user" || name == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO cpu %s: %q", name, v)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// cpuTime is this process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
