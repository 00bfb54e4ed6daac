package h1syntax

import "strings"

// ForbiddenInTrailer reports whether the canonical field name must not be
// sent in a trailer section (RFC 9110 6.5.1): fields for message framing,
// routing, request modifiers, authentication, response control and the
// processing of the content. A proxy drops them from an upstream's
// trailers instead of passing them on.
func ForbiddenInTrailer(k string) bool {
	if strings.HasPrefix(k, "Content-") || strings.HasPrefix(k, "If-") {
		return true
	}
	switch k {
	case
		// framing and connection
		"Transfer-Encoding", "Trailer", "Connection", "Keep-Alive", "Proxy-Connection", "Upgrade", "Te",
		// routing and request modifiers
		"Host", "Cache-Control", "Expect", "Max-Forwards", "Pragma", "Range",
		// authentication and cookies
		"Authorization", "Proxy-Authorization", "Www-Authenticate", "Proxy-Authenticate",
		"Authentication-Info", "Proxy-Authentication-Info", "Cookie", "Set-Cookie",
		// response control data
		"Age", "Date", "Expires", "Location", "Retry-After", "Vary", "Warning":
		return true
	}
	return false
}
