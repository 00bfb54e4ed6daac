package ratelimit

// # Batched decisions
//
// Against one Redis (standalone or Sentinel) a cluster-scoped limit sends
// the decisions that arrive while one is on its way together, as one
// EVALSHA of gcraScript over all their keys: the first request of an idle limit sends its
// own decision at once; those that arrive during that round trip queue
// and go out as the next batch when it returns. Each batch is still one
// atomic script run, the decisions in it taken one after the other in
// arrival order, so the accuracy is that of one EVALSHA per decision; the
// cost is one command, one TIME, one write and one read per batch instead
// of per decision. Under load a batch holds the requests of one round
// trip, so this replica's CPU and the commands Redis parses fall with the
// load; alone, a request pays what it paid before.
//
// Redis Cluster keeps one EVALSHA per decision (autopipelined): the
// buckets of a route spread over its nodes, and one script may only touch
// keys of one slot.
//
// The queue is one mutex per limit held for an append; the round trip
// runs outside it, under the store's timeout, never under one requester's
// context (a client that goes away fails nobody else's decision). Each
// waiter stops at its own deadline; an answer nobody waits for is
// dropped. No goroutine outlives its batch: the leader sends its own batch
// and, if more arrived meanwhile, hands the queue to a goroutine that
// sends batches until it is empty.

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/rgate/rgate/internal/cluster"
)

// maxBatch bounds one script run (Redis runs nothing else meanwhile).
const maxBatch = 128

// verdict is one decision's answer.
type verdict struct {
	ok   bool
	wait float64 // microseconds until the bucket is full
	err  error
}

// pending is a decision waiting for its batch.
type pending struct {
	key  string
	args []any // the tier's interval and burst offset
	done chan verdict
}

// batcher queues a limit's decisions and sends them in batches.
type batcher struct {
	store  *cluster.Store
	client redis.UniversalClient

	mu    sync.Mutex
	queue []*pending
	spare []*pending // the slice the last batch used, kept for the next queue
	busy  bool       // a batch is on its way; the sender takes the queue after it
}

func newBatcher(s *cluster.Store) *batcher {
	if _, ok := s.Client().(*redis.ClusterClient); ok {
		return nil
	}
	return &batcher{store: s, client: s.Client()}
}

// pendings recycles the pending of a decision whose verdict was received:
// the sender touches a pending for the last time when it hands over the
// verdict. One that was abandoned at its deadline is left to the
// collector, since its batch may still be on its way.
var pendings = sync.Pool{New: func() any { return &pending{done: make(chan verdict, 1)} }}

// decide queues one decision and waits for it at most until ctx ends.
func (b *batcher) decide(ctx context.Context, key string, args []any) (bool, float64, error) {
	p := pendings.Get().(*pending)
	p.key, p.args = key, args
	b.mu.Lock()
	b.queue = append(b.queue, p)
	lead := !b.busy
	var batch []*pending
	if lead {
		b.busy = true
		batch = b.take()
	}
	b.mu.Unlock()
	if lead {
		b.send(batch)
		b.release(batch)
	}
	select {
	case v := <-p.done:
		p.key, p.args = "", nil
		pendings.Put(p)
		return v.ok, v.wait, v.err
	case <-ctx.Done():
		return false, 0, ctx.Err()
	}
}

// take removes up to maxBatch decisions from the queue; b.mu is held.
func (b *batcher) take() []*pending {
	if len(b.queue) <= maxBatch {
		batch := b.queue
		b.queue, b.spare = b.spare[:0], nil
		return batch
	}
	batch := make([]*pending, maxBatch)
	copy(batch, b.queue)
	b.queue = append(b.queue[:0], b.queue[maxBatch:]...)
	return batch
}

// release ends a sent batch: the next one goes out from a goroutine of
// its own if the queue filled meanwhile, and the limit is idle otherwise.
func (b *batcher) release(batch []*pending) {
	clear(batch)
	b.mu.Lock()
	if b.spare == nil {
		b.spare = batch[:0]
	}
	if len(b.queue) == 0 {
		b.busy = false
		b.mu.Unlock()
		return
	}
	next := b.take()
	b.mu.Unlock()
	go func() {
		b.send(next)
		b.release(next)
	}()
}

// send runs one batch and hands each waiter its verdict.
func (b *batcher) send(batch []*pending) {
	ctx, cancel := b.store.Context(context.Background())
	defer cancel()
	args := make([]any, 3, 3+3*len(batch))
	args[1], args[2] = gcraSHA, len(batch)
	for _, p := range batch {
		args = append(args, p.key)
	}
	for _, p := range batch {
		args = append(args, p.args[0], p.args[1])
	}
	args[0] = "evalsha"
	cmd := redis.NewStringCmd(ctx, args...)
	err := b.client.Process(ctx, cmd)
	if noScript(err) {
		args[0], args[1] = "eval", gcraScript // loads it for the next EVALSHA
		cmd = redis.NewStringCmd(ctx, args...)
		err = b.client.Process(ctx, cmd)
	}
	var vs [maxBatch]verdict
	if err == nil {
		err = parseVerdicts(cmd.Val(), vs[:len(batch)])
	}
	for i, p := range batch {
		if err != nil {
			vs[i] = verdict{err: err}
		}
		p.done <- vs[i]
	}
}

// parseVerdicts reads the script's answer into out, one entry per key;
// an answer with another number of entries, or a malformed one, is
// errReply.
func parseVerdicts(s string, out []verdict) error {
	for i := range out {
		end := len(s)
		if i < len(out)-1 {
			end = strings.IndexByte(s, ',')
		}
		if end < 2 || (s[0] != '0' && s[0] != '1') {
			return errReply
		}
		w, err := strconv.ParseInt(s[1:end], 10, 64)
		if err != nil {
			return errReply
		}
		out[i] = verdict{ok: s[0] == '1', wait: float64(w)}
		if end < len(s) {
			s = s[end+1:]
		} else {
			s = ""
		}
	}
	if s != "" {
		return errReply
	}
	return nil
}
