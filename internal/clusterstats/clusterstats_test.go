package clusterstats

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/cluster/redistest"
	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/stats"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openStore(t *testing.T, addr, id string) *cluster.Store {
	t.Helper()
	c := &config.Cluster{Redis: config.Redis{Addrs: []string{addr}}}
	(&config.Config{Cluster: c}).ApplyDefaults()
	s, err := cluster.Open(c, id, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type replica struct {
	stats  *stats.Store
	sharer *Sharer
}

func newReplica(t *testing.T, addr, id string, ttl time.Duration) replica {
	t.Helper()
	st := stats.NewStore()
	return replica{st, New(Options{Store: openStore(t, addr, id), Stats: st, TTL: ttl, Interval: 50 * time.Millisecond})}
}

func exactPct(sorted []time.Duration, pct int) float64 {
	r := int(math.Ceil(float64(len(sorted)) * float64(pct) / 100))
	return float64(sorted[max(r, 1)-1]) / 1e6
}

// TestMergedOverRedis: three replicas with known, different latency
// distributions publish to a real Redis; the cluster figures are the sum
// of their counts, their p95/p99 are within 1% of the exact percentiles
// over the union, and every replica counts 3 replicas.
func TestMergedOverRedis(t *testing.T) {
	srv := redistest.Start(t)
	r := rand.New(rand.NewPCG(3, 4))
	dists := []func() time.Duration{
		func() time.Duration { return time.Duration(r.ExpFloat64() * float64(time.Millisecond)) },
		func() time.Duration { return time.Duration(math.Exp(r.NormFloat64())*20) * time.Millisecond },
		func() time.Duration { return time.Duration(100+r.IntN(400)) * time.Millisecond },
	}
	var reps []replica
	var all []time.Duration
	var success, errs uint64
	for i, d := range dists {
		rep := newReplica(t, srv.Addr, []string{"a:1", "b:1", "c:1"}[i], 0)
		for j := range 10000 * (i + 1) {
			v := d()
			status := 200
			if j%10 == 0 {
				status, errs = 503, errs+1
			} else {
				success++
			}
			rep.stats.Global().Record(status, v)
			all = append(all, v)
		}
		reps = append(reps, rep)
	}
	ctx := t.Context()
	for _, rep := range reps {
		rep.sharer.publish(ctx)
	}
	reps[0].sharer.publish(ctx) // counts the others too now
	if n := reps[0].sharer.Replicas(); n != 3 {
		t.Errorf("Replicas() = %d, want 3", n)
	}
	c, err := reps[1].sharer.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Total.Success != success || c.Total.Error != errs {
		t.Errorf("cluster counts %d/%d, want %d/%d", c.Total.Success, c.Total.Error, success, errs)
	}
	slices.Sort(all)
	for _, p := range []struct {
		pct int
		got float64
	}{{95, c.Total.P95Ms}, {99, c.Total.P99Ms}, {50, c.Total.P50Ms}} {
		if want := exactPct(all, p.pct); math.Abs(p.got-want) > 0.01*want {
			t.Errorf("cluster p%d = %.3f ms, exact over the union %.3f ms: off by more than 1%%", p.pct, p.got, want)
		}
	}
	var ids []string
	for _, in := range c.Instances {
		ids = append(ids, in.ID)
	}
	if want := []string{"b:1", "a:1", "c:1"}; !slices.Equal(ids, want) || !c.Instances[0].Self {
		t.Errorf("instances %v, want %v with self first", ids, want)
	}
	if got := c.Instances[2].Summary.Count(); got != 30000 {
		t.Errorf("c:1 counts %d, want 30000", got)
	}
}

// TestDropOut: a replica that stops gracefully is gone at once; one that
// stops publishing (killed) is gone once its value expires.
func TestDropOut(t *testing.T) {
	srv := redistest.Start(t)
	ttl := time.Second
	a, b, c := newReplica(t, srv.Addr, "a", ttl), newReplica(t, srv.Addr, "b", ttl), newReplica(t, srv.Addr, "c", ttl)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { b.sharer.Run(ctx); close(done) }()
	c.sharer.publish(t.Context()) // once, then "killed"
	live := func() int {
		got, err := a.sharer.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return len(got.Instances)
	}
	waitFor(t, 2*time.Second, "three replicas", func() bool { return live() == 3 })
	c.sharer.publish(t.Context()) // c's last publication: live for ttl from now
	cancel()
	<-done
	if n := live(); n != 2 {
		t.Errorf("just after b stopped: %d replicas, want 2 (a, and c until its value expires)", n)
	}
	waitFor(t, 2*ttl, "b gone at once, c after its expiry", func() bool { return live() == 1 })
	a.sharer.publish(t.Context())
	if n := a.sharer.Replicas(); n != 1 {
		t.Errorf("Replicas() = %d after the others left, want 1", n)
	}
}

// TestStoreDown: with Redis paused the read fails within its bound and
// puts the store in fallback; from then on the handler answers 503 at once
// with a JSON error that names the store's problem.
func TestStoreDown(t *testing.T) {
	srv := redistest.Start(t)
	a := newReplica(t, srv.Addr, "a", 0)
	a.sharer.publish(t.Context())
	srv.Pause()
	defer srv.Resume()
	start := time.Now()
	_, err := a.sharer.Read(t.Context())
	if took := time.Since(start); err == nil || took > minBound+500*time.Millisecond {
		t.Fatalf("read with Redis paused: %v after %v, want an error within ~%v", err, took, minBound)
	}
	h := a.sharer.Handler()
	rec := httptest.NewRecorder()
	start = time.Now()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats?scope=cluster", nil))
	var body struct{ Error string }
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 503 || !strings.Contains(body.Error, "cluster store unavailable") || time.Since(start) > 100*time.Millisecond {
		t.Errorf("handler with the store in fallback: %d %q after %v, want 503 naming the store at once", rec.Code, rec.Body, time.Since(start))
	}
	if _, err := a.sharer.Read(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Read in fallback: %v, want ErrUnavailable", err)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats?scope=cluster&window=60s", nil))
	if rec.Code != 400 {
		t.Errorf("window with scope=cluster: %d, want 400", rec.Code)
	}
}

// TestHandlerDocument: the document has the seed keys and replicas,
// instances beside them.
func TestHandlerDocument(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newReplica(t, srv.Addr, "a", 0), newReplica(t, srv.Addr, "b", 0)
	a.stats.Global().Record(200, 2*time.Millisecond)
	b.stats.Global().Record(500, 4*time.Millisecond)
	b.sharer.publish(t.Context())
	rec := httptest.NewRecorder()
	a.sharer.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats?scope=cluster", nil))
	var doc struct {
		Scope         string
		RequestsCount struct{ Success, Error uint64 }     `json:"requests_count"`
		LatencyMs     struct{ Average, P95, P99 float64 } `json:"latency_ms"`
		Replicas      int
		Instances     []struct {
			ID            string
			RequestsCount struct{ Success, Error uint64 } `json:"requests_count"`
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	if doc.Scope != "cluster" || doc.RequestsCount.Success != 1 || doc.RequestsCount.Error != 1 || doc.Replicas != 2 ||
		doc.LatencyMs.Average != 3 || len(doc.Instances) != 2 || doc.Instances[1].ID != "b" || doc.Instances[1].RequestsCount.Error != 1 {
		t.Errorf("document %s", rec.Body)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkPublish is one publication against a real Redis: encoding,
// the MULTI and the count of live replicas. A replica does it once a
// second, off the request path.
func BenchmarkPublish(b *testing.B) {
	srv := redistest.Start(b)
	c := &config.Cluster{Redis: config.Redis{Addrs: []string{srv.Addr}}}
	(&config.Config{Cluster: c}).ApplyDefaults()
	st, err := cluster.Open(c, "bench", slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := New(Options{Store: st, Stats: stats.NewStore()})
	r := rand.New(rand.NewPCG(1, 1))
	for range 100000 {
		s.stats.Global().Record(200, time.Duration(math.Exp(r.NormFloat64())*float64(time.Millisecond)))
	}
	b.ReportAllocs()
	for b.Loop() {
		s.publish(b.Context())
	}
}

// TestDuplicateInstanceID: two processes publishing under one instance id
// get a warning in the log, once.
func TestDuplicateInstanceID(t *testing.T) {
	srv := redistest.Start(t)
	var buf strings.Builder
	a := New(Options{Store: openStore(t, srv.Addr, "same"), Stats: stats.NewStore(),
		Log: slog.New(slog.NewTextHandler(&lockedWriter{b: &buf}, nil))})
	b := newReplica(t, srv.Addr, "same", 0)
	for range 3 {
		a.publish(t.Context())
		b.sharer.publish(t.Context())
	}
	if n := strings.Count(buf.String(), "another replica publishes cluster stats under this instance_id"); n != 1 {
		t.Errorf("%d warnings about the shared instance id, want 1; log:\n%s", n, buf.String())
	}
}

// TestNoCluster: without a store there is no Sharer, and its methods are
// safe to call: Run returns, no handler, one replica.
func TestNoCluster(t *testing.T) {
	s := New(Options{Stats: stats.NewStore()})
	if s != nil || s.Handler() != nil || s.Replicas() != 1 {
		t.Fatalf("New without a store: %v", s)
	}
	s.Run(t.Context())
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
