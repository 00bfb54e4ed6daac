package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/stats"
	"github.com/rgate/rgate/internal/upstream"
)

func TestDashboardServes(t *testing.T) {
	t.Parallel()
	h := New(dashFixture(t, 2, 4))
	for _, tc := range []struct {
		method, path string
		status       int
		ctype, body  string
	}{
		{"GET", "/dashboard", 200, "text/html", `src="dashboard/app.js"`},
		{"HEAD", "/dashboard", 200, "text/html", ""},
		{"GET", "/dashboard/app.js", 200, "javascript", "dashboard/data"},
		{"GET", "/dashboard/style.css", 200, "text/css", "--bg"},
		{"GET", "/dashboard/data", 200, "application/json", `"routes":[`},
		{"GET", "/dashboard/", 301, "", ""},
		{"GET", "/dashboard/nope", 404, "", ""},
		{"GET", "/dashboard/index.html", 404, "", ""},
		{"POST", "/dashboard/data", 405, "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want it to contain %q", ct, tc.ctype)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body does not contain %q", tc.body)
			}
			if tc.status == 200 && strings.HasSuffix(tc.path, "/dashboard") &&
				!strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("page without its Content-Security-Policy: %v", rec.Header())
			}
		})
	}
}

// TestDashboardData: the document says which upstream serves and why the
// others do not, for each runtime reason and for containers Compile skipped.
func TestDashboardData(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Routes: []config.Route{{PathPrefix: "/p", Backend: "pay"}, {PathPrefix: "/s", Backend: "static"}},
		Backends: []config.Backend{
			{Name: "pay", MatchLabels: []string{"app=pay", "tier=web"}},
			{Name: "static", URLs: []string{"http://127.0.0.1:9"}},
		},
	}
	snap := docker.Snapshot{Containers: []docker.Container{
		dashContainer("a1", "/pay-ok", "pay", "81"),
		dashContainer("b2", "pay-sick", "pay", "82"),
		dashContainer("c3", "pay-ejected", "pay", "83"),
		dashContainer("d4", "pay-badport", "pay", "abc"),
	}}
	store := stats.NewStore()
	tab := route.Compile(cfg, snap, route.Deps{Stats: store, State: route.NewState()})
	ups := tab.Backend("pay").Upstreams
	ups[0].SetReady()
	ups[1].SetActive(false, "GET /health: 500")
	for range upstream.DefaultThreshold {
		ups[2].ReportConnectFailure(upstream.Passive{Threshold: upstream.DefaultThreshold, EjectFor: time.Minute})
	}
	for i := range 10 {
		tab.Routes()[0].Stats.Record(200+300*(i%2), time.Duration(i+1)*time.Millisecond)
		store.Global().Record(200, time.Millisecond)
	}
	o := Options{Stats: store, Table: func() *route.Table { return tab }, Started: time.Now(),
		Config: func() ConfigState { return ConfigState{File: "x.yml", Generation: 3, LastReloadError: "bad"} }}

	doc := decodeDash(t, New(o))
	if len(doc.Routes) != 2 || doc.Routes[0].Prefix != "/p" || doc.Routes[0].Requests != 10 ||
		doc.Routes[0].Errors != 5 || doc.Routes[0].P99 <= 0 || doc.Global.Classes == nil || doc.Global.Classes[2] != 10 {
		t.Errorf("routes = %+v, global = %+v", doc.Routes, doc.Global)
	}
	var inTimeline uint64
	for _, p := range doc.Timeline.Points {
		inTimeline += p.Requests
	}
	if doc.Timeline.StepMs != 10000 || len(doc.Timeline.Points) != 30 || inTimeline != 10 || doc.LatencyWindowSeconds != 60 {
		t.Errorf("timeline: step %d ms, %d points, %d requests (want 10 s, 30, 10); latency window %v s",
			doc.Timeline.StepMs, len(doc.Timeline.Points), inTimeline, doc.LatencyWindowSeconds)
	}
	if doc.Config == nil || doc.Config.Generation != 3 || doc.Config.LastReloadError != "bad" || doc.Docker.Enabled {
		t.Errorf("config = %+v, docker = %+v", doc.Config, doc.Docker)
	}
	pay := doc.Backends[0]
	if pay.Selector != "app=pay,tier=web" || pay.Serving != 1 || len(pay.Upstreams) != 3 || pay.Breaker != "" {
		t.Fatalf("pay = %+v", pay)
	}
	for i, want := range []struct{ name, state, reason string }{
		{"pay-ok", upstream.StateServing, ""},
		{"pay-sick", upstream.StateUnhealthy, "failing health check: GET /health: 500"},
		{"pay-ejected", upstream.StateEjected, "ejected after connect failures (until "},
	} {
		u := pay.Upstreams[i]
		if u.Name != want.name || u.State != want.state || !strings.HasPrefix(u.Reason, want.reason) || u.ID == "" ||
			(u.EjectedUntil != 0) != (want.state == upstream.StateEjected) {
			t.Errorf("upstream %d = %+v, want %+v", i, u, want)
		}
	}
	if until := time.UnixMilli(pay.Upstreams[2].EjectedUntil); time.Until(until) <= 0 || time.Until(until) > time.Minute {
		t.Errorf("ejected_until %v, want within the next minute", until)
	}
	if len(pay.Excluded) != 1 || pay.Excluded[0].Name != "pay-badport" || !pay.Excluded[0].Warn ||
		!strings.Contains(pay.Excluded[0].Reason, "abc") {
		t.Errorf("excluded = %+v", pay.Excluded)
	}
	st := doc.Backends[1]
	if len(st.Upstreams) != 1 || st.Upstreams[0].ID != "" || st.Upstreams[0].Address != "http://127.0.0.1:9" {
		t.Errorf("static = %+v", st)
	}
}

// TestVerdictsAgree: for every combination of breaker open, ejected,
// actively unhealthy and warming, /explain, the dashboard and /health give
// one upstream the same verdict: the same reasons in the same order, the
// same state, and the state is the one of the first reason.
func TestVerdictsAgree(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{}
	var snap docker.Snapshot
	for _, name := range []string{"open", "closed"} {
		cfg.Backends = append(cfg.Backends, config.Backend{Name: name, MatchLabels: []string{"app=" + name},
			CircuitBreaker: &config.CircuitBreaker{Failures: 1, MinRequests: 1, Window: config.Duration(time.Minute),
				OpenFor: config.Duration(time.Hour)}})
		cfg.Routes = append(cfg.Routes, config.Route{PathPrefix: "/" + name, Backend: name})
		for i := range 8 {
			snap.Containers = append(snap.Containers, dashContainer(fmt.Sprintf("%02x", len(snap.Containers)),
				fmt.Sprintf("%s-%d", name, i), name, fmt.Sprint(20000+len(snap.Containers))))
		}
	}
	tab := route.Compile(cfg, snap, route.Deps{})
	open := tab.Backend("open")
	tk, _, _ := open.Breaker.Allow()
	open.Breaker.Done(tk, true)
	for _, b := range tab.Backends {
		for _, u := range b.Upstreams {
			var i int
			fmt.Sscanf(u.Container[strings.LastIndexByte(u.Container, '-')+1:], "%d", &i)
			if i&1 != 0 {
				u.ReportConnectFailure(upstream.Passive{Threshold: 1, EjectFor: time.Hour})
			}
			if i&2 != 0 {
				u.SetActive(false, "GET /health: 500")
			}
			if i&4 == 0 {
				u.SetReady()
			}
		}
	}
	if st, isOpen := route.BreakerOpen(open); !isOpen {
		t.Fatalf("breaker of backend open = %+v, want open", st)
	}

	reasonOf := map[string]string{ // the start of each state's reason
		upstream.StateUnhealthy:   "failing health check: ",
		upstream.StateEjected:     "ejected after connect failures (until ",
		upstream.StateBreakerOpen: "breaker open",
		upstream.StateWarming:     "port not accepting connections yet",
	}
	states := map[string]bool{}
	for _, b := range tab.Backends {
		ex := route.ExplainBackend(b, cfg, snap, true)
		dash := dashBackend(b)
		health := describeBackend(b)
		if len(ex.Containers) != 8 || len(dash.Upstreams) != 8 || len(health.Containers) != 8 {
			t.Fatalf("backend %s: %d explained, %d on the dashboard, %d in /health; want 8 each",
				b.Name, len(ex.Containers), len(dash.Upstreams), len(health.Containers))
		}
		if ex.Serving != dash.Serving || health.Serving != dash.Serving {
			t.Errorf("backend %s: serving %d in /explain, %d on the dashboard, %d in /health",
				b.Name, ex.Serving, dash.Serving, health.Serving)
		}
		for i, d := range dash.Upstreams {
			h := health.Containers[i]
			j := slices.IndexFunc(ex.Containers, func(c route.ContainerExplanation) bool { return c.Name == d.Name })
			if j < 0 || h.Name != d.Name {
				t.Fatalf("%s: not explained, or /health lists %s in its place", d.Name, h.Name)
			}
			e := ex.Containers[j]
			states[d.State] = true
			serving := d.State == upstream.StateServing
			if (e.Verdict == route.VerdictServing) != serving || strings.Join(e.Reasons, "; ") != d.Reason ||
				h.State != d.State || !slices.Equal(h.Reasons, e.Reasons) {
				t.Errorf("%s: /explain %s %q; dashboard %s %q; /health %s %q",
					d.Name, e.Verdict, e.Reasons, d.State, d.Reason, h.State, h.Reasons)
				continue
			}
			if !serving && !strings.HasPrefix(e.Reasons[0], reasonOf[d.State]) {
				t.Errorf("%s: state %s, but the first reason is %q", d.Name, d.State, e.Reasons[0])
			}
		}
	}
	if len(states) != 5 {
		t.Errorf("states seen: %v, want all five", states)
	}
}

// TestDashboardDataScale: 50 routes and 500 containers build in well under
// the one-second poll (see dashScaleBudget; BenchmarkDashboardData measures).
func TestDashboardDataScale(t *testing.T) {
	t.Parallel()
	o := dashFixture(t, 50, 500)
	h := New(o)
	var best time.Duration
	var size int
	for range 5 {
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard/data", nil))
		d := time.Since(start)
		if best == 0 || d < best {
			best = d
		}
		size = rec.Body.Len()
	}
	t.Logf("50 routes, 500 containers: best of 5 %v, %d bytes", best, size)
	if best > dashScaleBudget {
		t.Errorf("building /dashboard/data took %v, budget %v", best, dashScaleBudget)
	}
	doc := decodeDash(t, h)
	var ups, excl int
	for _, b := range doc.Backends {
		ups += len(b.Upstreams)
		excl += len(b.Excluded)
	}
	if len(doc.Routes) != 50 || ups+excl != 500 || excl == 0 {
		t.Errorf("%d routes, %d upstreams, %d excluded; want 50 routes and 500 containers", len(doc.Routes), ups, excl)
	}
}

func BenchmarkDashboardData(b *testing.B) {
	h := New(dashFixture(b, 50, 500))
	req := httptest.NewRequest("GET", "/dashboard/data", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func decodeDash(t *testing.T, h http.Handler) dashDoc {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard/data", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /dashboard/data: %d %s", rec.Code, rec.Body)
	}
	var doc dashDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("decoding /dashboard/data: %v", err)
	}
	return doc
}

func dashContainer(id, name, app, port string) docker.Container {
	return docker.Container{ID: strings.Repeat(id, 32)[:64], Name: name, State: "running", NetworkMode: "host",
		Labels: map[string]string{"app": app, "tier": "web", route.LabelPort: port}}
}

// dashFixture is a gateway of nRoutes routes, each to its own backend, and
// nContainers containers spread over them: every 25th has a bad rgate.port
// label (excluded), every 7th backend has a circuit breaker and every 5th a
// health check. Every route has recorded some traffic.
func dashFixture(tb testing.TB, nRoutes, nContainers int) Options {
	tb.Helper()
	cfg := &config.Config{}
	for i := range nRoutes {
		name := fmt.Sprintf("svc%02d", i)
		b := config.Backend{Name: name, MatchLabels: []string{"app=" + name, "tier=web"}}
		if i%7 == 0 {
			b.CircuitBreaker = &config.CircuitBreaker{}
		}
		cfg.Backends = append(cfg.Backends, b)
		cfg.Routes = append(cfg.Routes, config.Route{PathPrefix: "/api/" + name, Backend: name})
	}
	var snap docker.Snapshot
	for i := range nContainers {
		app := fmt.Sprintf("svc%02d", i%nRoutes)
		port := fmt.Sprint(20000 + i)
		if i%25 == 24 {
			port = "abc"
		}
		c := dashContainer(fmt.Sprintf("%04x", i), fmt.Sprintf("%s-%d", app, i/nRoutes), app, port)
		snap.Containers = append(snap.Containers, c)
	}
	store := stats.NewStore()
	tab := route.Compile(cfg, snap, route.Deps{Stats: store, State: route.NewState()})
	for _, b := range tab.Backends {
		for _, u := range b.Upstreams {
			u.SetReady()
		}
	}
	for i, r := range tab.Routes() {
		for j := range 200 {
			r.Stats.Record(200+100*(j%5/4)*(i%3), time.Duration(j*i+1)*time.Millisecond/10)
		}
	}
	return Options{Stats: store, Table: func() *route.Table { return tab }, Started: time.Now(), Version: "test",
		Docker: func() docker.Status { return docker.Status{Connected: true, Since: time.Now()} }}
}

func BenchmarkDashboardDataGzip(b *testing.B) {
	h := New(dashFixture(b, 50, 500))
	req := httptest.NewRequest("GET", "/dashboard/data", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		b.ReportMetric(float64(rec.Body.Len()), "bytes")
	}
}
