package listener

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// secure wraps the TLS port's handler: HSTS on every answer when set, and
// Connection: close after an HTTP/1.0 request. net/http ignores a
// Transfer-Encoding in an HTTP/1.0 request and frames it by its
// Content-Length; closing after it means the bytes that follow are never
// read as another request (on the plain port rgate's own server refuses
// such a request outright).
func secure(next http.Handler, hsts string) http.Handler {
	var hstsValue []string
	if hsts != "" {
		hstsValue = []string{hsts}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hstsValue != nil {
			w.Header()["Strict-Transport-Security"] = hstsValue
		}
		if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
			w.Header()["Connection"] = closeValue
		}
		next.ServeHTTP(w, r)
	})
}

var closeValue = []string{"close"}

// acmeChallengePrefix is where ACME http-01 challenges are asked.
const acmeChallengePrefix = "/.well-known/acme-challenge/"

// redirect answers 308 to the same URL over https on tlsPort, except for
// the admin endpoints and ACME http-01 challenges, which next serves.
func redirect(next http.Handler, tlsPort int, isAdmin func(string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, acmeChallengePrefix) || (isAdmin != nil && isAdmin(p)) {
			next.ServeHTTP(w, r)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]" // an IPv6 literal
		}
		if tlsPort != 443 {
			host += ":" + strconv.Itoa(tlsPort)
		}
		w.Header().Set("Location", "https://"+host+r.URL.RequestURI())
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}
