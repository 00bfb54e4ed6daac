package route

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/upstream"
)

func explainConfig() *config.Config {
	return &config.Config{
		Routes: []config.Route{
			{PathPrefix: "/api/payment", Backend: "payment"},
			{PathPrefix: "/api/pay", Backend: "orders"},
			{PathPrefix: "/api", Backend: "orders"},
			{PathPrefix: "/static", Backend: "static"},
		},
		DefaultResponse: config.DefaultResponse{Body: "This is not reachable", StatusCode: 403},
		Backends: []config.Backend{
			{Name: "payment", MatchLabels: []string{"app_name=payment", "env=production"},
				CircuitBreaker: &config.CircuitBreaker{Failures: 1, MinRequests: 1, Window: config.Duration(time.Minute), OpenFor: config.Duration(time.Hour)}},
			{Name: "orders", MatchLabels: []string{"app_name=orders", "env=production"}},
			{Name: "static", URLs: []string{"http://127.0.0.1:9000"}},
		},
	}
}

// explainSnapshot has one payment container per exclusion reason.
func explainSnapshot() docker.Snapshot {
	pay := func(name, port string, mut func(c *docker.Container)) docker.Container {
		c := ctr(name, port, "app_name", "payment", "env", "production")
		c.Name, c.Image = name, "payment:1"
		if mut != nil {
			mut(&c)
		}
		return c
	}
	return docker.Snapshot{Containers: []docker.Container{
		pay("p-ok", "9001", nil),
		pay("p-exited", "9002", func(c *docker.Container) { c.State = "exited" }),
		pay("p-created", "9003", func(c *docker.Container) { c.State = "created" }),
		pay("p-unhealthy", "9004", func(c *docker.Container) { c.Health = "unhealthy" }),
		pay("p-starting", "9005", func(c *docker.Container) { c.Health = "starting" }),
		pay("p-missing", "9006", func(c *docker.Container) { delete(c.Labels, "env") }),
		pay("p-wrong", "9007", func(c *docker.Container) { c.Labels["env"] = "staging" }),
		pay("p-disabled", "9008", func(c *docker.Container) { c.Labels[LabelEnable] = "false" }),
		pay("p-badport", "abc", nil),
		pay("p-noport", "", func(c *docker.Container) {
			delete(c.Labels, LabelPort)
			c.NetworkMode, c.Networks = "bridge", map[string]string{"bridge": "172.17.0.9"}
		}),
		pay("p-ambiguous", "80", func(c *docker.Container) {
			c.NetworkMode, c.Networks = "front", map[string]string{"front": "10.0.0.1", "back": "10.0.1.1"}
		}),
		pay("p-ejected", "9011", nil),
		pay("p-hc", "9012", nil),
		pay("p-multi", "9013", func(c *docker.Container) {
			c.State = "exited"
			delete(c.Labels, "env")
			c.Labels[LabelEnable] = "false"
		}),
		ctr("o-1", "9101", "app_name", "orders", "env", "production"),
		ctr("unrelated", "9201", "app_name", "shop"),
	}}
}

// compileReady compiles and marks every upstream ready (its port accepted),
// as the gateway's warm-up probe does for listening containers.
func compileReady(cfg *config.Config, snap docker.Snapshot) *Table {
	tab := Compile(cfg, snap, Deps{})
	for _, b := range tab.Backends {
		for _, u := range b.Upstreams {
			u.SetReady()
		}
	}
	return tab
}

// upstreamOf returns the table's upstream for container id of backend b.
func upstreamOf(t *testing.T, b *Backend, id string) *upstream.Upstream {
	t.Helper()
	for _, u := range b.Upstreams {
		if u.ContainerID == id {
			return u
		}
	}
	t.Fatalf("backend %s has no upstream for container %s", b.Name, id)
	return nil
}

func TestExplainContainers(t *testing.T) {
	t.Parallel()
	cfg, snap := explainConfig(), explainSnapshot()
	tab := compileReady(cfg, snap)
	pay := tab.Backend("payment")
	upstreamOf(t, pay, "p-ejected").ReportConnectFailure(upstream.Passive{Threshold: 1, EjectFor: time.Hour})
	upstreamOf(t, pay, "p-hc").SetActive(false, "GET /health: status 500")

	e := Explain(tab, cfg, snap, "", "/api/payment/x")
	if e.Outcome != OutcomeRouted || e.Status != 0 || e.Backend == nil || e.Backend.Name != "payment" {
		t.Fatalf("explanation = %+v, want routed to payment with no status of the gateway's own", e)
	}
	got := map[string]ContainerExplanation{}
	for _, c := range e.Backend.Containers {
		got[c.Name] = c
	}
	for _, tc := range []struct {
		name    string
		reasons []string // nil: serving
	}{
		{"p-ok", nil},
		{"p-exited", []string{"not running (state exited)"}},
		{"p-created", []string{"not running (state created)"}},
		{"p-unhealthy", []string{"not healthy (docker health is unhealthy)"}},
		{"p-starting", []string{"not healthy (docker health is starting)"}},
		{"p-missing", []string{"missing label env=production"}},
		{"p-wrong", []string{"label env has value staging, want production"}},
		{"p-disabled", []string{"disabled by rgate.enable=false"}},
		{"p-badport", []string{`no usable port: label rgate.port="abc" is not a port number (1-65535)`}},
		{"p-noport", []string{"no usable port: none published or exposed; set label rgate.port or the backend's port"}},
		{"p-ambiguous", []string{"ambiguous network: on 2 networks; set label rgate.network or the backend's network"}},
		{"p-ejected", []string{"ejected after connect failures (until "}}, // a time follows
		{"p-hc", []string{"failing health check: GET /health: status 500"}},
		{"p-multi", []string{"not running (state exited)", "missing label env=production", "disabled by rgate.enable=false"}},
		{"n-o-1", []string{"label app_name has value orders, want payment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := got[tc.name]
			if !ok {
				t.Fatalf("container %s not listed; got %v", tc.name, slices.Sorted(maps.Keys(got)))
			}
			if tc.reasons == nil {
				if c.Verdict != VerdictServing || len(c.Reasons) != 0 {
					t.Errorf("verdict %s %q, want serving", c.Verdict, c.Reasons)
				}
				return
			}
			if c.Verdict != VerdictExcluded || !reasonsMatch(c.Reasons, tc.reasons) {
				t.Errorf("verdict %s %q, want excluded %q", c.Verdict, c.Reasons, tc.reasons)
			}
		})
	}
	if _, ok := got["n-unrelated"]; ok {
		t.Error("a container carrying none of the selector's pairs is listed")
	}
	if len(got) != 15 {
		t.Errorf("%d containers listed, want 15", len(got))
	}
	if e.Backend.Serving != 1 || e.Backend.Containers[0].Name != "p-ok" {
		t.Errorf("serving = %d, first %q; want 1, p-ok listed first", e.Backend.Serving, e.Backend.Containers[0].Name)
	}
	ok := got["p-ok"]
	if ok.ID != "p-ok" || ok.Image != "payment:1" || ok.State != "running" || ok.Health != "none" || ok.Address != "127.0.0.1:9001" {
		t.Errorf("p-ok = %+v", ok)
	}
	if want := map[string]string{"app_name": "payment", "env": "production", LabelPort: "9001"}; !maps.Equal(ok.Labels, want) {
		t.Errorf("p-ok labels = %v, want the relevant ones %v", ok.Labels, want)
	}
	if a := got["p-exited"].Address; a != "127.0.0.1:9002" {
		t.Errorf("stopped host-network container: address %q, want it resolved from its label", a)
	}
}

// TestExplainAgreesWithCompile: a container Explain keeps is exactly one
// the table uses, and an excluded one's Skip reason is among its reasons.
func TestExplainAgreesWithCompile(t *testing.T) {
	t.Parallel()
	cfg, snap := explainConfig(), explainSnapshot()
	tab := compileReady(cfg, snap)
	pay := tab.Backend("payment")
	be := ExplainBackend(pay, cfg, snap, true)
	byName := map[string]ContainerExplanation{}
	for _, c := range be.Containers {
		byName[c.Name] = c
	}
	for _, u := range pay.Upstreams {
		if c := byName[u.Container]; c.Verdict != VerdictServing || c.Address != u.Host {
			t.Errorf("upstream %s (%s) explained as %+v", u.Container, u.Host, c)
		}
	}
	for _, s := range pay.Skipped {
		if c := byName[s.Container]; !slices.Contains(c.Reasons, s.Reason) {
			t.Errorf("skipped %s for %q; explained with %q", s.Container, s.Reason, c.Reasons)
		}
	}
	if n := len(pay.Upstreams) + len(pay.Skipped); n != 11 {
		t.Errorf("table has %d matching containers, want 11", n)
	}
}

func TestExplainBreakerOpen(t *testing.T) {
	t.Parallel()
	cfg, snap := explainConfig(), explainSnapshot()
	tab := compileReady(cfg, snap)
	pay := tab.Backend("payment")
	tk, _, _ := pay.Breaker.Allow()
	pay.Breaker.Done(tk, true)
	upstreamOf(t, pay, "p-hc").SetActive(false, "timeout")

	e := Explain(tab, cfg, snap, "", "/api/payment/x")
	if e.Backend.Breaker == nil || e.Backend.Breaker.Name != "open" {
		t.Fatalf("breaker = %+v, want open", e.Backend.Breaker)
	}
	if e.Backend.Serving != 0 || e.Status != http.StatusServiceUnavailable || !strings.Contains(e.Reason, "503") {
		t.Errorf("serving %d, status %d, reason %q; want nothing serving and a 503", e.Backend.Serving, e.Status, e.Reason)
	}
	for _, c := range e.Backend.Containers {
		inTable := slices.ContainsFunc(pay.Upstreams, func(u *upstream.Upstream) bool { return u.Container == c.Name })
		switch {
		case c.Name == "p-hc":
			if !slices.Equal(c.Reasons, []string{"failing health check: timeout", "breaker open"}) {
				t.Errorf("p-hc reasons = %q, want the failing check, then breaker open", c.Reasons)
			}
		case inTable && !slices.Equal(c.Reasons, []string{"breaker open"}):
			t.Errorf("%s reasons = %q, want [breaker open]", c.Name, c.Reasons)
		case !inTable && slices.Contains(c.Reasons, "breaker open"):
			t.Errorf("%s, not in the table, has reasons %q: breaker open applies to upstreams only", c.Name, c.Reasons)
		}
	}
}

func TestExplainPaths(t *testing.T) {
	t.Parallel()
	cfg, snap := explainConfig(), explainSnapshot()
	tab := compileReady(cfg, snap)
	for _, tc := range []struct {
		path     string
		outcome  string
		status   int
		prefix   string
		shorter  []string
		inReason string
	}{
		{"/api/payment/x", OutcomeRouted, 0, "/api/payment", []string{"/api/pay", "/api"}, "longest prefix of the path among 4 routes"},
		{"/api/payment/x?to=/static", OutcomeRouted, 0, "/api/payment", []string{"/api/pay", "/api"}, "longest prefix"},
		{"/api/orders", OutcomeRouted, 0, "/api", []string{}, `"/api" is the longest prefix`},
		{"/nothing", OutcomeDefault, 403, "", nil, "no route matched"},
		{"/api/payment/../pay", OutcomeRejected, 400, "", nil, `normalised to "/api/pay"`},
		{"/api/payment/%2e%2e/x", OutcomeRejected, 400, "", nil, "ambiguous path"},
		{"/zz/%2E%2E/api/payment", OutcomeRejected, 400, "", nil, `matches no route (default response)`},
		{"/api/payment/./x", OutcomeRouted, 0, "/api/payment", []string{"/api/pay", "/api"}, "longest prefix"}, // same route either way
		{"/api%2Fpayment/x", OutcomeRejected, 400, "", nil, `as given it matches route "/api/payment"`},
		{"api/payment", OutcomeRejected, 400, "", nil, "must start with /"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			e := Explain(tab, cfg, snap, "", tc.path)
			if e.Path != tc.path || e.Outcome != tc.outcome || e.Status != tc.status || !strings.Contains(e.Reason, tc.inReason) {
				t.Fatalf("got path %q outcome %q status %d reason %q; want %q %d reason containing %q",
					e.Path, e.Outcome, e.Status, e.Reason, tc.outcome, tc.status, tc.inReason)
			}
			switch tc.outcome {
			case OutcomeRouted:
				if e.Route == nil || e.Route.PathPrefix != tc.prefix || !slices.Equal(e.Route.Shorter, tc.shorter) {
					t.Errorf("route = %+v, want %s with shorter matches %q", e.Route, tc.prefix, tc.shorter)
				}
			case OutcomeDefault:
				if e.Default == nil || e.Default.StatusCode != 403 || e.Default.Body != "This is not reachable" || e.Backend != nil {
					t.Errorf("default = %+v, backend %+v", e.Default, e.Backend)
				}
			default:
				if e.Route != nil || e.Backend != nil || e.Default != nil {
					t.Errorf("rejected path explained with a route, backend or default: %+v", e)
				}
			}
			// The gateway's own decision must agree.
			if ok := tc.outcome != OutcomeRejected; tc.path[0] == '/' {
				if _, gwOK := lookupTarget(t, tab, tc.path); gwOK != ok {
					t.Errorf("LookupRequest ok = %v, Explain outcome %s", gwOK, tc.outcome)
				}
			}
		})
	}
}

func TestExplainStaticBackend(t *testing.T) {
	t.Parallel()
	cfg, snap := explainConfig(), explainSnapshot()
	tab := compileReady(cfg, snap)
	upstreamOf := func(host string) *upstream.Upstream {
		for _, u := range tab.Backend("static").Upstreams {
			if u.Host == host {
				return u
			}
		}
		t.Fatalf("no upstream %s", host)
		return nil
	}
	e := Explain(tab, cfg, snap, "", "/static/x")
	b := e.Backend
	if len(b.Containers) != 0 || len(b.MatchLabels) != 0 || b.Serving != 1 || len(b.URLs) != 1 ||
		b.URLs[0].URL != "http://127.0.0.1:9000" || b.URLs[0].Verdict != VerdictServing || len(b.URLs[0].Reasons) != 0 {
		t.Errorf("static backend = %+v", b)
	}
	upstreamOf("127.0.0.1:9000").ReportConnectFailure(upstream.Passive{Threshold: 1, EjectFor: time.Hour})
	b = Explain(tab, cfg, snap, "", "/static/x").Backend
	if b.Serving != 0 || b.URLs[0].Verdict != VerdictExcluded || !reasonsMatch(b.URLs[0].Reasons, []string{"ejected after connect failures"}) {
		t.Errorf("ejected url = %+v", b.URLs[0])
	}
	raw, err := json.Marshal(Explain(tab, cfg, snap, "", "/static/x"))
	if err != nil || strings.Contains(string(raw), "null") {
		t.Errorf("JSON %s (err %v): want no nulls", raw, err)
	}
}

// TestExplainLiveState: a new container whose port has not accepted yet is
// excluded while live; without live state (validate --docker) none of the
// runtime reasons apply.
func TestExplainLiveState(t *testing.T) {
	t.Parallel()
	cfg, snap := explainConfig(), explainSnapshot()
	tab := Compile(cfg, snap, Deps{}) // nothing marked ready
	pay := tab.Backend("payment")
	tk, _, _ := pay.Breaker.Allow()
	pay.Breaker.Done(tk, true)
	upstreamOf(t, pay, "p-ejected").ReportConnectFailure(upstream.Passive{Threshold: 1, EjectFor: time.Hour})

	for _, c := range ExplainBackend(pay, cfg, snap, true).Containers {
		if c.Name == "p-ok" && !slices.Equal(c.Reasons, []string{"breaker open", "port not accepting connections yet"}) {
			t.Errorf("live: p-ok reasons = %q, want breaker open, then warming", c.Reasons)
		}
	}
	be := ExplainBackend(pay, cfg, snap, false)
	if be.Breaker != nil || be.Serving != len(pay.Upstreams) {
		t.Errorf("not live: breaker %+v, serving %d; want no breaker state and all %d upstreams serving",
			be.Breaker, be.Serving, len(pay.Upstreams))
	}
}

func TestExplainTableFromAnotherSnapshot(t *testing.T) {
	t.Parallel()
	cfg := explainConfig()
	snap := docker.Snapshot{Containers: []docker.Container{ctr("new", "9001", "app_name", "payment", "env", "production")}}
	tab := Compile(cfg, docker.Snapshot{}, Deps{})
	c := ExplainBackend(tab.Backend("payment"), cfg, snap, true).Containers
	if len(c) != 1 || c[0].Verdict != VerdictExcluded || !slices.Equal(c[0].Reasons, []string{"not in the routing table yet"}) {
		t.Errorf("containers = %+v", c)
	}
}

// lookupTarget is the gateway's lookup of a request target.
func lookupTarget(t *testing.T, tab *Table, target string) (*Route, bool) {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, "http://gw"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tab.LookupRequest(r.Host, r.URL.Path, r.URL.RawPath)
}

// reasonsMatch compares reasons with want, each want a prefix of its reason.
func reasonsMatch(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
}
