// Package clusterstats shares this replica's /stats figures with the other
// replicas through the cluster store, and merges everyone's for
// GET /stats?scope=cluster.
//
// # Publishing
//
// Once a second (Options.Interval) Run encodes the gateway-wide Series
// (stats.Series.AppendShared: counts, latency sum and max, the histogram's
// non-empty buckets) and writes it under
//
//	<prefix>stats:{rgate}:replica:<instance_id>    (string, expires after Options.TTL, default 3s)
//	<prefix>stats:{rgate}:replicas                 (sorted set of the instance ids that published)
//
// in one MULTI, then counts the live replicas with a small script that
// also removes ids whose value has expired. The {rgate} hash tag keeps
// every stats key in one slot, so the same commands work on a Redis
// Cluster. Publishing reads the histogram once a second and touches nothing
// on the request path. A replica that stops gracefully deletes its value;
// one that is killed drops out when its value expires.
//
// # Reading
//
// The cluster document lists the ids, fetches their values with one MGET,
// and merges them with this replica's live figures (stats.Merged). Each
// Redis call is bounded by max(cluster.redis.timeout, 1s); while the store
// is in fallback, or when a call fails, the answer is 503 with a JSON
// error that names the store's problem.
package clusterstats

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/stats"
)

// Defaults of Options.
const (
	DefaultInterval = time.Second
	DefaultTTL      = 3 * time.Second
	// minBound is the least time one stats call to Redis may take.
	minBound = time.Second
)

// Options wire a Sharer.
type Options struct {
	Store *cluster.Store
	Stats *stats.Store
	Log   *slog.Logger
	// Interval between publications; default DefaultInterval.
	Interval time.Duration
	// TTL is how long a publication stays live; default DefaultTTL.
	TTL time.Duration
}

// Sharer publishes this replica's figures and reads the cluster's.
type Sharer struct {
	store    *cluster.Store
	stats    *stats.Store
	log      *slog.Logger
	client   redis.UniversalClient
	interval time.Duration
	ttl      time.Duration
	bound    time.Duration
	index    string
	self     string
	// nonce tells this process's values from another replica's that
	// has the same instance id.
	nonce    [8]byte
	replicas atomic.Int64
	dupWarn  atomic.Bool
}

// header is the nonce and the publication time (Unix ms) before the
// encoded figures.
const headerLen = 16

// New returns a Sharer for o; nil when o.Store is nil (no cluster:), and
// a nil Sharer's Run returns at once and its Handler is nil.
func New(o Options) *Sharer {
	if o.Store == nil {
		return nil
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	bound := max(o.Store.Timeout(), minBound)
	s := &Sharer{store: o.Store, stats: o.Stats, log: o.Log, client: o.Store.Background(bound),
		interval: o.Interval, ttl: o.TTL, bound: bound,
		index: o.Store.Key("stats:{rgate}:replicas"), self: o.Store.Instance()}
	_, _ = rand.Read(s.nonce[:])
	s.replicas.Store(1)
	return s
}

func (s *Sharer) key(id string) string { return s.store.Key("stats:{rgate}:replica:" + id) }

// Replicas is how many replicas were live at the last publication or
// read (this one included), at least 1. While the store is unreachable it
// keeps the last count it had.
func (s *Sharer) Replicas() int {
	if s == nil {
		return 1
	}
	return int(max(s.replicas.Load(), 1))
}

// Run publishes every Interval until ctx is done, then deletes this
// replica's value so that it drops out at once.
func (s *Sharer) Run(ctx context.Context) {
	if s == nil {
		return
	}
	t := time.NewTicker(s.interval)
	defer t.Stop()
	s.publish(ctx)
	for {
		select {
		case <-ctx.Done():
			s.withdraw()
			return
		case <-t.C:
			s.publish(ctx)
		}
	}
}

// publish writes this replica's figures and counts the live replicas.
// Nothing is sent while the store is in fallback (its probe tells when
// Redis answers again).
func (s *Sharer) publish(parent context.Context) {
	if !s.store.Available() {
		return
	}
	ctx, cancel := context.WithTimeout(parent, s.bound)
	defer cancel()
	val := make([]byte, headerLen, 2048)
	copy(val, s.nonce[:])
	binary.BigEndian.PutUint64(val[8:], uint64(time.Now().UnixMilli()))
	val = s.stats.Global().AppendShared(val)

	var prev *redis.StatusCmd
	var ids *redis.StringSliceCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		prev = p.SetArgs(ctx, s.key(s.self), val, redis.SetArgs{TTL: s.ttl, Get: true})
		p.ZAdd(ctx, s.index, redis.Z{Member: s.self})
		ids = p.ZRange(ctx, s.index, 0, -1)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		s.store.Failed(err)
		return
	}
	s.checkDuplicate(prev)
	keys := []string{s.index}
	args := make([]any, 0, len(ids.Val()))
	for _, id := range ids.Val() {
		keys = append(keys, s.key(id))
		args = append(args, id)
	}
	n, err := prune.Run(ctx, s.client, keys, args...).Int64()
	if err != nil {
		s.store.Failed(err)
		return
	}
	s.replicas.Store(max(n, 1))
}

// checkDuplicate warns, once, when the value this publication replaced
// came from another process with the same instance id.
func (s *Sharer) checkDuplicate(prev *redis.StatusCmd) {
	old, err := prev.Result()
	if err != nil || len(old) < headerLen || old[:8] == string(s.nonce[:]) {
		return
	}
	if s.dupWarn.CompareAndSwap(false, true) {
		s.log.Warn("another replica publishes cluster stats under this instance_id; give each replica its own",
			"instance", s.self)
	}
}

// withdraw deletes this replica's value (best effort, bounded).
func (s *Sharer) withdraw() {
	if !s.store.Available() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.bound)
	defer cancel()
	_, _ = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.key(s.self))
		p.ZRem(ctx, s.index, s.self)
		return nil
	})
}

// prune counts the ids of the index (KEYS[1]) whose value (KEYS[i+1] for
// ARGV[i]) still exists, and removes the others from the index.
var prune = redis.NewScript(`
local live = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    live = live + 1
  else
    redis.call('ZREM', KEYS[1], ARGV[i - 1])
  end
end
return live
`)
