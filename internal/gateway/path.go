package gateway

import (
	"net/http"

	"github.com/rgate/rgate/internal/route"
)

// lookup finds the route for r by its host and path; ok is false when the
// path is ambiguous (see route.Table.LookupRequest, which /explain shares
// so that it gives the gateway's own answer). The host is r.Host: the Host
// header, or for HTTP/2 :authority, never the TLS server name.
func lookup(t *route.Table, r *http.Request) (rt *route.Route, ok bool) {
	return t.LookupRequest(r.Host, r.URL.Path, r.URL.RawPath)
}
