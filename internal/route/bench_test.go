package route

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/metrics"
	"github.com/rgate/rgate/internal/stats"
)

// Performance target: with 1,000 routes and 2,000 containers, a lookup
// takes at most 200 ns and compiling the table at most 50 ms. The fixture
// below is shaped like a large real deployment rather than like the best
// case for the lookup:
//
//   - 500 backends, each selected by two labels (app + env), each with 4
//     running containers: 2,000 containers, 2,000 upstreams. Half of the
//     containers are on the host network with an rgate.port label, half on
//     a user network with one exposed port; every container carries the
//     extra labels docker compose adds, and one container in 40 is a
//     non-matching neighbour (another env) so the selector really filters.
//   - 1,000 routes, two per backend: /api/<name> and /api/<name>/v2/admin,
//     with service names of many lengths, so the table has dozens of
//     distinct prefix lengths (Lookup's cost grows with the number of
//     distinct lengths it must try, not with the number of routes).

// benchWords gives the service names their varied lengths.
var benchWords = []string{
	"pay", "auth", "users", "orders", "catalog", "inventory", "notifications",
	"search", "recommendations", "billing", "shipping", "reviews", "cart", "id",
	"media-transcoder", "geo", "analytics-ingest", "ledger", "fx", "fraud-scoring",
}

// bigFixture returns a validated config with nRoutes routes (two per
// backend) and a snapshot with nContainers containers serving them.
func bigFixture(tb testing.TB, nRoutes, nContainers int) (*config.Config, docker.Snapshot) {
	tb.Helper()
	nBackends := nRoutes / 2
	cfg := &config.Config{
		DefaultResponse: config.DefaultResponse{Body: "This is not reachable", StatusCode: 403},
	}
	for i := range nBackends {
		name := fmt.Sprintf("%s-%d", benchWords[i%len(benchWords)], i)
		cfg.Backends = append(cfg.Backends, config.Backend{
			Name:        name,
			MatchLabels: []string{"app_name=" + name, "env=production"},
			Network:     "app-net",
		})
		cfg.Routes = append(cfg.Routes,
			config.Route{PathPrefix: "/api/" + name, Backend: name},
			config.Route{PathPrefix: "/api/" + name + "/v2/admin", Backend: name},
		)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("fixture config invalid: %v", err)
	}

	var snap docker.Snapshot
	for i := range nContainers {
		b := cfg.Backends[i%nBackends]
		c := docker.Container{
			ID:    fmt.Sprintf("%064x", uint64(i)*0x9e3779b97f4a7c15),
			Name:  fmt.Sprintf("%s-%d", b.Name, i/nBackends+1),
			Image: "registry.example/" + b.Name + ":1.4.2",
			State: "running",
			Labels: map[string]string{
				"app_name":                   b.Name,
				"env":                        "production",
				"com.docker.compose.project": "shop",
				"com.docker.compose.service": b.Name,
				"com.docker.compose.version": "2.29.1",
				"org.opencontainers.image.source": "https://git.example/" +
					b.Name,
			},
		}
		if i%40 == 39 {
			c.Labels["env"] = "staging" // a neighbour the selector must reject
		}
		if i%2 == 0 {
			c.NetworkMode = "host"
			c.Labels[LabelPort] = fmt.Sprint(20000 + i)
		} else {
			c.NetworkMode = "app-net"
			c.Networks = map[string]string{"app-net": fmt.Sprintf("172.18.%d.%d", i/250, i%250+2)}
			c.Ports = []docker.Port{{Private: 8080, Proto: "tcp"}}
		}
		snap.Containers = append(snap.Containers, c)
	}
	// A Snapshot is sorted by ID.
	slices.SortFunc(snap.Containers, func(a, b docker.Container) int { return strings.Compare(a.ID, b.ID) })
	return cfg, snap
}

// upstreamCount is the number of upstreams over every backend of t.
func upstreamCount(t *Table) int {
	n := 0
	for _, b := range t.Backends {
		n += len(b.Upstreams)
	}
	return n
}

// benchPaths returns n request paths under random routes of cfg: sub-paths
// of a route (/api/<name>/items/42), the deeper route (/api/<name>/v2/admin/x)
// and, with miss, paths no route matches.
func benchPaths(cfg *config.Config, n int, miss bool) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		b := cfg.Backends[rng.IntN(len(cfg.Backends))].Name
		switch {
		case miss && i%2 == 0:
			out[i] = fmt.Sprintf("/apx/%s/v2/admin/items/%d?x=1", b, i)
		case miss:
			// shares "/api/<word>" with routes, then leaves every one of
			// them: the index is walked deep before it gives up
			out[i] = "/api/" + strings.Replace(b, "-", "~", 1) + "/v2/admin/items/" + fmt.Sprint(i)
		case i%2 == 0:
			out[i] = fmt.Sprintf("/api/%s/items/%d", b, i)
		default:
			out[i] = fmt.Sprintf("/api/%s/v2/admin/users/%d", b, i)
		}
	}
	return out
}

// BenchmarkLookup1000Routes: target <= 200 ns per lookup with 1,000 routes
// and 2,000 upstreams. The paths rotate over 1,024 requests to random
// routes (a single hot path would stay in cache and flatter the result).
//
//   - hit: Table.Lookup of a path under a route.
//   - miss: a path no route matches: half leave the routes at the 4th
//     byte (/apx/...), half only after /api/<service word> (/api/pay~3/...).
//   - request: Table.LookupRequest(host, path, rawPath), what the gateway
//     calls per request (it adds the dot-segment/encoding check; a table
//     without host routes never reads the host).
func BenchmarkLookup1000Routes(b *testing.B) {
	cfg, snap := bigFixture(b, 1000, 2000)
	tab := Compile(cfg, snap, Deps{})
	if n := upstreamCount(tab); n < 1900 {
		b.Fatalf("fixture has %d upstreams, want ~2000", n)
	}
	lengths := map[int]bool{}
	for _, r := range tab.Routes() {
		lengths[len(r.Prefix)] = true
	}
	b.Logf("%d routes, %d upstreams, %d distinct prefix lengths", len(tab.Routes()), upstreamCount(tab), len(lengths))
	hits, misses := benchPaths(cfg, 1024, false), benchPaths(cfg, 1024, true)
	for i, p := range hits {
		if tab.Lookup(p) == nil {
			b.Fatalf("hits[%d] %q: no route", i, p)
		}
	}
	for i, p := range misses {
		if tab.Lookup(p) != nil {
			b.Fatalf("misses[%d] %q: matched a route", i, p)
		}
	}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if tab.Lookup(hits[i&1023]) == nil {
				b.Fatal("no match")
			}
			i++
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if tab.Lookup(misses[i&1023]) != nil {
				b.Fatal("unexpected match")
			}
			i++
		}
	})
	b.Run("request", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if rt, ok := tab.LookupRequest("gateway.example:8080", hits[i&1023], ""); rt == nil || !ok {
				b.Fatal("no match")
			}
			i++
		}
	})
}

// BenchmarkCompile1000Routes2000Containers: target <= 50 ms to build the
// table for 1,000 routes and 2,000 containers.
//
//   - recompile: what happens on every container event or reload; the
//     long-lived state (upstream registry, stats and metrics series) already
//     exists, as in the gateway.
//   - cold: the first compile, with fresh state, stats and metrics.
func BenchmarkCompile1000Routes2000Containers(b *testing.B) {
	cfg, snap := bigFixture(b, 1000, 2000)
	forward := func(*Route) http.Handler { return http.NotFoundHandler() }
	b.Run("recompile", func(b *testing.B) {
		deps := Deps{Stats: stats.NewStore(), Metrics: metrics.New(), State: NewState(), Forward: forward}
		if n := upstreamCount(Compile(cfg, snap, deps)); n < 1900 {
			b.Fatalf("%d upstreams, want ~2000", n)
		}
		b.ReportAllocs()
		for b.Loop() {
			Compile(cfg, snap, deps)
		}
	})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Compile(cfg, snap, Deps{Stats: stats.NewStore(), Metrics: metrics.New(), State: NewState(), Forward: forward})
		}
	})
}

// BenchmarkLookupHostRoutes: the 1,000 routes of BenchmarkLookup1000Routes,
// each backend's two on a host of its own ("<name>.example.com"), looked
// up as the gateway does for a request with a port in its Host header.
func BenchmarkLookupHostRoutes(b *testing.B) {
	cfg, snap := bigFixture(b, 1000, 0)
	for i := range cfg.Routes {
		cfg.Routes[i].Host = cfg.Routes[i].Backend + ".example.com"
	}
	tab := Compile(cfg, snap, Deps{})
	rng := rand.New(rand.NewPCG(1, 2))
	hosts, paths := make([]string, 1024), make([]string, 1024)
	for i := range paths {
		name := cfg.Backends[rng.IntN(len(cfg.Backends))].Name
		hosts[i], paths[i] = name+".example.com:8080", "/api/"+name+"/items/"+fmt.Sprint(i)
		if rt, ok := tab.LookupRequest(hosts[i], paths[i], ""); !ok || rt == nil || rt.Backend.Name != name {
			b.Fatalf("%s %s: route %v", hosts[i], paths[i], rt)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if rt, ok := tab.LookupRequest(hosts[i&1023], paths[i&1023], ""); rt == nil || !ok {
			b.Fatal("no match")
		}
		i++
	}
}
