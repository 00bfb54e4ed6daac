// Package cache is rgate's per-route response cache: a shared cache in the
// sense of RFC 9111, in memory, bounded by bytes, that keeps answering from
// stale entries while the backend is failing.
//
// # Model
//
// A [Store] is the state of one route's cache. It outlives routing-table
// swaps: the caller keeps it (one per route, handed back while the route's
// cache config is unchanged) and [New] wraps the route's next handler with
// it on every compile. A request goes through these steps:
//
//  1. Only GET and HEAD requests without Upgrade are looked at; anything
//     else goes to the next handler untouched, with no cache headers.
//  2. Lookup. The primary key is Host + " " + RequestURI (the method is not
//     part of it: HEAD is answered from the GET entry). The last response
//     stored for a primary key records its Vary header names, and entries
//     are keyed by the request's values of those headers too (when Vary
//     changes, entries stored under the old names become unreachable and
//     age out). A fresh entry is a HIT. A request carrying Authorization is only served from an
//     entry whose response said public or s-maxage (RFC 9111 §3.5); a
//     request with Cache-Control no-cache (or Pragma: no-cache) is never
//     answered from the cache; one with max-age=N only from an entry at
//     most N seconds old.
//  3. Single flight. A GET miss becomes the leader of a flight for its key,
//     or a follower of the flight already under way. Followers wait for the
//     leader, or for their own request context, on a channel: no goroutine
//     is started. When the leader stored an entry, followers are answered
//     from it (HIT, "collapsed"); when it got a 5xx they serve their stale
//     entry if they have one; otherwise each fetches on its own. HEAD,
//     Range, conditional, Authorization and no-store requests never lead
//     (their answer could not be shared) and do not wait; a no-cache
//     request leads when no flight is under way, and otherwise fetches on
//     its own rather than take an answer fetched before it asked.
//  4. Fetch. The next handler writes into a capture writer, whose header
//     map is private until WriteHeader, so the status can be judged before
//     anything reaches the client. A status >= 500 while a usable stale
//     entry exists is swallowed, headers and body, and once the next
//     handler returns the stale entry is written instead (X-Cache: STALE):
//     this is how a backend that is down, an open breaker, a timeout (the
//     gateway's 502/503/504) or the upstream's own 5xx turn into
//     stale-if-error. Any other answer has its headers copied to the
//     client's writer and its body streamed to it and, when it may be
//     stored, teed into a buffer; a body that grows past the entry limit
//     stops being captured but keeps streaming. When the next handler
//     returns with a complete body the entry is stored.
//
// # What is stored
//
// Status 200 answers to GET whose Cache-Control has none of no-store,
// private, no-cache; without Set-Cookie, Trailer or "Vary: *"; and whose
// freshness lifetime is positive: s-maxage, else max-age, else Expires minus
// Date, else the route's ttl. The upstream's Age counts against it. Hop-by-hop
// fields (and those named by Connection), Age, X-Cache, Cache-Status and
// X-Request-Id are not stored; Content-Length is set to the stored body.
// An expired entry is kept for stale_if_error more (a response's
// stale-if-error=N extension overrides it; must-revalidate and
// proxy-revalidate set it to 0 unless stale-if-error is given) and is only
// served when the fetch fails. s-maxage's implied proxy-revalidate is not
// applied: the route's stale_if_error is the operator's explicit choice.
//
// # Answer headers
//
// Every looked-at request gets X-Cache (HIT, MISS or STALE) and an RFC 9211
// Cache-Status from the cache named "rgate":
//
//	rgate; hit; ttl=12                          fresh entry, not forwarded
//	rgate; fwd=uri-miss; collapsed; ttl=12      answered from the entry a concurrent request stored
//	rgate; fwd=uri-miss; stored                 forwarded and admitted for storage
//	rgate; fwd=vary-miss                        forwarded, not storable
//	rgate; fwd=stale; fwd-status=503; ttl=-40   backend failed, stale entry served
//
// fwd is uri-miss (no entry for the URL), vary-miss (entries exist for other
// values of the Vary headers), stale (the entry expired) or request (the
// request's headers forced the forward: no-cache, max-age, Authorization).
// "stored" means the response was admitted for storage when its headers
// went out; it is still dropped if the body turns out larger than the entry
// limit or is cut short. Hits and stale answers carry Age. The request's
// reqinfo record gets the same HIT/MISS/STALE.
//
// # Memory
//
// The store is split into up to 16 shards by a hash of the primary key
// (fewer when max_bytes is small: at least 1 MiB a shard). Each shard has
// its own RWMutex, its share of max_bytes and its own replacement list, so
// requests for different URLs rarely meet on a lock. An entry's size is its
// key, body, header names and values, plus a fixed 256-byte estimate of
// the structures around them; the sum over a shard never exceeds its share,
// so the total never exceeds max_bytes. An entry larger than
// min(max_bytes/8, shard share/2) is never stored (2 MiB with the default
// 64 MiB). Replacement is CLOCK, the usual approximation of LRU: a hit only
// sets the entry's reference bit (an atomic store under the shard's read
// lock, so hits on one URL do not serialise); eviction takes the oldest
// entry, and one whose bit is set gets a second chance at the front with
// the bit cleared.
//
// Stored fields are added to what outer handlers already put in the
// answer's header (as ReverseProxy adds the upstream's), so a CORS
// "Vary: Origin" set in front survives. Their value slices are shared
// read-only with every answer built from the entry (len == cap, so an
// append copies): code that changes an answer's header must replace the
// slice (Header.Set, Add, Del do), never write into it.
package cache
