// Package headers applies a route's header rules: first remove, then set.
// Rules are compiled once (names canonicalised, values shared) so applying
// them costs map operations only.
package headers

import (
	"net/http"
	"slices"

	"github.com/rgate/rgate/internal/config"
)

// Rules is a compiled config.HeaderRules. The zero value does nothing.
type Rules struct {
	remove []string
	set    []pair
}

type pair struct {
	name  string
	value []string
}

// Compile canonicalises hr once.
func Compile(hr config.HeaderRules) Rules {
	var r Rules
	for _, n := range hr.Remove {
		r.remove = append(r.remove, http.CanonicalHeaderKey(n))
	}
	for n, v := range hr.Set {
		r.set = append(r.set, pair{name: http.CanonicalHeaderKey(n), value: []string{v}})
	}
	slices.SortFunc(r.set, func(a, b pair) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	return r
}

// Empty reports whether the rules do nothing.
func (r *Rules) Empty() bool { return len(r.remove) == 0 && len(r.set) == 0 }

// Apply edits h in place. Set values are shared slices and must not be
// appended to by later code (net/http only reads them).
func (r *Rules) Apply(h http.Header) {
	for _, n := range r.remove {
		delete(h, n)
	}
	for _, p := range r.set {
		h[p.name] = p.value
	}
}

// Affects reports whether the rules remove or set the canonical name.
func (r *Rules) Affects(name string) bool {
	for _, n := range r.remove {
		if n == name {
			return true
		}
	}
	for _, p := range r.set {
		if p.name == name {
			return true
		}
	}
	return false
}

// NumSet is how many headers the rules set; Set(i) returns the i-th, in
// name order (for writers that stream headers instead of editing a map).
func (r *Rules) NumSet() int { return len(r.set) }

// Set returns the i-th header the rules set.
func (r *Rules) Set(i int) (name string, values []string) { return r.set[i].name, r.set[i].value }
