package ratelimit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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
	b.Run("cluster", func(b *testing.B) {
		srv := redistest.Start(b)
		s := openStore(b, srv.Addr, time.Second)
		c := NewCluster(cfg, ClusterOptions{Store: s, Route: "/bench"})
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
	})
}
