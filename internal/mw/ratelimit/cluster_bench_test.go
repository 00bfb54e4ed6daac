package ratelimit

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/cluster/redistest"
	"github.com/rgate/rgate/internal/config"
)

// BenchmarkDecision compares one admitted request's decision on a local
// limit with one on a cluster limit against a real redis-server on
// loopback (one client, 10k keys). The cluster run reports Redis
// commands per admitted request from INFO commandstats.
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
	for _, pipelined := range []bool{true, false} {
		name := "cluster"
		if !pipelined {
			name = "cluster-unpipelined"
		}
		b.Run(name, func(b *testing.B) { benchCluster(b, s, cfg, next, pipelined, run) })
	}
}

func benchCluster(b *testing.B, s *cluster.Store, cfg config.RateLimit, next http.Handler, pipelined bool, run func(*testing.B, http.Handler) int) {
	c := NewCluster(cfg, ClusterOptions{Store: s, Route: "/bench"})
	if !pipelined {
		c.ap = nil
	}
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
// process's CPU per decision (Redis's own CPU is not in it).
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
	for _, pipelined := range []bool{true, false} {
		name := "cluster"
		if !pipelined {
			name = "cluster-unpipelined"
		}
		b.Run(name, func(b *testing.B) {
			c := NewCluster(cfg, ClusterOptions{Store: s, Route: "/bench"})
			if !pipelined {
				c.ap = nil
			}
			run(b, NewClusterHandler(c, next))
			if c.Fallbacks() != 0 {
				b.Fatalf("%d decisions fell back", c.Fallbacks())
			}
		})
	}
}

// cpuTime is this process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
