package ratelimit

import (
	"net/http"
	"time"

	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/reqinfo"
)

// Header names, in canonical form so they can be set without
// canonicalising them per request (http.CanonicalHeaderKey("RateLimit-Limit")
// is "Ratelimit-Limit"; header names are case-insensitive on the wire).
const (
	HeaderLimit      = "Ratelimit-Limit"
	HeaderRemaining  = "Ratelimit-Remaining"
	HeaderReset      = "Ratelimit-Reset"
	HeaderPolicy     = "Ratelimit-Policy"
	HeaderRetryAfter = "Retry-After"
)

// handler takes a token per request and answers 429 when there is none.
type handler struct {
	l    *Limiter
	next http.Handler
}

// New returns next behind l. A nil l means no limit: next is returned as is.
func New(l *Limiter, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return &handler{l: l, next: next}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l := h.l
	now := time.Now()
	t := l.tierOf(r.Header, w)
	key, slot := l.clientKey(r, t, w)
	s := l.shardFor(key)
	b := l.bucket(s, slot, key, now)
	ok := b.AllowN(now, 1)
	tokens := b.TokensAt(now)
	if !l.answer(w, r, h.next, t, ok, int(max(tokens, 0)), (float64(t.burst)-tokens)/float64(t.perSec), tokens) {
		s.limited.Add(1)
	}
}

// answer writes a decision's RateLimit fields (remaining whole tokens,
// fullIn seconds until the bucket is full, tokens left now), then passes
// r to next, or refuses it with 429 and Retry-After; it reports ok. Both
// the local and the cluster handler answer through it.
func (l *Limiter) answer(w http.ResponseWriter, r *http.Request, next http.Handler, t *tier, ok bool,
	remaining int, fullIn, tokens float64) bool {
	// One backing array for every value; each header gets a slice capped at
	// its own element, so an Add elsewhere reallocates instead of
	// overwriting a neighbour.
	vals := make([]string, 5)
	vals[0] = t.limitHdr
	vals[1] = l.itoa(remaining)
	vals[2] = l.itoa(ceilSeconds(fullIn))
	vals[3] = t.policyHdr
	hdr := w.Header()
	hdr[HeaderLimit] = vals[0:1:1]
	hdr[HeaderRemaining] = vals[1:2:2]
	hdr[HeaderReset] = vals[2:3:3]
	hdr[HeaderPolicy] = vals[3:4:4]
	if ok {
		next.ServeHTTP(w, r)
		return true
	}
	vals[4] = l.itoa(max(ceilSeconds((1-tokens)/float64(t.perSec)), 1))
	hdr[HeaderRetryAfter] = vals[4:5:5]
	reqinfo.From(w).RateLimited = true
	httperr.Write(w, r, httperr.ErrRateLimited)
	return false
}

// tierOf picks the request's tier: the tier header's value when it names a
// tier, else the default.
func (l *Limiter) tierOf(h http.Header, w http.ResponseWriter) *tier {
	if l.tierConsumer {
		if t, ok := l.tiers[reqinfo.From(w).ConsumerTier]; ok {
			return t
		}
		return l.def
	}
	if l.tierHeader == "" {
		return l.def
	}
	if v := h[l.tierHeader]; len(v) > 0 {
		if t, ok := l.tiers[v[0]]; ok {
			return t
		}
	}
	return l.def
}

// clientKey returns the request's client key and the map slot of tier t it
// belongs to: the key header's value (bounded by boundKey), else the client
// IP.
func (l *Limiter) clientKey(r *http.Request, t *tier, w http.ResponseWriter) (string, int) {
	if l.byConsumer {
		if c := reqinfo.From(w).Consumer; c != "" {
			return boundKey(c), t.slot
		}
	} else if l.keyHeader != "" {
		if v := r.Header[l.keyHeader]; len(v) > 0 && v[0] != "" {
			return boundKey(v[0]), t.slot
		}
	}
	if ip := reqinfo.From(w).ClientIP; ip != "" {
		return ip, t.slot + 1 // the gateway's view: behind trusted proxies, the real client
	}
	return reqinfo.HostOf(r.RemoteAddr), t.slot + 1
}
