package cache

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxDeltaSeconds caps delta-seconds values (RFC 9111 §1.2.2).
const maxDeltaSeconds = 1 << 31

// directives are the Cache-Control directives the cache acts on; second
// counts are -1 when absent.
type directives struct {
	noStore, noCache, private, public bool
	// mustRevalidate is must-revalidate or proxy-revalidate.
	mustRevalidate bool

	maxAge, sMaxAge, staleIfError int64
}

// parseCacheControl reads every Cache-Control line. Names are
// case-insensitive; qualified forms (private="Set-Cookie") count as the
// unqualified directive; unknown directives are ignored.
func parseCacheControl(lines []string) directives {
	d := directives{maxAge: -1, sMaxAge: -1, staleIfError: -1}
	for _, line := range lines {
		for line != "" {
			var item string
			item, line = nextItem(line)
			name, val, _ := strings.Cut(item, "=")
			name = strings.TrimSpace(name)
			switch {
			case strings.EqualFold(name, "no-store"):
				d.noStore = true
			case strings.EqualFold(name, "no-cache"):
				d.noCache = true
			case strings.EqualFold(name, "private"):
				d.private = true
			case strings.EqualFold(name, "public"):
				d.public = true
			case strings.EqualFold(name, "must-revalidate"), strings.EqualFold(name, "proxy-revalidate"):
				d.mustRevalidate = true
			case strings.EqualFold(name, "max-age"):
				d.maxAge = deltaSeconds(val)
			case strings.EqualFold(name, "s-maxage"):
				d.sMaxAge = deltaSeconds(val)
			case strings.EqualFold(name, "stale-if-error"):
				d.staleIfError = deltaSeconds(val)
			}
		}
	}
	return d
}

// nextItem splits the first comma-separated item off s; commas inside
// quotes do not split.
func nextItem(s string) (item, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

// deltaSeconds parses a (possibly quoted) count of seconds. An invalid
// value is 0, which makes a freshness lifetime stale (RFC 9111 §1.2.2); a
// huge one is capped.
func deltaSeconds(v string) int64 {
	v = strings.Trim(strings.TrimSpace(v), `"`)
	if v == "" {
		return 0
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = min(n*10+int64(c-'0'), maxDeltaSeconds)
	}
	return n
}

func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// reqFlags is what a request's headers ask of the cache.
type reqFlags struct {
	auth    bool  // carries Authorization
	noStore bool  // Cache-Control: no-store
	noCache bool  // Cache-Control: no-cache, or Pragma: no-cache without Cache-Control
	maxAge  int64 // Cache-Control: max-age; -1 when absent
}

func parseRequest(h http.Header) reqFlags {
	q := reqFlags{maxAge: -1, auth: h["Authorization"] != nil}
	if cc := h["Cache-Control"]; cc != nil {
		d := parseCacheControl(cc)
		q.noStore, q.noCache, q.maxAge = d.noStore, d.noCache, d.maxAge
	} else if p := h["Pragma"]; p != nil {
		q.noCache = parseCacheControl(p).noCache
	}
	return q
}

// canLead reports whether a missed request may lead a flight (and so be
// waited for): its answer must be one others can share. Asked only after a
// miss, so hits do not pay for the header lookups.
func canLead(r *http.Request, q reqFlags) bool {
	h := r.Header
	return r.Method == http.MethodGet && !q.auth && !q.noStore &&
		h["Range"] == nil && h["If-None-Match"] == nil && h["If-Modified-Since"] == nil &&
		h["If-Match"] == nil && h["If-Unmodified-Since"] == nil
}

// policy is how an admitted response is stored.
type policy struct {
	vary     []string // canonical, sorted
	at       time.Time
	age      time.Duration
	fresh    time.Duration
	staleFor time.Duration
	shared   bool
}

// admit decides whether a 200 answer with header h may be stored, for a
// request that carried Authorization when auth is set.
func (s *Store) admit(h http.Header, auth bool, now time.Time) (policy, bool) {
	if h["Set-Cookie"] != nil || h["Trailer"] != nil {
		return policy{}, false
	}
	d := parseCacheControl(h["Cache-Control"])
	if d.noStore || d.noCache || d.private {
		return policy{}, false
	}
	p := policy{at: now, shared: d.public || d.sMaxAge >= 0, staleFor: s.staleFor}
	if auth && !p.shared {
		return policy{}, false
	}
	vary, ok := parseVary(h["Vary"])
	if !ok {
		return policy{}, false
	}
	p.vary = vary
	if p.fresh = s.lifetime(d, h, now); p.fresh <= 0 {
		return policy{}, false
	}
	if a := h["Age"]; a != nil {
		p.age = seconds(deltaSeconds(a[0]))
	}
	if d.mustRevalidate {
		p.staleFor = 0
	}
	if d.staleIfError >= 0 {
		p.staleFor = seconds(d.staleIfError)
	}
	return p, true
}

// lifetime is the freshness lifetime: s-maxage, max-age, Expires - Date,
// or the route's ttl. An unparsable Expires means already expired.
func (s *Store) lifetime(d directives, h http.Header, now time.Time) time.Duration {
	switch {
	case d.sMaxAge >= 0:
		return seconds(d.sMaxAge)
	case d.maxAge >= 0:
		return seconds(d.maxAge)
	}
	exp := h["Expires"]
	if exp == nil {
		return s.ttl
	}
	t, err := http.ParseTime(exp[0])
	if err != nil {
		return 0
	}
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	return t.Sub(now)
}

// parseVary returns the canonical, sorted, distinct names of Vary; false
// for "Vary: *" (never stored).
func parseVary(lines []string) ([]string, bool) {
	var names []string
	for _, line := range lines {
		for tok := range strings.SplitSeq(line, ",") {
			tok = strings.TrimSpace(tok)
			switch {
			case tok == "":
			case tok == "*":
				return nil, false
			default:
				if name := http.CanonicalHeaderKey(tok); !slices.Contains(names, name) {
					names = append(names, name)
				}
			}
		}
	}
	slices.Sort(names)
	return names, true
}
