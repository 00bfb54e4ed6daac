package gateway

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/rgate/rgate/internal/reqinfo"
)

// clientIP returns the client's address and whether the connection comes
// from a trusted proxy. Behind trusted proxies it is the nearest address
// in X-Forwarded-For (read right to left) that is not itself trusted.
func clientIP(r *http.Request, trusted []netip.Prefix) (string, bool) {
	host := reqinfo.HostOf(r.RemoteAddr)
	if len(trusted) == 0 {
		return host, false
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host, false
	}
	xff := r.Header["X-Forwarded-For"]
	client := host
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client, true // garbage: stop at the last good address
			}
			client = a.Unmap().String()
			if !isTrusted(a, trusted) {
				return client, true
			}
		}
	}
	return client, true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
