package route

import (
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
)

// harshNormalise is what the most lenient upstream server might make of a
// path: percent-decoding repeated until nothing changes, backslashes as
// slashes, ";params" dropped from segments ("..;" as ".."), dot-segments
// resolved. It is written independently of the gateway's own check, as the
// oracle for FuzzLookupRequest.
func harshNormalise(escaped string) string {
	p := escaped
	for range 4 {
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			break
		}
		p = d
	}
	p = strings.ReplaceAll(p, "\\", "/")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if j := strings.IndexByte(s, ';'); j >= 0 {
			segs[i] = s[:j]
		}
	}
	p = strings.Join(segs, "/")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p)
}

// fuzzHosts are the hosts each fuzzed target is sent to: none, one with
// routes of its own, one covered by a wildcard, one with no routes.
var fuzzHosts = []string{"", "a.example.com", "B.example.com:8080", "other"}

func fuzzTable() *Table {
	cfg := fuzzConfig()
	cfg.Routes = append(cfg.Routes,
		config.Route{PathPrefix: "/public", Host: "a.example.com", Backend: "pub"},
		config.Route{PathPrefix: "/", Host: "a.example.com", Backend: "priv"},
		config.Route{PathPrefix: "/private", Host: "*.example.com", Backend: "priv"},
		config.Route{PathPrefix: "/public/x", Host: "*.example.com", Backend: "pub"},
	)
	return Compile(cfg, docker.Snapshot{}, Deps{})
}

// hostlessFuzzTable is fuzzTable without its host routes.
func hostlessFuzzTable() *Table { return Compile(fuzzConfig(), docker.Snapshot{}, Deps{}) }

// fuzzConfig has a public and a private backend, and routes without a
// host, one under the other's prefix.
func fuzzConfig() *config.Config {
	return &config.Config{
		Routes: []config.Route{
			{PathPrefix: "/public", Backend: "pub"},
			{PathPrefix: "/private", Backend: "priv"},
			{PathPrefix: "/public/admin", Backend: "priv"},
		},
		Backends: []config.Backend{{Name: "pub", URLs: []string{"http://127.0.0.1:1"}}, {Name: "priv", URLs: []string{"http://127.0.0.1:2"}}},
	}
}

// FuzzLookupRequest: a request the gateway proxies to a route must land on
// that same route however hard an upstream normalises its path, so a
// crafted path can never reach a backend whose prefix it does not carry,
// whichever host (and so which set of routes) it is for.
func FuzzLookupRequest(f *testing.F) {
	for _, s := range []string{
		"/public/x", "/public/../private/x", "/public/%2e%2e/private", "/public%2f..%2fprivate",
		"/public/..%2fprivate", "/public/%252e%252e/private", "/public/..;/private", "/public\\..\\private",
		"/public/./admin", "/public//admin", "/PUBLIC/x", "/public;x/../private", "/public/%2E%2E%2Fprivate",
	} {
		f.Add(s)
	}
	t := fuzzTable()
	f.Fuzz(func(tt *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Host != "" || !strings.HasPrefix(target, "/") {
			return // not an origin-form request target net/http would hand over
		}
		for _, host := range fuzzHosts {
			rt, ok := t.LookupRequest(host, u.Path, u.RawPath)
			if !ok || rt == nil {
				continue // answered 400 or by the default response: never proxied
			}
			n := harshNormalise(u.EscapedPath())
			if got := t.LookupHost(host, n); got != rt {
				name := "no route"
				if got != nil {
					name = got.Name
				}
				tt.Fatalf("target %q for host %q routed to %s, but an upstream could read it as %q (%s)", target, host, rt.Name, n, name)
			}
		}
	})
}
