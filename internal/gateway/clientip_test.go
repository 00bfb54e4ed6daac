package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/stats"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		trusted      []netip.Prefix
		want         string
		wantVia      bool
	}{
		{"no trusted proxies: XFF ignored", "203.0.113.5:1000", []string{"1.2.3.4"}, nil, "203.0.113.5", false},
		{"untrusted peer: XFF ignored", "203.0.113.5:1000", []string{"1.2.3.4"}, trusted, "203.0.113.5", false},
		{"trusted peer", "10.1.1.1:1000", []string{"198.51.100.7"}, trusted, "198.51.100.7", true},
		{"chain of trusted proxies", "10.1.1.1:1000", []string{"198.51.100.7, 192.0.2.1", "10.9.9.9"}, trusted, "198.51.100.7", true},
		{"spoofed leftmost entry is not believed", "10.1.1.1:1000", []string{"6.6.6.6, 198.51.100.7"}, trusted, "198.51.100.7", true},
		{"garbage stops the walk", "10.1.1.1:1000", []string{"x-y-z, 10.2.2.2"}, trusted, "10.2.2.2", true},
		{"trusted peer without XFF", "10.1.1.1:1000", nil, trusted, "10.1.1.1", true},
		{"IPv6 peer", "[2001:db8::1]:1000", nil, trusted, "2001:db8::1", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		got, via := clientIP(r, tc.trusted)
		if got != tc.want || via != tc.wantVia {
			t.Errorf("%s: clientIP = %q, %v; want %q, %v", tc.name, got, via, tc.want, tc.wantVia)
		}
	}
}

func TestTrustedProxyForwardedHeaders(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "one")
	cfg := &config.Config{
		Routes:   []config.Route{{PathPrefix: "/a", Backend: "a"}},
		Backends: []config.Backend{{Name: "a", URLs: []string{be.URL}}},
		Server:   config.Server{TrustedProxies: []string{"192.0.2.0/24"}},
	}
	g := New(cfg, Options{Stats: stats.NewStore()})
	t.Cleanup(g.Close)
	for _, tc := range []struct {
		remote             string
		wantXFF, wantProto string
		wantHost           string
	}{
		{"192.0.2.7:5555", "203.0.113.9, 192.0.2.7", "https", "public.example"}, // trusted: kept and extended
		{"198.51.100.1:5555", "198.51.100.1", "http", "gw.internal"},            // untrusted: replaced
	} {
		r := httptest.NewRequest("GET", "http://gw.internal/a", nil)
		r.RemoteAddr = tc.remote
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-Host", "public.example")
		res := serve(g, r)
		var got struct{ Headers http.Header }
		if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		h := got.Headers
		if h.Get("X-Forwarded-For") != tc.wantXFF || h.Get("X-Forwarded-Proto") != tc.wantProto || h.Get("X-Forwarded-Host") != tc.wantHost {
			t.Errorf("from %s: XFF %q proto %q host %q; want %q %q %q", tc.remote,
				h.Get("X-Forwarded-For"), h.Get("X-Forwarded-Proto"), h.Get("X-Forwarded-Host"), tc.wantXFF, tc.wantProto, tc.wantHost)
		}
	}
}
