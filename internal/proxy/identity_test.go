package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/consumer"
	"github.com/rgate/rgate/internal/mw/auth"
	"github.com/rgate/rgate/internal/reqinfo"
	"github.com/rgate/rgate/internal/route"
)

// TestPlanIdentity: on a route with auth the client's identity fields and
// credential never leave; the verified ones do; forward_credentials keeps
// the credential.
func TestPlanIdentity(t *testing.T) {
	t.Parallel()
	pc := config.AuthPolicy{Name: "p", Methods: []string{"api_key", "jwt"}, APIKey: &config.APIKeyAuth{Header: "X-Key"},
		JWT: &config.JWTAuth{JWKSFile: "/nonexistent", Algorithms: []string{"RS256"}, ForwardClaims: map[string]string{"email": "X-User-Email"}}}
	reg := auth.NewRegistry(nil)
	defer reg.Close()
	pol := auth.NewPolicy(pc, consumer.NewTable(nil), reg)
	for _, fwd := range []bool{false, true} {
		p := NewPlan(&route.Route{Prefix: "/a", Auth: pol, ForwardCredentials: fwd})
		r := httptest.NewRequest(http.MethodGet, "/a", nil)
		r.RemoteAddr = "192.0.2.1:5"
		for k, v := range map[string]string{"X-Consumer": "root", "X-Consumer-Tier": "gold", "X-User-Email": "evil@x",
			"X-Key": "secret", "Authorization": "Bearer t", "X-Other": "kept"} {
			r.Header.Set(k, v)
		}
		info := &reqinfo.Info{Consumer: "acme", ConsumerTier: "premium", Identity: []string{"X-User-Email", "ops@acme.test"}}
		h := http.Header{}
		if err := p.fields(r, false, info, headerSink(h)); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string][]string{"X-Consumer": {"acme"}, "X-Consumer-Tier": {"premium"},
			"X-User-Email": {"ops@acme.test"}, "X-Other": {"kept"}} {
			if !slices.Equal(h[k], want) {
				t.Errorf("forward_credentials=%v: %s = %q, want %q", fwd, k, h[k], want)
			}
		}
		for _, k := range []string{"X-Key", "Authorization"} {
			if got := h[k] != nil; got != fwd {
				t.Errorf("forward_credentials=%v: %s sent = %v", fwd, k, got)
			}
		}
	}
	// Without auth nothing changes: the client's copies pass.
	p := NewPlan(&route.Route{Prefix: "/a"})
	r := httptest.NewRequest(http.MethodGet, "/a", nil)
	r.Header.Set("X-Consumer", "root")
	h := http.Header{}
	_ = p.fields(r, false, &reqinfo.Info{}, headerSink(h))
	if h.Get("X-Consumer") != "root" {
		t.Errorf("a route without auth changed X-Consumer: %v", h)
	}
}

func TestDropParam(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"api_key=k":              "",
		"a=1&api_key=k&b=%20x":   "a=1&b=%20x",
		"a=1&api%5Fkey=k":        "a=1",
		"a=1&api_keyx=k&api_key": "a=1&api_keyx=k",
		"a=1;b=2":                "a=1;b=2",
	} {
		if got := dropParam(in, "api_key"); got != want {
			t.Errorf("dropParam(%q) = %q, want %q", in, got, want)
		}
	}
	p := &Plan{dropQuery: "api_key"}
	u, _ := url.Parse("/x?api_key=k&q=1")
	if got := p.target(u); got.RawQuery != "q=1" {
		t.Errorf("target query %q", got.RawQuery)
	}
}
