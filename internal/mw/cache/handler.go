package cache

import (
	"net/http"
	"time"

	"github.com/rgate/rgate/internal/reqinfo"
)

// maxRounds bounds how many flights one request waits for before it
// fetches on its own (a flight can store an entry for other Vary values
// than the waiter's).
const maxRounds = 3

type handler struct {
	s    *Store
	next http.Handler
}

// New returns next behind the cache s (see the package doc). A nil s
// returns next itself.
func New(s *Store, next http.Handler) http.Handler {
	if s == nil {
		return next
	}
	return &handler{s: s, next: next}
}

// miss is what a forwarded request carries into fetch.
type miss struct {
	primary string
	stale   *entry
	fwd     string
	q       reqFlags
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.Header["Upgrade"] != nil {
		h.next.ServeHTTP(w, r)
		return
	}
	q := parseRequest(r.Header)
	var kb [keyBufSize]byte
	p := appendPrimary(kb[:0], r)
	sh := h.s.shardFor(p)
	var l look
	first, collapsed := "", "" // the first miss's fwd reason; set as collapsed once a flight stored
rounds:
	for round := range maxRounds {
		now := time.Now()
		if l = h.s.lookup(sh, p, r.Header, q, now); l.fresh != nil {
			h.hit(w, r, sh, l.fresh, collapsed, now)
			return
		}
		if !canLead(r, q) {
			break
		}
		if round == 0 {
			first = l.fwd
		}
		var f *flight
		var key string
		var ro role
		switch l, f, key, ro = h.s.join(sh, p, r.Header, q, now); ro {
		case hitRole:
			h.hit(w, r, sh, l.fresh, collapsed, now)
			return
		case leaderRole:
			h.lead(w, r, sh, f, key, miss{key[:len(p)], l.stale, l.fwd, q})
			return
		case aloneRole:
			break rounds
		}
		if !h.s.wait(r.Context(), f) {
			return // the client went away: nobody to answer
		}
		switch {
		case f.result == stored:
			collapsed = first
			continue
		case f.result == failed && l.stale != nil:
			h.serveStale(w, r, sh, l.stale, f.status)
			return
		}
		break
	}
	h.fetch(w, r, sh, miss{string(p), l.stale, l.fwd, q})
}

// hit answers from a fresh entry; collapsed is the fwd reason when the
// entry was stored by the flight this request waited for.
func (h *handler) hit(w http.ResponseWriter, r *http.Request, sh *shard, e *entry, collapsed string, now time.Time) {
	sh.hits.Add(1)
	reqinfo.From(w).Cache = reqinfo.CacheHit
	a := answer{xcache: reqinfo.CacheHit, fwd: collapsed, collapsed: collapsed != ""}
	writeEntry(w, r.Method == http.MethodHead, e, a, now)
}

// serveStale answers from an expired entry in place of a failed fetch
// that answered status.
func (h *handler) serveStale(w http.ResponseWriter, r *http.Request, sh *shard, e *entry, status int) {
	sh.stale.Add(1)
	reqinfo.From(w).Cache = reqinfo.CacheStale
	a := answer{xcache: reqinfo.CacheStale, fwd: fwdStale, fwdStatus: status}
	writeEntry(w, r.Method == http.MethodHead, e, a, time.Now())
}

// lead fetches for a flight and lands it, even if next panics (then the
// followers fetch on their own).
func (h *handler) lead(w http.ResponseWriter, r *http.Request, sh *shard, f *flight, key string, m miss) {
	res, status := notStored, 0
	defer func() { sh.land(key, f, res, status) }()
	res, status = h.fetch(w, r, sh, m)
}

// fetch forwards the request to next through a capture writer, then serves
// the stale entry if the answer was swallowed, or stores the captured one.
// It returns what happened and the status next wrote.
func (h *handler) fetch(w http.ResponseWriter, r *http.Request, sh *shard, m miss) (result, int) {
	reqinfo.From(w).Cache = reqinfo.CacheMiss
	c := &capture{
		w: w, h: make(http.Header), s: h.s, rh: r.Header,
		stale: m.stale, fwd: m.fwd, auth: m.q.auth,
		store:  r.Method == http.MethodGet && !m.q.noStore,
		length: -1,
	}
	h.next.ServeHTTP(c, r)
	switch c.mode {
	case swallowing:
		h.serveStale(w, r, sh, m.stale, c.status)
		return failed, c.status
	case pending:
		// Nothing written (the client went away, or next relies on the
		// implicit 200): leave its headers where net/http will find them.
		dst := w.Header()
		for k, v := range c.h {
			addValues(dst, k, v)
		}
	}
	sh.misses.Add(1)
	switch e := c.entry(m.primary); {
	case c.status >= 500:
		return failed, c.status
	case e != nil:
		h.s.insert(e)
		return stored, c.status
	}
	return notStored, c.status
}
