package gateway

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"github.com/rgate/rgate/internal/config"
)

// TestRoutesByHost: the gateway picks a route by the request's Host (for
// HTTP/2, :authority: both are r.Host), never by the TLS server name, and
// keeps the path checks on a host route.
func TestRoutesByHost(t *testing.T) {
	t.Parallel()
	exact, wild, none := echoBackend(t, "exact"), echoBackend(t, "wild"), echoBackend(t, "none")
	cfg := &config.Config{
		Routes: []config.Route{
			{PathPrefix: "/", Host: "a.example.com", Backend: "exact"},
			{PathPrefix: "/public", Host: "a.example.com", Backend: "exact"},
			{PathPrefix: "/", Host: "*.example.com", Backend: "wild"},
			{PathPrefix: "/", Backend: "none"},
			{PathPrefix: "/private", Backend: "exact"},
		},
		DefaultResponse: config.DefaultResponse{Body: "no", StatusCode: 404},
		Backends: []config.Backend{
			{Name: "exact", URLs: []string{exact.URL}},
			{Name: "wild", URLs: []string{wild.URL}},
			{Name: "none", URLs: []string{none.URL}},
		},
	}
	g := New(cfg, Options{})
	t.Cleanup(g.Close)
	for _, tc := range []struct {
		host, sni, target string
		status            int
		backend           string
	}{
		{"a.example.com", "", "/x", 200, "exact"},
		{"A.Example.COM:8080", "", "/x", 200, "exact"},
		{"a.example.com.", "", "/x", 200, "exact"},
		{"B.Example.COM:8080", "", "/x", 200, "wild"},
		{"x.y.example.com", "", "/x", 200, "none"},
		{"example.com", "", "/x", 200, "none"},
		{"other", "", "/x", 200, "none"},
		{"", "", "/x", 200, "none"},
		{"[::1]:8080", "", "/x", 200, "none"},
		{"other", "a.example.com", "/x", 200, "none"}, // the TLS server name plays no part
		{"a.example.com", "other", "/x", 200, "exact"},
		{"a.example.com", "", "/public/../x", 400, ""}, // a.example.com/public, cleaned: a.example.com/
		{"a.example.com", "", "/public/%2e%2e/x", 400, ""},
		{"A.EXAMPLE.COM", "", "/public/..;/x", 400, ""},
		{"a.example.com", "", "/public/./x", 200, "exact"},
		{"a.example.com", "", "/x/../private/y", 200, "exact"}, // a.example.com/ either way: the host picks the routes searched
		{"other", "", "/x/../private/y", 400, ""},              // host-less /, cleaned: /private
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		r.Host = tc.host
		if tc.sni != "" {
			r.TLS = &tls.ConnectionState{ServerName: tc.sni}
		}
		res := serve(g, r)
		if got := res.Header.Get("X-Backend"); res.StatusCode != tc.status || got != tc.backend {
			t.Errorf("Host %q (SNI %q) %s: status %d backend %q, want %d %q", tc.host, tc.sni, tc.target, res.StatusCode, got, tc.status, tc.backend)
		}
	}
}
