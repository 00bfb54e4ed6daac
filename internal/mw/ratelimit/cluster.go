package ratelimit

// # Cluster scope
//
// With scope: cluster every replica draws from one budget per (tier,
// client key), kept in the cluster's Redis. Decisions are taken by
// gcraScript, run with EVALSHA (EVAL when Redis has not cached it yet,
// after a restart): a GCRA, the token bucket written as one number per
// key, the theoretical arrival time (TAT) of the next request. The script
// reads the time with Redis TIME, so replicas' clocks never enter it,
// admits when TAT+interval-now <= burst*interval, stores the new TAT with
// an expiry at the moment the bucket is full again (a missing key is a
// full bucket, so the expiry loses nothing), and answers admitted and
// microseconds until the bucket is full. The RateLimit-* fields,
// Retry-After and the 429 are then computed exactly as the local path
// computes them: the bucket holds burst - wait/interval tokens.
//
// Against one Redis, concurrent decisions go out together as one script
// run (see batcher); against a Redis Cluster each is one run, and they
// share the connection's writes and reads through go-redis's
// autopipeliner (see pipeliner). A bucket Redis refused is refused by
// this replica until its Retry-After without asking again (overLimit).
//
// A key is store.Key("rl:" + route + ":" + tier + ":" + kind + ":" +
// client), kind "h" for header-keyed clients and "ip" for IP-keyed ones
// (kept apart as in the local maps). The script touches that one key, so
// a Redis Cluster runs it on the key's node with no CROSSSLOT.
//
// # Store errors
//
// While the store is in fallback (cluster.Store.Available is false), or
// when the call fails or passes cluster.redis.timeout (the store is then
// told, and enters fallback), the route's on_store_error decides at once:
// local (this replica's own buckets at the limit divided by the live
// replicas), allow, or deny (429 with Retry-After: 1). No request waits
// for Redis longer than the timeout, and none fails because of it.

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rgate/rgate/internal/cluster"
	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/reqinfo"
)

// gcraScript decides for #KEYS buckets, one after the other in the order
// given (one decision, or a batch of them: see batcher), under one TIME.
// KEYS[i] is a bucket; ARGV[2i-1] its emission interval (microseconds per
// token), ARGV[2i] its burst offset (burst * interval, microseconds).
// Times are microseconds since 2024-01-01 so that a double holds them
// exactly; the TAT is stored with 17 digits. Its answer is one string,
// "<admitted><wait>" per key joined by commas (admitted "1" or "0"; wait
// in microseconds until the bucket is full, after this request when
// admitted), so that reading it costs one allocation, not two per key.
const gcraScript = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1704067200) * 1000000 + tonumber(t[2])
local out = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  if new_tat - now > tonumber(ARGV[2 * i]) then
    out[i] = '0' .. string.format('%d', math.ceil(tat - now))
  else
    redis.call('SET', KEYS[i], string.format('%.17g', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
    out[i] = '1' .. string.format('%d', math.ceil(new_tat - now))
  end
end
return table.concat(out, ',')
`

// gcraSHA is gcraScript's digest, for EVALSHA.
var gcraSHA = redis.NewScript(gcraScript).Hash()

// errReply is a script answer of the wrong shape.
var errReply = errors.New("rate-limit script: unexpected reply")

// ClusterCounters counts a cluster-scoped limit's trouble (metrics). Its
// methods must be safe for concurrent use and cheap.
type ClusterCounters interface {
	// StoreError counts a decision whose Redis call failed or was late.
	StoreError()
	// Fallback counts a decision made by on_store_error.
	Fallback()
}

// ClusterOptions are what a cluster-scoped limit needs beyond its config.
type ClusterOptions struct {
	// Store is the shared Redis store. Required.
	Store *cluster.Store
	// Route names the route in the keys (config.Route.Name).
	Route string
	// Replicas returns how many replicas are live now, to share the
	// limit between them under on_store_error: local. nil: 1.
	Replicas func() int
	// Counters receives store errors and fallback decisions; nil: none.
	Counters ClusterCounters
}

// ClusterLimiter is a route's cluster-scoped rate limit: the state that
// outlives routing-table swaps (wrap it with NewClusterHandler per table).
// It is safe for concurrent use.
type ClusterLimiter struct {
	l        *Limiter // tiers, client keys and header values; its buckets are unused
	cfg      config.RateLimit
	mode     string
	store    *cluster.Store
	client   redis.UniversalClient
	batch    *batcher             // nil (Redis Cluster): one EVALSHA per decision
	ap       *redis.AutoPipeliner // without batch; nil: plain calls
	prefixes []string             // by map slot: the key up to the client
	args     [][]any              // by tier (slot/2): interval, burst offset
	replicas func() int
	counters ClusterCounters
	over     *overLimit                 // buckets Redis found empty, until their next token
	share    atomic.Pointer[localShare] // on_store_error: local's buckets

	storeErrors atomic.Uint64
	fallbacks   atomic.Uint64
}

// localShare is this replica's own buckets at the limit divided by n.
type localShare struct {
	n int
	l *Limiter
}

// NewCluster returns the cluster-scoped limit of one route's rate_limit
// (validated, defaults applied).
func NewCluster(cfg config.RateLimit, o ClusterOptions) *ClusterLimiter {
	c := &ClusterLimiter{
		l:        NewLimiter(cfg),
		cfg:      cfg,
		mode:     cfg.OnStoreError,
		store:    o.Store,
		client:   o.Store.Client(),
		batch:    newBatcher(o.Store),
		replicas: o.Replicas,
		counters: o.Counters,
	}
	if c.batch == nil {
		c.ap = pipeliner(c.client)
	}
	maxKeys := cfg.MaxKeys
	if maxKeys <= 0 {
		maxKeys = config.DefaultRateMaxKeys
	}
	c.over = newOverLimit(maxKeys)
	names := make([]string, len(c.l.bySlot)) // names[0]: the default tier, ""
	for name, t := range c.l.tiers {
		names[t.slot/2] = name
	}
	for i, t := range c.l.bySlot {
		base := "rl:" + o.Route + ":" + names[i] + ":"
		c.prefixes = append(c.prefixes, o.Store.Key(base+"h:"), o.Store.Key(base+"ip:"))
		interval := 1e6 / float64(t.perSec)
		// A thousandth of a microsecond of slack absorbs float noise in
		// TAT sums, so the burst-th request of an instant is admitted.
		c.args = append(c.args, []any{formatFloat(interval), formatFloat(interval*float64(t.burst) + 1e-3)})
	}
	return c
}

// pipeliner is how decisions reach Redis: go-redis's autopipeliner,
// which sends the EVALSHAs of concurrent requests in one write and reads
// their answers in one read (each script still runs atomically, alone),
// so a busy replica pays a fraction of a round trip's syscalls per
// decision, while a lone request is flushed at once. Its deferred face is
// used because a caller can stop waiting at its own deadline there
// (AutoFuture.WaitContext); the blocking face finishes a batch's dial and
// retries first. nil (no autopipeliner): plain EVALSHA calls. The
// autopipeliner is the client's own: made once, closed with it.
func pipeliner(c redis.UniversalClient) *redis.AutoPipeliner {
	ap, err := c.AsyncAutoPipeline()
	if err != nil {
		return nil
	}
	return ap
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', 17, 64) }

// StoreErrors is how many decisions found the store failing or late.
func (c *ClusterLimiter) StoreErrors() uint64 { return c.storeErrors.Load() }

// Fallbacks is how many decisions on_store_error made.
func (c *ClusterLimiter) Fallbacks() uint64 { return c.fallbacks.Load() }

// Mode is the limit's on_store_error.
func (c *ClusterLimiter) Mode() string { return c.mode }

// decide runs the script for one request on the bucket key with the
// tier's args: admitted, and microseconds until the bucket is full again
// (after this request when admitted).
func (c *ClusterLimiter) decide(ctx context.Context, key string, args []any) (bool, float64, error) {
	ctx, cancel := c.store.Context(ctx)
	defer cancel()
	if c.batch != nil {
		return c.batch.decide(ctx, key, args)
	}
	cmd, err := c.run(ctx, "evalsha", gcraSHA, key, args)
	if noScript(err) {
		cmd, err = c.run(ctx, "eval", gcraScript, key, args) // loads it for the next EVALSHA
	}
	if err != nil {
		return false, 0, err
	}
	var v [1]verdict
	if err := parseVerdicts(cmd.Val(), v[:]); err != nil {
		return false, 0, err
	}
	return v[0].ok, v[0].wait, nil
}

// noScript reports whether err is Redis's answer to an EVALSHA of a
// script it does not have (after a restart or SCRIPT FLUSH).
func noScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}

// run sends one EVAL or EVALSHA of the script (src: its source or
// digest) for key, waiting at most until ctx ends. After a ctx error the
// command may still run in Redis; its answer is not read.
func (c *ClusterLimiter) run(ctx context.Context, name, src, key string, args []any) (*redis.StringCmd, error) {
	cmd := redis.NewStringCmd(ctx, name, src, 1, key, args[0], args[1])
	if c.ap == nil {
		return cmd, c.client.Process(ctx, cmd)
	}
	return cmd, c.ap.Submit(ctx, cmd).WaitContext(ctx)
}

// shared returns the buckets on_store_error: local decides with, made
// again when the number of live replicas changes.
func (c *ClusterLimiter) shared() *Limiter {
	n := 1
	if c.replicas != nil {
		n = max(c.replicas(), 1)
	}
	for {
		cur := c.share.Load()
		if cur != nil && cur.n == n {
			return cur.l
		}
		next := &localShare{n: n, l: NewLimiter(divideLimit(c.cfg, n))}
		if c.share.CompareAndSwap(cur, next) {
			return next.l
		}
	}
}

// divideLimit is cfg with every rate divided by n: the same requests over
// n times the period, and a burst of burst/n (at least 1).
func divideLimit(cfg config.RateLimit, n int) config.RateLimit {
	cfg.Default = divideRate(cfg.Default, n)
	if cfg.Tiers != nil {
		tiers := make(map[string]config.Rate, len(cfg.Tiers))
		for _, name := range slices.Sorted(maps.Keys(cfg.Tiers)) {
			tiers[name] = divideRate(cfg.Tiers[name], n)
		}
		cfg.Tiers = tiers
	}
	return cfg
}

func divideRate(r config.Rate, n int) config.Rate {
	per := r.Per.D()
	if per <= 0 {
		per = config.DefaultRatePer
	}
	requests := max(r.Requests, 1)
	burst := r.Burst
	if burst <= 0 {
		burst = requests
	}
	r.Requests = requests
	r.Per = config.Duration(per * time.Duration(n))
	r.Burst = max(burst/n, 1)
	return r
}

// clusterHandler asks Redis for every request's decision.
type clusterHandler struct {
	c    *ClusterLimiter
	next http.Handler
}

// NewClusterHandler returns next behind c. A nil c means no limit.
func NewClusterHandler(c *ClusterLimiter, next http.Handler) http.Handler {
	if c == nil {
		return next
	}
	return &clusterHandler{c: c, next: next}
}

func (h *clusterHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	t := c.l.tierOf(r.Header, w)
	key, slot := c.l.clientKey(r, t, w)
	key = c.prefixes[slot] + key
	now := c.over.now()
	if d, ok := c.over.get(key, now); ok { // Redis said so; nothing can have changed that
		h.answer(w, r, t, false, float64(d.full-now)/1e3)
		return
	}
	if !c.store.Available() {
		h.fallback(w, r, t)
		return
	}
	ok, wait, err := c.decide(r.Context(), key, c.args[slot/2])
	if err != nil {
		if r.Context().Err() == nil { // not the client going away
			c.storeErrors.Add(1)
			if c.counters != nil {
				c.counters.StoreError()
			}
			c.store.Failed(err)
		}
		h.fallback(w, r, t)
		return
	}
	if !ok {
		interval := 1e6 / float64(t.perSec)
		if retry := wait + interval - interval*float64(t.burst); retry > 0 {
			c.over.put(key, now, time.Duration(retry*1e3), time.Duration(wait*1e3))
		}
	}
	h.answer(w, r, t, ok, wait)
}

// answer writes a decision (wait: microseconds until the bucket is
// full) as the local limiter does.
func (h *clusterHandler) answer(w http.ResponseWriter, r *http.Request, t *tier, ok bool, wait float64) {
	tokens := float64(t.burst) - wait/(1e6/float64(t.perSec))
	// whole tokens, forgiving float noise
	h.c.l.answer(w, r, h.next, t, ok, int(max(tokens, 0)+1e-6), wait/1e6, tokens)
}

// fallback decides by on_store_error while Redis cannot.
func (h *clusterHandler) fallback(w http.ResponseWriter, r *http.Request, t *tier) {
	c := h.c
	c.fallbacks.Add(1)
	if c.counters != nil {
		c.counters.Fallback()
	}
	switch c.mode {
	case config.StoreErrorAllow:
		hdr := w.Header()
		hdr[HeaderLimit] = []string{t.limitHdr}
		hdr[HeaderPolicy] = []string{t.policyHdr}
		h.next.ServeHTTP(w, r)
	case config.StoreErrorDeny:
		hdr := w.Header()
		hdr[HeaderLimit] = []string{t.limitHdr}
		hdr[HeaderRemaining] = []string{"0"}
		hdr[HeaderPolicy] = []string{t.policyHdr}
		hdr[HeaderRetryAfter] = []string{"1"} // the store is probed at least once a second
		reqinfo.From(w).RateLimited = true
		httperr.Write(w, r, httperr.ErrRateLimited)
	default:
		local := handler{l: c.shared(), next: h.next}
		local.ServeHTTP(w, r)
	}
}
