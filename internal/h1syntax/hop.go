package h1syntax

import (
	"net/http"
	"net/textproto"
	"strings"
)

// IsHopByHop reports whether the canonical field name is one of the
// hop-by-hop fields a proxy never forwards (RFC 9110 7.6.1, and the list
// httputil.ReverseProxy removes).
func IsHopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// ConnectionNames returns the canonical field names that the Connection
// values name (nil when there are none): those are hop-by-hop too.
func ConnectionNames(conn []string) []string {
	var names []string
	for _, f := range conn {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				names = append(names, textproto.CanonicalMIMEHeaderKey(sf))
			}
		}
	}
	return names
}

// RemoveHopByHop deletes from h the fields its Connection header names and
// the fixed hop-by-hop fields, as httputil.ReverseProxy does.
func RemoveHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		delete(h, k)
	}
}
