package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/cluster/redistest"
	"github.com/rgate/rgate/internal/config"
)

// holdBatches marks c's batcher busy, as if a batch were on its way, so
// that decisions queue; it returns once n of them are queued.
func holdBatches(t *testing.T, b *batcher, n int, start func()) {
	t.Helper()
	b.mu.Lock()
	b.busy = true
	b.mu.Unlock()
	start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		queued := len(b.queue)
		b.mu.Unlock()
		if queued == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d decisions queued, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitIdle waits until b has sent everything queued.
func waitIdle(t *testing.T, b *batcher) {
	t.Helper()
	for range 10_000 {
		b.mu.Lock()
		idle := !b.busy && len(b.queue) == 0
		b.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("batcher still busy")
}

// TestBatchQueuedDecisions: decisions that queue behind a batch go out
// together, at most maxBatch per script run, and each bucket admits
// exactly its limit, its RateLimit-Remaining counting down once per
// admitted request as if each had had its own EVALSHA.
func TestBatchQueuedDecisions(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, 5*time.Second)
	c, h := newClusterTest(config.RateLimit{Key: "header:X-User-ID", Default: rateCfg(20, time.Hour, 0)}, ClusterOptions{Store: s})
	if c.batch == nil {
		t.Fatal("no batcher against a standalone Redis")
	}
	send(h, "192.0.2.1:1", "X-User-ID", "warm-up") // loads the script
	if err := s.Client().ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}

	const users, each = 3, 100 // 300 decisions: batches of 128, 128, 44
	answers := make([][]answer, users)
	for u := range answers {
		answers[u] = make([]answer, each)
	}
	var wg sync.WaitGroup
	holdBatches(t, c.batch, users*each, func() {
		for u := range users {
			for i := range each {
				wg.Go(func() { answers[u][i] = send(h, "192.0.2.1:1", "X-User-ID", "user-"+strconv.Itoa(u)) })
			}
		}
	})
	c.batch.release(nil) // the held "batch" is back: the queue goes out
	wg.Wait()
	waitIdle(t, c.batch)

	stats := commandStats(t, s)
	if want := (users*each + maxBatch - 1) / maxBatch; stats["evalsha"] != want || stats["eval"] != 0 {
		t.Fatalf("commands for %d queued decisions: %v, want %d EVALSHA", users*each, stats, want)
	}
	for u, as := range answers {
		var remaining []int
		refused := 0
		for _, a := range as {
			switch a.status {
			case http.StatusNoContent:
				n, err := strconv.Atoi(a.remaining)
				if err != nil {
					t.Fatalf("user-%d: RateLimit-Remaining %q", u, a.remaining)
				}
				remaining = append(remaining, n)
			case http.StatusTooManyRequests:
				refused++
			default:
				t.Fatalf("user-%d: %+v", u, a)
			}
		}
		slices.Sort(remaining)
		want := make([]int, 20)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(remaining, want) || refused != each-20 {
			t.Fatalf("user-%d: admitted with remaining %v and %d refused, want remaining 0..19 and %d refused",
				u, remaining, refused, each-20)
		}
	}
}

// TestBatchReplicasUnderLoad: two replicas deciding concurrently for the
// same buckets, batching as load makes them, admit exactly the one limit
// per bucket.
func TestBatchReplicasUnderLoad(t *testing.T) {
	srv := redistest.Start(t)
	cfg := config.RateLimit{Key: "header:X-User-ID", Default: rateCfg(30, time.Hour, 0)}
	_, a := newClusterTest(cfg, ClusterOptions{Store: openStore(t, srv.Addr, 5*time.Second)})
	_, b := newClusterTest(cfg, ClusterOptions{Store: openStore(t, srv.Addr, 5*time.Second)})
	const users, workers, each = 6, 40, 15
	var mu sync.Mutex
	admitted := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				h := a
				if (w+i)%2 == 1 {
					h = b
				}
				user := "user-" + strconv.Itoa((w*each+i)%users)
				ans := send(h, "192.0.2.1:1", "X-User-ID", user)
				if ans.status != http.StatusNoContent && ans.status != http.StatusTooManyRequests {
					t.Errorf("%s: %+v", user, ans)
				}
				if ans.status == http.StatusNoContent {
					mu.Lock()
					admitted[user]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for u := range users {
		if got := admitted["user-"+strconv.Itoa(u)]; got != 30 {
			t.Errorf("user-%d: two replicas admitted %d of %d, want the limit 30", u, got, workers*each/users)
		}
	}
}

// TestBatchNoScript: after Redis lost its scripts, the next batch loads
// the script with one EVAL and the following ones use EVALSHA again.
func TestBatchNoScript(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, 5*time.Second)
	_, h := newClusterTest(config.RateLimit{Default: rateCfg(100, time.Second, 0)}, ClusterOptions{Store: s})
	send(h, "192.0.2.1:1")
	ctx := context.Background()
	if err := s.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Client().ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if a := send(h, "192.0.2.1:1"); a.status != http.StatusNoContent || a.remaining != strconv.Itoa(100-2-i) {
			t.Fatalf("decision %d after SCRIPT FLUSH: %+v", i, a)
		}
	}
	if stats := commandStats(t, s); stats["eval"] != 1 || stats["evalsha"] != 3 {
		t.Fatalf("commands: %v, want 3 EVALSHA (the first refused) and 1 EVAL", stats)
	}
}

// TestBatchWaiterDeadline: a decision whose deadline passes while it is
// queued returns its context's error at once; the batch still goes out
// later and its answer, which nobody waits for, is dropped.
func TestBatchWaiterDeadline(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, 5*time.Second)
	c, _ := newClusterTest(config.RateLimit{Default: rateCfg(100, time.Second, 0)}, ClusterOptions{Store: s})
	errc := make(chan error, 1)
	holdBatches(t, c.batch, 1, func() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_, _, err := c.batch.decide(ctx, "rgate:rl:/api::ip:192.0.2.1", c.args[0])
			errc <- err
		}()
	})
	select {
	case err := <-errc:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("queued past its deadline: %v, want %v", err, context.DeadlineExceeded)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a queued decision outlived its deadline")
	}
	c.batch.release(nil)
	waitIdle(t, c.batch)
	n, err := s.Client().Exists(context.Background(), "rgate:rl:/api::ip:192.0.2.1").Result()
	if err != nil || n != 1 {
		t.Fatalf("the abandoned decision's batch did not run: exists=%d err=%v", n, err)
	}
}

// TestParseVerdicts: the script's answer is read entry by entry, and a
// malformed one, or one with another number of entries, is errReply.
func TestParseVerdicts(t *testing.T) {
	tests := []struct {
		reply string
		n     int
		want  []verdict // nil: errReply
	}{
		{"1500", 1, []verdict{{ok: true, wait: 500}}},
		{"1500,00,07", 3, []verdict{{ok: true, wait: 500}, {ok: false, wait: 0}, {ok: false, wait: 7}}},
		{"", 1, nil},
		{"1", 1, nil},
		{"2500", 1, nil},
		{"1x", 1, nil},
		{"1500", 2, nil},
		{"1500,1", 2, nil},
		{"1500,00", 1, nil},
		{"1500,", 1, nil},
		{",1500", 2, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%d", tt.reply, tt.n), func(t *testing.T) {
			out := make([]verdict, tt.n)
			err := parseVerdicts(tt.reply, out)
			if tt.want == nil {
				if !errors.Is(err, errReply) {
					t.Fatalf("err %v, want errReply", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out, tt.want) {
				t.Fatalf("verdicts %+v, want %+v", out, tt.want)
			}
		})
	}
}
