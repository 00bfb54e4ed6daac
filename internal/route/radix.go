package route

import "strings"

// radix is the routing index: a radix tree over the bytes of the route
// prefixes, with compressed edges. Lookup walks the path once, down the
// one edge its next byte selects, remembering the last node that ends a
// prefix: the longest matching prefix in O(len(path)), whatever the number
// of routes and of distinct prefix lengths. (One map per prefix length,
// the index before, cost a hash of the path per distinct length: 700 ns
// with 1,000 routes of many lengths.)
type radix struct {
	label string // the edge from the parent
	route *Route // the route whose prefix ends here, or nil
	// first[i] is the first byte of kids[i].label, sorted.
	first []byte
	kids  []*radix
}

// lookup returns the route with the longest prefix of path, or nil.
func (n *radix) lookup(path string) *Route {
	best := n.route
	for len(path) > 0 {
		c := n.child(path[0])
		if c == nil || !strings.HasPrefix(path, c.label) {
			break
		}
		path = path[len(c.label):]
		n = c
		if n.route != nil {
			best = n.route
		}
	}
	return best
}

func (n *radix) child(b byte) *radix {
	f := n.first
	if len(f) <= 8 {
		for i, x := range f {
			if x == b {
				return n.kids[i]
			}
		}
		return nil
	}
	lo, hi := 0, len(f)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if f[m] < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(f) && f[lo] == b {
		return n.kids[lo]
	}
	return nil
}

// insert adds r under key; an existing route for the same key is kept
// (validation rejects duplicates; the first one wins).
func (n *radix) insert(key string, r *Route) {
	for {
		if key == "" {
			if n.route == nil {
				n.route = r
			}
			return
		}
		c := n.child(key[0])
		if c == nil {
			n.add(&radix{label: key, route: r})
			return
		}
		common := 0
		for common < len(key) && common < len(c.label) && key[common] == c.label[common] {
			common++
		}
		if common < len(c.label) { // split c's edge at the common part
			mid := &radix{label: c.label[:common]}
			c.label = c.label[common:]
			mid.add(c)
			n.replace(key[0], mid)
			c = mid
		}
		key, n = key[common:], c
	}
}

func (n *radix) add(c *radix) {
	b := c.label[0]
	i := 0
	for i < len(n.first) && n.first[i] < b {
		i++
	}
	n.first = append(n.first, 0)
	copy(n.first[i+1:], n.first[i:])
	n.first[i] = b
	n.kids = append(n.kids, nil)
	copy(n.kids[i+1:], n.kids[i:])
	n.kids[i] = c
}

func (n *radix) replace(b byte, c *radix) {
	for i, x := range n.first {
		if x == b {
			n.kids[i] = c
			return
		}
	}
}

// indexRoutes indexes the routes without a host (indexHosts takes the
// others).
func indexRoutes(routes []*Route) *radix {
	root := &radix{}
	for _, r := range routes {
		if r.Host == "" {
			root.insert(r.Prefix, r)
		}
	}
	return root
}
