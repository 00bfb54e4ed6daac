package route

import (
	"bufio"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
)

// TestExplainHosts: /explain takes a host beside the path, reports the
// host explained and the chosen route's host, says why that route won
// (its host tier, then its prefix), and agrees with the gateway's lookup.
func TestExplainHosts(t *testing.T) {
	t.Parallel()
	cfg := hostConfig()
	tab := compileReady(cfg, docker.Snapshot{})
	for _, tc := range []struct {
		host, target string
		outcome      string
		wantHost     string // Explanation.Host
		route        string // route name, "" unless routed
		shorter      []string
		inReason     []string
	}{
		{"a.example.com", "/api/v2/long/x", OutcomeRouted, "a.example.com", "a.example.com/api", []string{"/"}, []string{
			`"/api" is the longest prefix of the path among the 2 routes for host "a.example.com"`,
			`so it wins over "*.example.com/", "*.example.com/api/v2/long", "/"`,
			"(also matched, shorter: /)"}},
		{"B.Example.COM:8080", "/x", OutcomeRouted, "b.example.com", "*.example.com/", []string{}, []string{
			`among the 2 routes for host "*.example.com"`, `wins over "/"`}},
		{"shop.test", "/x", OutcomeRouted, "shop.test", "/", []string{}, []string{
			`among the 2 routes without a host (none of the routes for "shop.test" matches the path)`}},
		{"a.other.test", "/x", OutcomeRouted, "a.other.test", "/", []string{}, []string{
			`(none of the routes for "*.other.test" matches the path)`}},
		{"", "/x", OutcomeRouted, "", "/", []string{}, []string{`among the 2 routes without a host`}},
		{"x.y.example.com", "/x", OutcomeRouted, "x.y.example.com", "/", []string{}, []string{`among the 2 routes without a host`}},
		// an absolute-form target names its host, which wins, as for the gateway
		{"other", "http://A.example.com:8080/api/x", OutcomeRouted, "a.example.com", "a.example.com/api", []string{"/"}, nil},
		{"shop.test", "/shop/../admin", OutcomeRejected, "shop.test", "", nil, []string{
			`as given it matches route "shop.test/shop", but normalised to "/admin"`, `it matches route "/"`}},
	} {
		t.Run(tc.host+tc.target, func(t *testing.T) {
			e := Explain(tab, cfg, docker.Snapshot{}, tc.host, tc.target)
			if e.Outcome != tc.outcome || e.Host != tc.wantHost || e.Path != tc.target {
				t.Fatalf("outcome %q host %q path %q, want %q %q %q (reason %q)", e.Outcome, e.Host, e.Path, tc.outcome, tc.wantHost, tc.target, e.Reason)
			}
			for _, want := range tc.inReason {
				if !strings.Contains(e.Reason, want) {
					t.Errorf("reason %q lacks %q", e.Reason, want)
				}
			}
			r := lookupHostTarget(t, tab, tc.host, tc.target)
			switch tc.outcome {
			case OutcomeRouted:
				if r == nil || e.Route == nil || r.Name != tc.route || e.Route.PathPrefix != r.Prefix || e.Route.Host != r.Host ||
					!slices.Equal(e.Route.Shorter, tc.shorter) {
					t.Errorf("route %+v, gateway's route %q, want %q with shorter matches %q", e.Route, nameOf(r), tc.route, tc.shorter)
				}
			case OutcomeRejected:
				if r != nil || e.Route != nil {
					t.Errorf("rejected, yet route %+v (gateway's %q)", e.Route, nameOf(r))
				}
			}
		})
	}
}

// lookupHostTarget is the gateway's lookup of a request for host and
// target as net/http reads it (an absolute-form target's host wins over
// the Host field): nil when it has no route or rejects the path.
func lookupHostTarget(t *testing.T, tab *Table, host, target string) *Route {
	t.Helper()
	head := "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	if host == "" {
		head = "GET " + target + " HTTP/1.0\r\n\r\n"
	}
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err != nil {
		t.Fatal(err)
	}
	rt, ok := tab.LookupRequest(r.Host, r.URL.Path, r.URL.RawPath)
	if !ok {
		return nil
	}
	return rt
}

// TestExplainDefaultWithHosts: the default response's reason counts the
// routes that apply to the request's host.
func TestExplainDefaultWithHosts(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Routes: []config.Route{
			{PathPrefix: "/a", Host: "a.example.com", Backend: "b"},
			{PathPrefix: "/w", Host: "*.example.com", Backend: "b"},
			{PathPrefix: "/c", Host: "c.example.com", Backend: "b"},
			{PathPrefix: "/n", Backend: "b"},
		},
		Backends: []config.Backend{{Name: "b", URLs: []string{"http://127.0.0.1:1"}}},
	}
	tab := compileReady(cfg, docker.Snapshot{})
	for _, tc := range []struct{ host, want string }{
		{"a.example.com", `none of the prefixes of the 3 routes for host "a.example.com" (its own, wildcard and host-less routes)`},
		{"other", `none of the prefixes of the 1 route for host "other"`},
		{"", `none of the prefixes of the 1 route without a host (the request names no host)`},
	} {
		e := Explain(tab, cfg, docker.Snapshot{}, tc.host, "/zzz")
		if e.Outcome != OutcomeDefault || !strings.Contains(e.Reason, tc.want) {
			t.Errorf("host %q: outcome %s reason %q, want the default response, reason containing %q", tc.host, e.Outcome, e.Reason, tc.want)
		}
	}
}

// TestExplainHostJSON: the new keys stand beside the old ones and are
// left out when there is no host, so a host-less explanation reads as
// before.
func TestExplainHostJSON(t *testing.T) {
	t.Parallel()
	cfg := hostConfig()
	tab := compileReady(cfg, docker.Snapshot{})
	var doc struct {
		Path  string `json:"path"`
		Host  *string
		Route map[string]any `json:"route"`
	}
	decode := func(host string) {
		t.Helper()
		raw, err := json.Marshal(Explain(tab, cfg, docker.Snapshot{}, host, "/api/x"))
		if err != nil {
			t.Fatal(err)
		}
		doc.Host, doc.Route = nil, nil
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
	}
	decode("A.example.com:80")
	if doc.Host == nil || *doc.Host != "a.example.com" || doc.Path != "/api/x" ||
		doc.Route["host"] != "a.example.com" || doc.Route["path_prefix"] != "/api" || doc.Route["backend"] != "exact" {
		t.Errorf("with a host: host %v path %q route %v", doc.Host, doc.Path, doc.Route)
	}
	decode("")
	if _, has := doc.Route["host"]; doc.Host != nil || has || doc.Route["path_prefix"] != "/" {
		t.Errorf("without a host: host %v route %v, want no host keys", doc.Host, doc.Route)
	}
}
