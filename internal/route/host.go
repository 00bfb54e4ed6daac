package route

import "strings"

// hostIndex finds the routes that have a host: one radix per exact host,
// and one per wildcard, keyed by the domain under its "*." ("example.com"
// for "*.example.com"). A table without host routes has none, and its
// lookups never look at the request's host.
type hostIndex struct {
	exact map[string]*radix
	wild  map[string]*radix
}

// lookup returns the route for host (in requestHost's form) and path
// among the host routes: the longest prefix among the host's exact routes,
// else among the wildcard routes for the domain under its first label (a
// non-empty one: ".example.com" is no name under example.com), or nil.
func (x *hostIndex) lookup(host, path string) *Route {
	if n := x.exact[host]; n != nil {
		if rt := n.lookup(path); rt != nil {
			return rt
		}
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		if n := x.wild[host[i+1:]]; n != nil {
			return n.lookup(path)
		}
	}
	return nil
}

// hostApplies reports whether a route with host pattern (as Route.Host:
// "", a name, or "*.domain") applies to requests for host (in requestHost's
// form). It is hostIndex's rule, written as a test of one route.
func hostApplies(pattern, host string) bool {
	if pattern == "" || pattern == host {
		return true
	}
	domain, wild := strings.CutPrefix(pattern, "*.")
	i := strings.IndexByte(host, '.')
	return wild && i > 0 && host[i+1:] == domain
}

// hostRank orders route hosts by precedence: exact names (0) before
// wildcards (1) before no host (2).
func hostRank(pattern string) int {
	switch {
	case pattern == "":
		return 2
	case strings.HasPrefix(pattern, "*."):
		return 1
	}
	return 0
}

func indexHosts(routes []*Route) *hostIndex {
	var x *hostIndex
	for _, r := range routes {
		if r.Host == "" {
			continue
		}
		if x == nil {
			x = &hostIndex{exact: map[string]*radix{}, wild: map[string]*radix{}}
		}
		m, key := x.exact, r.Host
		if domain, ok := strings.CutPrefix(r.Host, "*."); ok {
			m, key = x.wild, domain
		}
		if m[key] == nil {
			m[key] = &radix{}
		}
		m[key].insert(r.Prefix, r)
	}
	return x
}

// requestHost is the form a request's host is matched in: the Host header
// (for HTTP/2, :authority) lower-cased, without its port (an IPv6 literal
// keeps its brackets: "[::1]:8080" -> "[::1]") and without one trailing
// dot. It allocates only when h has upper-case letters.
func requestHost(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			h = h[:i+1]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}
