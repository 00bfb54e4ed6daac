package gateway

import (
	"net/http"
	"path"
	"strings"

	"github.com/rgate/rgate/internal/route"
)

// lookup finds the route for r. A path with dot-segments or encoded slashes
// is also matched in the forms an upstream might normalise it to; when any
// form would reach a different route, the request is ambiguous and gets no
// route (ok false), so a crafted path can never reach a backend whose prefix
// it does not really carry.
func lookup(t *route.Table, r *http.Request) (rt *route.Route, ok bool) {
	p := r.URL.Path
	rt = t.Lookup(p)
	raw := r.URL.RawPath // set only when the client's escaping differs from the canonical one
	if raw == "" && !hasDotSegment(p) {
		return rt, true
	}
	for _, alt := range [...]string{cleanPath(p), raw, cleanPath(raw)} {
		if alt != "" && t.Lookup(alt) != rt {
			return nil, false
		}
	}
	return rt, true
}

func hasDotSegment(p string) bool {
	return strings.Contains(p, "/.") || strings.Contains(p, "\\")
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
