package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStatsCounts: /stats counts a known mix exactly (success 200-399, error
// above 399, default responses and gateway errors included), never counts
// admin calls, and reports latencies.
func TestStatsCounts(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "ok", map[string]string{"app_name": label})
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /ok
    backend: ok
  - path_prefix: /none
    backend: none
default_response:
  body: "This is not reachable"
  status_code: 403
backends:
  - name: ok
    match_labels: [app_name=%s]
  - name: none
    match_labels: [app_name=%[1]s-none]
`, label))
	if s, e := g.stats(t).counts(t); s != 0 || e != 0 {
		t.Fatalf("fresh gateway: success %d, error %d; want 0, 0", s, e)
	}
	// Wait for the container to be routed, counting what the waiting cost.
	var waitSuccess, waitError int64
	eventually(t, 5*time.Second, "GET /ok/a answered by "+c.name, func() bool {
		r := g.get(t, "/ok/a")
		if r.status >= 400 {
			waitError++
			return false
		}
		waitSuccess++
		return true
	})

	want := []struct {
		path   string
		status int
		n      int
	}{
		{"/ok/a", http.StatusOK, 6},
		{"/ok/status?code=302", http.StatusFound, 1},
		{"/nowhere", http.StatusForbidden, 3},
		{"/none/x", http.StatusServiceUnavailable, 2},
		{"/ok/status?code=500", http.StatusInternalServerError, 1},
	}
	for _, w := range want {
		for range w.n {
			if r := g.get(t, w.path); r.status != w.status {
				t.Fatalf("GET %s = %d, want %d; body %q", w.path, r.status, w.status, r.body)
			}
		}
	}
	wantSuccess, wantError := 7+waitSuccess, 6+waitError
	var s statsReply
	eventually(t, 2*time.Second, fmt.Sprintf("stats success %d, error %d", wantSuccess, wantError), func() bool {
		s = g.stats(t)
		succ, errs := s.counts(t)
		return succ == wantSuccess && errs == wantError
	})
	for range 5 {
		g.get(t, "/stats")
		g.get(t, "/health")
	}
	if succ, errs := g.stats(t).counts(t); succ != wantSuccess || errs != wantError {
		t.Errorf("after admin calls: success %d, error %d; want %d, %d (admin calls must not count)",
			succ, errs, wantSuccess, wantError)
	}

	l := s.LatencyMS
	if l == nil || l.Average == nil || l.P95 == nil || l.P99 == nil {
		t.Fatalf("latency_ms.average, .p95 or .p99 missing")
	}
	if *l.Average <= 0 || *l.P95 <= 0 || *l.P99 <= 0 || *l.P99 < *l.P95 {
		t.Errorf("latency_ms average %v p95 %v p99 %v: want all > 0 and p99 >= p95", *l.Average, *l.P95, *l.P99)
	}
	if s.Routes == nil || s.Backends == nil {
		t.Errorf("/stats: want \"routes\" and \"backends\" objects beside the seed keys")
	}
}

// TestConcurrentRequests: 2000 requests from 200 concurrent clients are all
// answered 200, and /stats counts exactly 2000 more successes.
func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	const total, workers = 2000, 200
	label := uniq(t)
	a := runContainer(t, "a", map[string]string{"app_name": label})
	b := runContainer(t, "b", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	path := "/api/" + label + "/load"
	g.waitBackend(t, path, a.name, 5*time.Second)
	g.waitBackend(t, path, b.name, 5*time.Second)
	succ0, err0 := g.stats(t).counts(t)

	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxConnsPerHost:     workers,
		MaxIdleConnsPerHost: workers,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	var next, ok atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= total {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.url+path, nil)
				r, err := doWith(client, req)
				if err == nil && r.status == http.StatusOK {
					ok.Add(1)
					continue
				}
				mu.Lock()
				if len(failures) < 10 {
					failures = append(failures, fmt.Sprintf("status %d err %v", r.status, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d requests, %d workers: %v", total, workers, time.Since(start))
	if ok.Load() != total {
		t.Fatalf("%d of %d requests answered 200; first failures: %v", ok.Load(), total, failures)
	}
	eventually(t, 5*time.Second, fmt.Sprintf("stats success %d", succ0+total), func() bool {
		succ, _ := g.stats(t).counts(t)
		return succ == succ0+total
	})
	if succ, errs := g.stats(t).counts(t); succ != succ0+total || errs != err0 {
		t.Errorf("stats success %d, error %d; want %d, %d", succ, errs, succ0+total, err0)
	}
}
