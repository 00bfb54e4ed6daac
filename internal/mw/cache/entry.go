package cache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// keyBufSize is the stack buffer a key is built in; longer keys spill to
// the heap.
const keyBufSize = 256

// cacheName names this cache in Cache-Status.
const cacheName = "rgate"

// Cache-Status fwd reasons (RFC 9211 §2.4).
const (
	fwdURIMiss  = "uri-miss"
	fwdVaryMiss = "vary-miss"
	fwdStale    = "stale"
	fwdRequest  = "request"
)

// entry is one stored answer. Everything but the list links and the
// reference bit is immutable once stored, so answers are written from it
// without a lock (an evicted entry stays valid for whoever still holds it).
type entry struct {
	key      string // primary key, then the request's Vary values
	plen     int    // length of the primary key at the start of key
	vary     []string
	spec     *spec
	fields   []field
	body     []byte
	at       time.Time     // when the response arrived
	age      time.Duration // Age the upstream reported
	fresh    time.Duration // freshness lifetime
	staleFor time.Duration // how long past expiry it may stand in for an error
	shared   bool          // public or s-maxage: may answer requests with Authorization
	size     int64
	ref      atomic.Bool // CLOCK reference bit

	prev, next *entry
}

// field is one stored header; vals has len == cap, so an append by whoever
// answers from it copies instead of writing into the shared array.
type field struct {
	name string
	vals []string
}

func (e *entry) currentAge(now time.Time) time.Duration { return e.age + now.Sub(e.at) }

// ttl is the remaining freshness lifetime, negative once expired.
func (e *entry) ttl(now time.Time) time.Duration { return e.fresh - e.currentAge(now) }

// touch marks e used (CLOCK). Loading first keeps a hot entry's cache line
// shared between cores.
func (e *entry) touch() {
	if !e.ref.Load() {
		e.ref.Store(true)
	}
}

// appendPrimary appends r's primary key: Host, a space, RequestURI.
func appendPrimary(b []byte, r *http.Request) []byte {
	b = append(b, r.Host...)
	b = append(b, ' ')
	if r.RequestURI != "" {
		return append(b, r.RequestURI...)
	}
	return append(b, r.URL.RequestURI()...)
}

// appendVariant appends, for each Vary name, NUL name ':' and the request's
// values of it joined by commas. Names make keys of different Vary sets
// distinct.
func appendVariant(b []byte, vary []string, h http.Header) []byte {
	for _, name := range vary {
		b = append(b, 0)
		b = append(b, name...)
		b = append(b, ':')
		for i, v := range h[name] {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v...)
		}
	}
	return b
}

// newEntry builds the entry for a complete response: header h and body to
// request header rh, admitted with policy p under primary key.
func newEntry(primary string, p policy, h, rh http.Header, body []byte) *entry {
	key := primary
	if len(p.vary) > 0 {
		key = string(appendVariant([]byte(primary), p.vary, rh))
	}
	e := &entry{
		key: key, plen: len(primary), vary: p.vary,
		fields: storedFields(h, len(body)), body: body,
		at: p.at, age: p.age, fresh: p.fresh, staleFor: p.staleFor, shared: p.shared,
	}
	e.size = int64(len(key)+len(body)) + entryOverhead
	for _, f := range e.fields {
		e.size += int64(len(f.name))
		for _, v := range f.vals {
			e.size += int64(len(v)) + valueOverhead
		}
	}
	return e
}

// storedFields copies the end-to-end fields of h, with Content-Length set
// to the body's length, sorted by name.
func storedFields(h http.Header, n int) []field {
	fields := make([]field, 0, len(h)+1)
	conn := h["Connection"]
	for name, vals := range h {
		if skipField(name) || listed(conn, name) {
			continue
		}
		fields = append(fields, field{name, slices.Clip(slices.Clone(vals))})
	}
	fields = append(fields, field{"Content-Length", []string{strconv.Itoa(n)}})
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	return fields
}

// skipField reports whether a (canonical) field name is never stored:
// hop-by-hop fields, and fields each answer gets afresh.
func skipField(name string) bool {
	switch name {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Age", "X-Cache", "Cache-Status", "X-Request-Id", "Set-Cookie", "Content-Length":
		return true
	}
	return false
}

// listed reports whether Connection values conn name the field name.
func listed(conn []string, name string) bool {
	for _, line := range conn {
		for tok := range strings.SplitSeq(line, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), name) {
				return true
			}
		}
	}
	return false
}

// answer says how an entry is being served.
type answer struct {
	xcache    string // reqinfo.CacheHit or reqinfo.CacheStale
	fwd       string // "" for a plain hit
	fwdStatus int    // the swallowed status, for a stale answer
	collapsed bool
}

// writeEntry answers w from e: stored headers, Age, X-Cache, Cache-Status,
// status 200, then the body (none for HEAD).
func writeEntry(w http.ResponseWriter, head bool, e *entry, a answer, now time.Time) {
	h := w.Header()
	for i := range e.fields {
		addValues(h, e.fields[i].name, e.fields[i].vals)
	}
	var buf [96]byte
	vals := new([3]string)
	vals[0] = strconv.FormatInt(int64(max(e.currentAge(now), 0)/time.Second), 10)
	vals[1] = a.xcache
	vals[2] = string(appendCacheStatus(buf[:0], a, int64(e.ttl(now)/time.Second)))
	h["Age"] = vals[0:1:1]
	h["X-Cache"] = vals[1:2:2]
	h["Cache-Status"] = vals[2:3:3]
	w.WriteHeader(http.StatusOK)
	if !head {
		_, _ = w.Write(e.body)
	}
}

// addValues adds vals to h[name] as ReverseProxy's header copy does: after
// what an outer handler already set (a CORS "Vary: Origin"). With nothing
// there, vals is shared, not copied; otherwise a new array is made, so
// neither vals nor the existing array is written into.
func addValues(h http.Header, name string, vals []string) {
	if old := h[name]; len(old) > 0 {
		h[name] = append(old[:len(old):len(old)], vals...)
		return
	}
	h[name] = vals
}

func appendCacheStatus(b []byte, a answer, ttl int64) []byte {
	b = append(b, cacheName...)
	if a.fwd == "" {
		b = append(b, "; hit"...)
	} else {
		b = append(b, "; fwd="...)
		b = append(b, a.fwd...)
		if a.fwdStatus != 0 {
			b = append(b, "; fwd-status="...)
			b = strconv.AppendInt(b, int64(a.fwdStatus), 10)
		}
		if a.collapsed {
			b = append(b, "; collapsed"...)
		}
	}
	b = append(b, "; ttl="...)
	return strconv.AppendInt(b, ttl, 10)
}
