package admin

import (
	"encoding/json"
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
)

func TestHealth(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		Routes:   []config.Route{{PathPrefix: "/p", Backend: "pay"}},
		Backends: []config.Backend{{Name: "pay", MatchLabels: []string{"app=pay"}, URLs: []string{"http://127.0.0.1:9"}}},
	}
	snap := docker.Snapshot{Containers: []docker.Container{
		{ID: "0123456789abcdef", Name: "pay-1", State: "running", NetworkMode: "host", Labels: map[string]string{"app": "pay", "rgate.port": "81"}},
		{ID: "fedcba9876543210", Name: "pay-2", State: "exited", Labels: map[string]string{"app": "pay"}},
	}}
	tab := route.Compile(cfg, snap, route.Deps{})
	h := New(Options{
		Stats:   stats.NewStore(),
		Table:   func() *route.Table { return tab },
		Docker:  func() docker.Status { return docker.Status{Connected: false, LastError: "dial unix: no such file"} },
		Started: time.Now(),
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	var body healthBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "degraded" || !body.Docker.Enabled || body.Docker.Connected || body.Docker.LastError == "" {
		t.Errorf("docker state = %+v, status %q", body.Docker, body.Status)
	}
	b := body.Backends["pay"]
	if b.Upstreams != 2 || len(b.Containers) != 1 || b.Containers[0].ID != "0123456789ab" ||
		b.Containers[0].Address != "127.0.0.1:81" || len(b.URLs) != 1 || len(b.Skipped) != 1 {
		t.Errorf("backend = %+v", b)
	}
	// The new container is warming; the static URL serves, with reasons [].
	if c, u := b.Containers[0], b.URLs[0]; b.Serving != 1 || c.State != "warming" ||
		!slices.Equal(c.Reasons, []string{"port not accepting connections yet"}) ||
		u.State != "serving" || u.Address != "http://127.0.0.1:9" || !strings.Contains(rec.Body.String(), `"reasons": []`) {
		t.Errorf("verdicts: serving %d, container %+v, url %+v", b.Serving, c, u)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/health", nil))
	if rec.Code != 405 {
		t.Errorf("POST /health = %d", rec.Code)
	}
}

func TestIsPath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{"/stats": true, "/health": true, "/stats/": false, "/api/stats": false} {
		if IsPath(p) != want {
			t.Errorf("IsPath(%q) = %v", p, !want)
		}
	}
}

func TestAhead(t *testing.T) {
	t.Parallel()
	adm := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("admin")) })
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("route")) })
	h := Ahead(adm, next)
	for path, want := range map[string]string{"/stats": "admin", "/health": "admin", "/dashboard/app.js": "admin",
		"/api/stats": "route", "/": "route", "/statsx": "route"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Body.String() != want {
			t.Errorf("%s served by %q, want %q", path, rec.Body.String(), want)
		}
	}
}

// TestStatsScope: scope=local (or none) is this replica's /stats, byte for
// byte; scope=cluster goes to the cluster handler, and is refused with 400
// when there is none; any other scope is 400.
func TestStatsScope(t *testing.T) {
	t.Parallel()
	st := stats.NewStore()
	st.Global().Record(200, time.Millisecond)
	get := func(h http.Handler, url string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		return rec
	}
	table := func() *route.Table { return route.Compile(&config.Config{}, docker.Snapshot{}, route.Deps{}) }
	solo := New(Options{Stats: st, Table: table})
	plain := get(solo, "/stats")
	if local := get(solo, "/stats?scope=local"); local.Code != 200 || local.Body.String() != plain.Body.String() {
		t.Errorf("scope=local: %d %q, want /stats itself %q", local.Code, local.Body, plain.Body)
	}
	for _, u := range []string{"/stats?scope=cluster", "/stats?scope=everywhere"} {
		if rec := get(solo, u); rec.Code != 400 || !strings.Contains(rec.Body.String(), `"error":"scope`) {
			t.Errorf("%s without a cluster: %d %q, want 400 with a JSON error", u, rec.Code, rec.Body)
		}
	}
	clustered := New(Options{Stats: st, Table: table, ClusterStats: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("cluster"))
	})})
	if rec := get(clustered, "/stats?scope=cluster"); rec.Body.String() != "cluster" {
		t.Errorf("scope=cluster with a cluster handler: %q", rec.Body)
	}
	if rec := get(clustered, "/stats"); rec.Body.String() != plain.Body.String() {
		t.Errorf("/stats with a cluster: %q, want this replica's %q", rec.Body, plain.Body)
	}
}
