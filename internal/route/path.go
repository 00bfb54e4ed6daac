package route

import (
	"net/url"
	"path"
	"strings"
)

// LookupRequest finds the route for a request as the gateway receives it:
// host is its Host header (see LookupHost), p the decoded path
// (url.URL.Path) and raw the client's escaping of it (url.URL.RawPath, ""
// when the canonical escaping is the client's). A path with dot-segments
// or encoded slashes is also matched, among the same host's routes, in the
// forms an upstream might normalise it to; when any form would reach a
// different route, the request is ambiguous and gets no route (ok false),
// so a crafted path can never reach a backend whose prefix it does not
// really carry.
//
// The common path (no dot-segment, canonical escaping) costs one lookup
// and allocates nothing; a table without host routes never reads host.
func (t *Table) LookupRequest(host, p, raw string) (rt *Route, ok bool) {
	if t.hosts != nil {
		return t.lookupHostRequest(requestHost(host), p, raw)
	}
	rt = t.Lookup(p)
	if _, _, ambiguous := t.ambiguity("", p, raw, rt); ambiguous {
		return nil, false
	}
	return rt, true
}

// lookupHostRequest is LookupRequest in a table with host routes, for a
// host in requestHost's form.
func (t *Table) lookupHostRequest(host, p, raw string) (rt *Route, ok bool) {
	rt = t.match(host, p)
	if _, _, ambiguous := t.ambiguity(host, p, raw, rt); ambiguous {
		return nil, false
	}
	return rt, true
}

// ambiguity returns the first normalised form of the path (host, p, raw as
// in LookupRequest, host in requestHost's form) that sends the request to a
// route other than rt, and that route (nil: the default response).
func (t *Table) ambiguity(host, p, raw string, rt *Route) (form string, other *Route, found bool) {
	if raw == "" && !suspicious(p) {
		return "", nil, false
	}
	escaped := raw
	if escaped == "" {
		escaped = p
	}
	for _, alt := range [...]string{cleanPath(p), raw, cleanPath(raw), lenientPath(escaped)} {
		if alt == "" {
			continue
		}
		if o := t.match(host, alt); o != rt {
			return alt, o, true
		}
	}
	return "", nil, false
}

// suspicious reports whether a decoded path could mean something else to a
// lenient server: dot-segments, repeated slashes, backslashes, ";params" or
// a "%" left after decoding (double encoding).
func suspicious(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\', ';', '%':
			return true
		case '/':
			if i+1 < len(p) && (p[i+1] == '.' || p[i+1] == '/') {
				return true
			}
		}
	}
	return false
}

// cleanPath resolves dot-segments and backslashes as lenient servers do,
// keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	q := path.Clean(strings.ReplaceAll(p, "\\", "/"))
	if strings.HasSuffix(p, "/") && q != "/" {
		q += "/"
	}
	return q
}

// lenientPath is what the most forgiving upstream might make of an escaped
// path: percent-decoding repeated (double-encoded dots and slashes),
// backslashes as slashes, ";params" dropped from each segment (so "..;" is
// ".."), then dot-segments resolved.
func lenientPath(escaped string) string {
	p := escaped
	for range 3 {
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			break
		}
		p = d
	}
	p = strings.ReplaceAll(p, "\\", "/")
	if strings.IndexByte(p, ';') >= 0 {
		segs := strings.Split(p, "/")
		for i, s := range segs {
			if j := strings.IndexByte(s, ';'); j >= 0 {
				segs[i] = s[:j]
			}
		}
		p = strings.Join(segs, "/")
	}
	return cleanPath(p)
}
