package route

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/metrics"
	"github.com/rgate/rgate/internal/stats"
)

func TestRequestHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"api.example.com", "api.example.com"},
		{"API.Example.COM", "api.example.com"},
		{"api.example.com:8080", "api.example.com"},
		{"B.Example.COM:8080", "b.example.com"},
		{"api.example.com.", "api.example.com"},
		{"api.example.com.:443", "api.example.com"},
		{"api.example.com..", "api.example.com."}, // one trailing dot only
		{"api.example.com:", "api.example.com"},
		{"[::1]:8080", "[::1]"},
		{"[::1]", "[::1]"},
		{"[FE80::1]:80", "[fe80::1]"},
		{"127.0.0.1:8080", "127.0.0.1"},
		{"localhost", "localhost"},
		{"", ""}, // no Host header (HTTP/1.0)
	} {
		if got := requestHost(tc.in); got != tc.want {
			t.Errorf("requestHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestHostApplies: which request hosts (as requestHost gives them) a
// route host covers.
func TestHostApplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"", "anything.example", true},
		{"", "", true},
		{"a.example.com", "a.example.com", true},
		{"a.example.com", "b.example.com", false},
		{"a.example.com", "x.a.example.com", false},
		{"a.example.com", "", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "example.com", false},     // not the domain itself
		{"*.example.com", "a.b.example.com", false}, // exactly one label
		{"*.example.com", ".example.com", false},    // and not an empty one
		{"*.example.com", "aexample.com", false},
		{"*.example.com", "a.example.com.evil", false},
		{"*.example.com", "", false},
		{"*.com", "example.com", true},
		{"*.com", "a.example.com", false},
	} {
		if got := hostApplies(tc.pattern, tc.host); got != tc.want {
			t.Errorf("hostApplies(%q, %q) = %v, want %v", tc.pattern, tc.host, got, tc.want)
		}
	}
}

// hostConfig has routes for an exact host, a wildcard and no host, with
// prefixes that overlap across them.
func hostConfig() *config.Config {
	return &config.Config{
		Routes: []config.Route{
			{PathPrefix: "/", Host: "a.example.com", Backend: "exact"},
			{PathPrefix: "/api", Host: "A.Example.com.", Backend: "exact"},
			{PathPrefix: "/", Host: "*.example.com", Backend: "wild"},
			{PathPrefix: "/api/v2/long", Host: "*.example.com", Backend: "wild"},
			{PathPrefix: "/only-wild", Host: "*.other.test", Backend: "wild"},
			{PathPrefix: "/", Backend: "none"},
			{PathPrefix: "/api/v2/longer/still", Backend: "none"},
			{PathPrefix: "/shop", Host: "shop.test", Backend: "exact"},
		},
		Backends: []config.Backend{
			{Name: "exact", URLs: []string{"http://127.0.0.1:1"}},
			{Name: "wild", URLs: []string{"http://127.0.0.1:2"}},
			{Name: "none", URLs: []string{"http://127.0.0.1:3"}},
		},
	}
}

// TestLookupHostPrecedence: a matching host route beats one without, an
// exact host beats a wildcard, then the longest prefix; a host whose own
// routes miss the path falls back to wildcard, then host-less routes.
func TestLookupHostPrecedence(t *testing.T) {
	t.Parallel()
	cfg := hostConfig()
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	tab := Compile(cfg, docker.Snapshot{}, Deps{})
	for _, tc := range []struct {
		host, path string
		want       string // route name, "" for none
	}{
		{"a.example.com", "/x", "a.example.com/"},
		{"a.example.com", "/api/x", "a.example.com/api"},
		{"a.example.com", "/api/v2/long/x", "a.example.com/api"}, // exact host beats a longer wildcard prefix
		{"a.example.com", "/api/v2/longer/still/x", "a.example.com/api"},
		{"A.EXAMPLE.COM:8443", "/api", "a.example.com/api"},
		{"a.example.com.", "/", "a.example.com/"},
		{"b.example.com", "/x", "*.example.com/"},
		{"B.Example.COM:8080", "/api/v2/long/x", "*.example.com/api/v2/long"},
		{"b.example.com", "/api/v2/longer/still/x", "*.example.com/api/v2/long"}, // wildcard beats a longer host-less prefix
		{"x.y.example.com", "/x", "/"},                                           // two labels: not the wildcard's
		{"example.com", "/x", "/"},                                               // the domain itself: not the wildcard's
		{".example.com", "/x", "/"},                                              // an empty first label: not the wildcard's
		{"x.y.example.com", "/api/v2/longer/still", "/api/v2/longer/still"},
		{"other", "/x", "/"},
		{"", "/x", "/"},
		{"[::1]:8080", "/x", "/"},
		{"shop.test", "/shop/cart", "shop.test/shop"},
		{"shop.test", "/x", "/"}, // the host's routes miss: host-less routes
		{"a.other.test", "/only-wild/x", "*.other.test/only-wild"},
		{"a.other.test", "/x", "/"}, // the wildcard's routes miss: host-less routes
	} {
		got := tab.LookupHost(tc.host, tc.path)
		if name := nameOf(got); name != tc.want {
			t.Errorf("LookupHost(%q, %q) = %q, want %q", tc.host, tc.path, name, tc.want)
		}
		if rt, ok := tab.LookupRequest(tc.host, tc.path, ""); rt != got || !ok {
			t.Errorf("LookupRequest(%q, %q) = %q %v, want %q, true", tc.host, tc.path, nameOf(rt), ok, nameOf(got))
		}
	}
	if a := tab.LookupHost("a.example.com", "/x"); a.Host != "a.example.com" || a.Prefix != "/" || a.Backend.Name != "exact" {
		t.Errorf("a.example.com route = host %q prefix %q backend %q", a.Host, a.Prefix, a.Backend.Name)
	}
}

// TestLookupHostAmbiguous: a host route keeps the path hardening: a form
// of the path that would reach another route of the same request (here
// one of another host tier) is rejected, and one that stays is not.
func TestLookupHostAmbiguous(t *testing.T) {
	t.Parallel()
	tab := Compile(hostConfig(), docker.Snapshot{}, Deps{})
	for _, tc := range []struct {
		host, path, raw string
		ok              bool
	}{
		{"shop.test", "/shop/../admin", "", false},                           // host route, cleaned: host-less "/"
		{"shop.test", "/shop/%2e%2e/admin", "/shop/%252e%252e/admin", false}, // double-encoded dots
		{"shop.test", "/shop/./cart", "", true},                              // same route either way
		{"a.example.com", "/api/../x", "", false},                            // /api -> "/" of the same host: a different route
		{"a.example.com", "/x/../y", "", true},                               // "/" either way
		{"b.example.com", "/api/v2/long/../../v1", "", false},
		{"other", "/api/v2/longer/still/../../x", "", false},
	} {
		if _, ok := tab.LookupRequest(tc.host, tc.path, tc.raw); ok != tc.ok {
			t.Errorf("LookupRequest(%q, %q, %q) ok = %v, want %v", tc.host, tc.path, tc.raw, ok, tc.ok)
		}
	}
}

// TestLookupHostMatchesScan: the host and radix indexes return what a scan
// of every route returns, ranking routes by host (exact, wildcard, none),
// then by prefix length, on random tables and requests.
func TestLookupHostMatchesScan(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	hosts := []string{"a.ex", "b.ex", "ex", "a.b.ex", "c.a.ex", "A.EX:80", "b.ex.", ""}
	patterns := []string{"", "", "a.ex", "b.ex", "ex", "*.ex", "*.a.ex", "a.b.ex", "*.b.ex"}
	word := func(n int) string { return randomWord(rng, n) }
	for round := range 200 {
		cfg := &config.Config{Backends: []config.Backend{{Name: "b", URLs: []string{"http://127.0.0.1:1"}}}}
		seen := map[string]bool{}
		for range 1 + rng.IntN(30) {
			rc := config.Route{PathPrefix: "/" + word(rng.IntN(6)), Host: patterns[rng.IntN(len(patterns))], Backend: "b"}
			if !seen[rc.Name()] {
				seen[rc.Name()] = true
				cfg.Routes = append(cfg.Routes, rc)
			}
		}
		tab := Compile(cfg, docker.Snapshot{}, Deps{})
		for range 200 {
			host, path := hosts[rng.IntN(len(hosts))], word(rng.IntN(10))
			h := requestHost(host)
			var want *Route
			for _, r := range tab.Routes() {
				if !hostApplies(r.Host, h) || !strings.HasPrefix(path, r.Prefix) {
					continue
				}
				if want == nil || hostRank(r.Host) < hostRank(want.Host) ||
					hostRank(r.Host) == hostRank(want.Host) && len(r.Prefix) > len(want.Prefix) {
					want = r
				}
			}
			if got := tab.LookupHost(host, path); got != want {
				t.Fatalf("round %d: LookupHost(%q, %q) = %q, want %q", round, host, path, nameOf(got), nameOf(want))
			}
		}
	}
}

// TestHostlessTableIgnoresHost: in a table without host routes, every
// request host gets the route Lookup gives for the path alone (the lookup
// as it was before routes had hosts), for every path of the route tests.
func TestHostlessTableIgnoresHost(t *testing.T) {
	t.Parallel()
	paths := []string{"/api/pay", "/api/payment/../pay", "/api/payment/%2e%2e/x", "/zz/../api/payment",
		"/api/payment/./x", "/static/x", "/public/../private/x", "/public\\..\\private"}
	for _, tc := range seedLookups {
		paths = append(paths, tc.path)
	}
	for _, tab := range []*Table{Compile(seedConfig(), docker.Snapshot{}, Deps{}), compileReady(explainConfig(), explainSnapshot()), hostlessFuzzTable()} {
		if tab.hosts != nil {
			t.Fatal("a table without host routes has a host index")
		}
		for _, p := range paths {
			want := tab.Lookup(p)
			wantRT, wantOK := tab.LookupRequest("", p, "")
			for _, host := range []string{"", "gw", "API.example.com:8080", "[::1]:80", "a.example.com."} {
				if got := tab.LookupHost(host, p); got != want {
					t.Errorf("LookupHost(%q, %q) = %q, want %q", host, p, nameOf(got), nameOf(want))
				}
				if rt, ok := tab.LookupRequest(host, p, ""); rt != wantRT || ok != wantOK {
					t.Errorf("LookupRequest(%q, %q) = %q %v, want %q %v", host, p, nameOf(rt), ok, nameOf(wantRT), wantOK)
				}
			}
		}
	}
}

// TestHostRoutesKeepTheirOwnState: routes that share a prefix on
// different hosts get their own stats series, metrics, rate-limit buckets
// and cache, keyed by route name; a host-less route keeps its prefix as
// the key, as before routes had hosts.
func TestHostRoutesKeepTheirOwnState(t *testing.T) {
	t.Parallel()
	cfg := hostConfig()
	for i := range cfg.Routes {
		if cfg.Routes[i].PathPrefix == "/" {
			cfg.Routes[i].RateLimit = &config.RateLimit{Key: "client_ip", MaxKeys: 10, Default: config.Rate{Requests: 5, Per: config.Duration(1e9), Burst: 5}}
			cfg.Routes[i].Cache = &config.Cache{TTL: config.Duration(1e9), MaxBytes: 1 << 20}
		}
	}
	st, mets, state := stats.NewStore(), metrics.New(), NewState()
	deps := Deps{Stats: st, Metrics: mets, State: state}
	tab := Compile(cfg, docker.Snapshot{}, deps)
	exact, wild, none := tab.LookupHost("a.example.com", "/"), tab.LookupHost("b.example.com", "/"), tab.LookupHost("other", "/")
	if exact.Name != "a.example.com/" || wild.Name != "*.example.com/" || none.Name != "/" {
		t.Fatalf("names = %q %q %q", exact.Name, wild.Name, none.Name)
	}
	for _, pair := range [][2]*Route{{exact, wild}, {exact, none}, {wild, none}} {
		x, y := pair[0], pair[1]
		if x.Stats == y.Stats || x.Metrics == y.Metrics || x.Limiter == y.Limiter || x.Cache == y.Cache {
			t.Errorf("%s and %s share state: stats %v metrics %v limiter %v cache %v", x.Name, y.Name,
				x.Stats == y.Stats, x.Metrics == y.Metrics, x.Limiter == y.Limiter, x.Cache == y.Cache)
		}
	}
	for _, r := range []*Route{exact, wild, none} {
		if r.Stats != st.Route(r.Name) || r.Metrics != mets.Route(r.Name, r.Backend.Name) {
			t.Errorf("%s: stats or metrics not keyed by its name", r.Name)
		}
	}
	if none.Stats != st.Route("/") {
		t.Error(`the host-less route's stats are not keyed by its prefix "/"`)
	}
	again := Compile(cfg, docker.Snapshot{}, deps)
	for _, r := range []*Route{exact, wild, none} {
		if a := again.LookupHost(strings.Replace(r.Host, "*", "x", 1), "/"); a.Limiter != r.Limiter || a.Cache != r.Cache {
			t.Errorf("%s: policy state not kept across a recompile", r.Name)
		}
	}
}

// nameOf is r's name, "" for no route.
func nameOf(r *Route) string {
	if r == nil {
		return ""
	}
	return r.Name
}
