package gateway

import (
	"net/http"

	"github.com/rgate/rgate/internal/route"
)

// lookup finds the route for r; ok is false when the path is ambiguous (see
// route.Table.LookupRequest, which /explain shares so that it gives the
// gateway's own answer).
func lookup(t *route.Table, r *http.Request) (rt *route.Route, ok bool) {
	return t.LookupRequest(r.URL.Path, r.URL.RawPath)
}
