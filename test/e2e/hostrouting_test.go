package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHostRouting: the real binary picks a route by the request's Host
// header (exact name, then a one-label wildcard, then the routes without a
// host; case, port and a trailing dot ignored), keeps the path checks on a
// host route, and shows each route's host on /health, /stats and /explain.
func TestHostRouting(t *testing.T) {
	t.Parallel()
	recA, recB := newRecorder(t, nil), newRecorder(t, nil)
	route := func(host, name string) string {
		s := "    headers: {request: {set: {X-Route: " + name + "}}}\n"
		if host != "" {
			s = "    host: \"" + host + "\"\n" + s
		}
		return s
	}
	g := startGateway(t, staticRoutes(
		[3]string{"/", recA.url(), route("a.example.com", "exact")},
		[3]string{"/", recB.url(), route("*.example.com", "wildcard")},
		[3]string{"/", recA.url(), route("", "none")},
		[3]string{"/public", recA.url(), route("a.example.com", "exact-public")},
	))

	for i, tc := range []struct {
		host     string
		upstream *recorder
		route    string
	}{
		{"a.example.com", recA, "exact"},
		{"B.Example.COM:8080", recB, "wildcard"},
		{"x.y.example.com", recA, "none"}, // a wildcard covers one label only
		{"other", recA, "none"},
		{"A.EXAMPLE.COM.:8080", recA, "exact"},
		{"example.com", recA, "none"},
	} {
		before := map[*recorder]int{recA: len(recA.requests()), recB: len(recB.requests())}
		req := g.request(t, http.MethodGet, fmt.Sprintf("/x?case=%d", i), nil)
		req.Host = tc.host
		if r := g.do(t, req); r.status != http.StatusOK {
			t.Errorf("Host %q: status %d, want 200", tc.host, r.status)
			continue
		}
		for _, rec := range []*recorder{recA, recB} {
			got := rec.requests()[before[rec]:]
			switch {
			case rec != tc.upstream && len(got) != 0:
				t.Errorf("Host %q: the wrong upstream received %s", tc.host, describe(got))
			case rec == tc.upstream && (len(got) != 1 || got[0].Header.Get("X-Route") != tc.route ||
				got[0].URI != fmt.Sprintf("/x?case=%d", i)):
				t.Errorf("Host %q: upstream received %s (X-Route %q), want one request by route %q", tc.host, describe(got), recordedRoutes(got), tc.route)
			}
		}
	}

	// A dot-segment that leaves a host route for another route of the same
	// host is refused; the same path for a host-less route stays on "/".
	before := len(recA.requests()) + len(recB.requests())
	for _, tc := range []struct{ host, target, want string }{
		{"a.example.com", "/public/../admin", "HTTP/1.1 400"},
		{"a.example.com", "/public/%2e%2e/admin", "HTTP/1.1 400"},
		{"A.Example.com:80", "/public/..;/admin", "HTTP/1.1 400"},
	} {
		raw := "GET " + tc.target + " HTTP/1.1\r\nHost: " + tc.host + "\r\nConnection: close\r\n\r\n"
		if got := g.rawExchange(t, raw, 5*time.Second); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Host %q %s: answered %q, want %s", tc.host, tc.target, firstLine([]byte(got)), tc.want)
		}
	}
	if n := len(recA.requests()) + len(recB.requests()) - before; n != 0 {
		t.Errorf("%d refused requests reached an upstream", n)
	}
	raw := "GET /public/../admin HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n"
	if got := g.rawExchange(t, raw, 5*time.Second); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Errorf("Host other /public/../admin: answered %q, want 200 (host-less / either way)", firstLine([]byte(got)))
	}

	health := g.adminJSON(t, "/health")
	routes, _ := jsonAt(health, "routes")
	var hosts []string
	for _, r := range routes.([]any) {
		m := r.(map[string]any)
		h, has := m["host"]
		if !has {
			h = "(none)"
		}
		hosts = append(hosts, fmt.Sprintf("%v%v", h, m["path_prefix"]))
	}
	if got := strings.Join(hosts, " "); got != "a.example.com/ *.example.com/ (none)/ a.example.com/public" {
		t.Errorf("/health routes = %s, want each with its host (none without)", got)
	}

	st := g.stats(t)
	for _, name := range []string{"a.example.com/", "*.example.com/", "/"} {
		if _, ok := st.Routes[name]; !ok {
			t.Errorf("/stats routes lack %q (have %v)", name, slices.Sorted(maps.Keys(st.Routes)))
		}
	}

	ex := g.adminJSON(t, "/explain?path="+url.QueryEscape("http://B.example.com:8080/x"))
	if h, _ := jsonAt(ex, "host"); h != "b.example.com" {
		t.Errorf("/explain of an absolute-form target: host %v, want b.example.com", h)
	}
	if h, _ := jsonAt(ex, "route", "host"); h != "*.example.com" {
		t.Errorf("/explain of an absolute-form target: route host %v, want *.example.com", h)
	}
}

func recordedRoutes(rs []*recorded) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Header.Get("X-Route"))
	}
	return out
}
