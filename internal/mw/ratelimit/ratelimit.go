// Package ratelimit limits how fast each client may call a route, with a
// token bucket per (tier, client key).
//
// # Model
//
// A bucket holds up to Burst tokens and gains Requests tokens per Per,
// continuously (golang.org/x/time/rate.Limiter). Every request takes one
// token; a request that finds less than one is answered 429 and takes
// nothing, so hammering a full limit does not push the refill further away.
//
// The client key is the value of the key header when the route says
// key: header:NAME, and the client IP otherwise, or when that header is
// missing or empty. The client IP is the host part of the connection's
// remote address: X-Forwarded-For is client input and is not trusted (put a
// trusted header in key: when rgate runs behind another proxy). Keys from
// the header and keys from the IP live in separate maps, so a client cannot
// spend someone's IP bucket by sending their IP in the header. Header
// values longer than MaxKeyLen bytes are replaced by their SHA-256, so a
// key costs at most a few hundred bytes whatever the client sends.
//
// With key: consumer the client key is the consumer the route's auth
// verified (reqinfo.Info.Consumer), and the client IP for an anonymous
// request; with tier_from: consumer the tier is that consumer's
// (ConsumerTier) and no request header is read, so a client cannot pick
// its own tier.
//
// The tier is the value of tier_header looked up (case-sensitively) in
// tiers; a missing header or an unknown tier uses the default rate. A client
// has one bucket per tier: changing tiers starts from that tier's own bucket.
//
// # Headers
//
// Every answer of a limited route carries the IETF draft fields
// (draft-ietf-httpapi-ratelimit-headers-06), set before the request goes on,
// so an upstream's own RateLimit fields are added beside them:
//
//	RateLimit-Limit:     Burst, the bucket size: what a client may send at once
//	RateLimit-Remaining: whole tokens left after this request (0..Limit)
//	RateLimit-Reset:     whole seconds (rounded up) until the bucket is full,
//	                     that is until Remaining is back to Limit
//	RateLimit-Policy:    Requests;w=Per-in-seconds, plus ;burst=Burst when
//	                     the burst differs from the quota of the window
//
// Limit is the bucket size rather than Requests because that keeps the three
// fields consistent (Remaining never exceeds Limit, and Reset says when it
// reaches it again); the long-run rate is in RateLimit-Policy. With the
// default burst (= requests) both readings agree. A 429 adds Retry-After:
// whole seconds (at least 1) until one token is available.
//
// # Memory
//
// Buckets live in a map sharded by a hash of the client key, each shard with
// its own mutex, so there is no global lock. The map holds at most MaxKeys
// buckets: each shard holds at most its share. A full bucket is exactly as
// good as a new one, so dropping it loses nothing: a bucket that has been
// full for a minute (at most Burst/rate plus a minute after its client's last
// request: its idle TTL) may be dropped. When a new key arrives, a few buckets of its shard are sampled and
// the idle ones dropped; when the shard is at its share of the cap and none
// of a larger sample is idle, the sampled bucket closest to full is dropped
// (counted by Evicted unless it was full). That choice hands back the fewest
// free tokens, and under a flood of new keys it mostly drops the flood's own
// one-request buckets rather than the buckets of busy clients.
// No goroutine runs in the background.
//
// # State
//
// A Limiter is the state that must outlive routing-table swaps: the caller
// keeps one per route while that route's rate_limit config is unchanged, and
// wraps it with New for each compiled table. The package has no globals.
package ratelimit

import (
	"hash/maphash"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/rgate/rgate/internal/config"
)

// MaxKeyLen is the longest client key kept as it is; longer header values
// are replaced by their SHA-256.
const MaxKeyLen = 128

const (
	// maxShards is the number of shards for large caps; a power of two.
	maxShards = 64
	// minShardKeys is the smallest share of the cap a shard gets: small caps
	// use fewer shards so that an uneven hash does not evict early.
	minShardKeys = 32
	// maxNumStrings bounds the table of preformatted header numbers.
	maxNumStrings = 1024
	// maxHeaderSeconds caps the seconds written in Reset and Retry-After.
	maxHeaderSeconds = math.MaxInt32
)

// Limiter holds the buckets of one route. It is safe for concurrent use.
type Limiter struct {
	keyHeader string // canonical header name; "" for client_ip
	// byConsumer: key consumer (the authenticated consumer, else the
	// client IP); tierConsumer: tier_from consumer (the consumer's tier,
	// no header read).
	byConsumer   bool
	tierConsumer bool
	tierHeader   string // canonical header name; "" when there are no tiers
	def          *tier
	tiers        map[string]*tier
	bySlot       []*tier // bySlot[slot/2] is the tier owning maps slot and slot+1
	seed         maphash.Seed
	shards       []shard
	shardCap     int
	nums         []string // nums[i] == strconv.Itoa(i)
}

// tier is one rate, with its header values prebuilt.
type tier struct {
	// slot is the index, in every shard, of the map of this tier's
	// header-keyed buckets; slot+1 holds its IP-keyed buckets.
	slot      int
	perSec    rate.Limit // tokens gained per second
	burst     int
	limitHdr  string // RateLimit-Limit value
	policyHdr string // RateLimit-Policy value
}

// NewLimiter returns the buckets for one route's rate_limit. cfg is expected
// to have passed config validation with defaults applied; zero values get
// the same defaults here (key client_ip, per 1s, burst = requests, max_keys
// 100000) and a non-positive requests counts as 1.
func NewLimiter(cfg config.RateLimit) *Limiter {
	l := &Limiter{seed: maphash.MakeSeed(), tiers: make(map[string]*tier, len(cfg.Tiers))}
	if name, ok := strings.CutPrefix(cfg.Key, "header:"); ok && name != "" {
		l.keyHeader = http.CanonicalHeaderKey(name)
	}
	if cfg.TierHeader != "" && len(cfg.Tiers) > 0 {
		l.tierHeader = http.CanonicalHeaderKey(cfg.TierHeader)
	}
	l.byConsumer = cfg.Key == config.RateKeyConsumer
	l.tierConsumer = cfg.TierFrom == config.TierFromConsumer
	l.def = newTier(cfg.Default, 0)
	l.bySlot = []*tier{l.def}
	for _, name := range slices.Sorted(maps.Keys(cfg.Tiers)) {
		t := newTier(cfg.Tiers[name], 2*len(l.bySlot))
		l.tiers[name] = t
		l.bySlot = append(l.bySlot, t)
	}

	maxKeys := cfg.MaxKeys
	if maxKeys <= 0 {
		maxKeys = config.DefaultRateMaxKeys
	}
	n := maxShards
	for n > 1 && maxKeys/n < minShardKeys {
		n /= 2
	}
	l.shardCap = max(maxKeys/n, 1)
	l.shards = make([]shard, n)
	for i := range l.shards {
		l.shards[i].init(2 * len(l.bySlot))
	}
	l.nums = numStrings(l.bySlot)
	return l
}

func newTier(r config.Rate, slot int) *tier {
	per := time.Duration(r.Per)
	if per <= 0 {
		per = config.DefaultRatePer
	}
	requests := max(r.Requests, 1)
	burst := r.Burst
	if burst <= 0 {
		burst = requests
	}
	return &tier{
		slot:      slot,
		perSec:    rate.Limit(float64(requests) / per.Seconds()),
		burst:     burst,
		limitHdr:  strconv.Itoa(burst),
		policyHdr: policyValue(requests, per, burst),
	}
}

// policyValue is the RateLimit-Policy value: "q;w=seconds", with the quota
// scaled to a whole-second window when per is not whole seconds, and
// ";burst=b" when the bucket size differs from that quota.
func policyValue(requests int, per time.Duration, burst int) string {
	q, w := requests, int(per/time.Second)
	if per%time.Second != 0 {
		w = int(math.Ceil(per.Seconds()))
		q = max(int(float64(requests)*float64(time.Duration(w)*time.Second)/float64(per)), 1)
	}
	s := strconv.Itoa(q) + ";w=" + strconv.Itoa(w)
	if burst != q {
		s += ";burst=" + strconv.Itoa(burst)
	}
	return s
}

// numStrings preformats the numbers the headers usually carry (token counts
// up to the largest burst, seconds up to the longest refill), so writing
// them does not allocate.
func numStrings(tiers []*tier) []string {
	n := 0
	for _, t := range tiers {
		n = max(n, t.burst, ceilSeconds(float64(t.burst)/float64(t.perSec)))
	}
	nums := make([]string, min(n+1, maxNumStrings))
	for i := range nums {
		nums[i] = strconv.Itoa(i)
	}
	return nums
}

func (l *Limiter) itoa(n int) string {
	if n >= 0 && n < len(l.nums) {
		return l.nums[n]
	}
	return strconv.Itoa(n)
}

// ceilSeconds rounds a number of seconds up to a whole number, forgiving
// float noise (11.999999999 and 12.000000001 are both 12), and caps it.
func ceilSeconds(s float64) int {
	const eps = 1e-6
	switch {
	case !(s > eps): // also NaN
		return 0
	case s >= maxHeaderSeconds:
		return maxHeaderSeconds
	}
	return int(math.Ceil(s - eps))
}

// Len returns how many buckets are tracked, across all tiers.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// Limited returns how many requests were answered 429.
func (l *Limiter) Limited() uint64 {
	var n uint64
	for i := range l.shards {
		n += l.shards[i].limited.Load()
	}
	return n
}

// Evicted returns how many buckets were dropped before they were full
// because their shard was at its share of max_keys. A steadily rising count
// means the cap is too small for the clients seen (or a key flood).
func (l *Limiter) Evicted() uint64 {
	var n uint64
	for i := range l.shards {
		n += l.shards[i].evicted.Load()
	}
	return n
}
