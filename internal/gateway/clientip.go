package gateway

import (
	"github.com/rgate/rgate/internal/reqinfo"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
)

// Forwarding headers. ReverseProxy removes the client's copies from the
// outbound request; they are believed, and passed on, only from trusted
// proxies (server.trusted_proxies).
const (
	headerXFF   = "X-Forwarded-For"
	headerXFH   = "X-Forwarded-Host"
	headerXFP   = "X-Forwarded-Proto"
	headerFwdBy = "Forwarded"
)

// setForwarded sets X-Forwarded-For/-Host/-Proto on the outbound request:
// from a trusted proxy, its X-Forwarded-For is extended with its address
// and its -Host and -Proto are kept; from anyone else, they describe this
// hop only.
func setForwarded(pr *httputil.ProxyRequest, trusted bool) {
	if !trusted {
		pr.SetXForwarded()
		return
	}
	if prior := pr.In.Header[headerXFF]; len(prior) > 0 {
		pr.Out.Header[headerXFF] = prior // SetXForwarded appends the proxy's address
	}
	pr.SetXForwarded()
	for _, h := range [...]string{headerXFH, headerXFP} {
		if v := pr.In.Header[h]; len(v) > 0 {
			pr.Out.Header[h] = v
		}
	}
	if v := pr.In.Header[headerFwdBy]; len(v) > 0 {
		pr.Out.Header[headerFwdBy] = v
	}
}

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
	xff := r.Header[headerXFF]
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
