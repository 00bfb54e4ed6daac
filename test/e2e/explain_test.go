package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// explanation is the part of GET /explain's document these tests read.
type explanation struct {
	Path    string `json:"path"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
	Status  int    `json:"status"`
	Route   *struct {
		PathPrefix string   `json:"path_prefix"`
		Backend    string   `json:"backend"`
		Shorter    []string `json:"shorter_matches"`
	} `json:"route"`
	Default *struct {
		StatusCode int    `json:"status_code"`
		Body       string `json:"body"`
	} `json:"default_response"`
	Backend *struct {
		Name        string                 `json:"name"`
		MatchLabels []string               `json:"match_labels"`
		Serving     int                    `json:"serving"`
		Containers  []explainedContainer   `json:"containers"`
		Breaker     map[string]interface{} `json:"breaker"`
	} `json:"backend"`
}

type explainedContainer struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Image   string            `json:"image"`
	State   string            `json:"state"`
	Health  string            `json:"health"`
	Labels  map[string]string `json:"labels"`
	Address string            `json:"address"`
	Verdict string            `json:"verdict"`
	Reasons []string          `json:"reasons"`
}

// explain GETs /explain for path (a request target) and decodes it.
func (g *gw) explain(t *testing.T, path string) explanation {
	t.Helper()
	r := g.get(t, "/explain?path="+url.QueryEscape(path))
	if r.status != http.StatusOK {
		t.Fatalf("GET /explain?path=%s: status %d, want 200; body %q", path, r.status, r.body)
	}
	var e explanation
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("GET /explain?path=%s: decoding %q: %v", path, r.body, err)
	}
	return e
}

// explained returns the entry of container name in the explanation of path,
// or false when it is not listed.
func (g *gw) explained(t *testing.T, path, name string) (explainedContainer, bool) {
	t.Helper()
	e := g.explain(t, path)
	if e.Backend == nil {
		t.Fatalf("GET /explain?path=%s: no backend; %+v", path, e)
	}
	for _, c := range e.Backend.Containers {
		if c.Name == name {
			return c, true
		}
	}
	return explainedContainer{}, false
}

// waitExcluded polls /explain for path until container name is excluded
// with a reason that starts with want, and returns its entry.
func (g *gw) waitExcluded(t *testing.T, path, name, want string, timeout time.Duration) explainedContainer {
	t.Helper()
	var last explainedContainer
	var listed bool
	eventually(t, timeout, fmt.Sprintf("/explain: %s excluded for %q", name, want), func() bool {
		last, listed = g.explained(t, path, name)
		if !listed || last.Verdict != "excluded" {
			return false
		}
		for _, r := range last.Reasons {
			if strings.HasPrefix(r, want) {
				return true
			}
		}
		return false
	})
	return last
}

func with(labels map[string]string, kv ...string) map[string]string {
	out := maps.Clone(labels)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// explainFixture is a gateway with one container per exclusion reason.
type explainFixture struct {
	g     *gw
	label string
	// Backend main (app_name=L, tier=main), path /api/L/x: two serving
	// containers and one excluded per reason Docker and labels give.
	good, good2, created, stopped, sick, missing, disabled, badport, typo *ctr
	// deaf (backend ej, /ej/L/x) refuses connections: ejected.
	deaf *ctr
	// flaky (backend brk, /brk/L/x) answers 500s: breaker open.
	flaky *ctr
	// unwell (backend hc, /hc/L/x) fails its active health check.
	unwell *ctr
}

func newExplainFixture(t *testing.T) *explainFixture {
	t.Helper()
	L := uniq(t)
	f := &explainFixture{label: L}
	main := map[string]string{"app_name": L, "tier": "main"}
	dockerHealth := []string{"--health-cmd", "healthcheck", "--health-interval", "500ms", "--health-retries", "1"}
	f.good = runContainer(t, "good", main)
	f.good2 = runContainer(t, "good2", main)
	f.created = startContainer(t, "created", ctrSpec{labels: main, create: true})
	f.stopped = runContainer(t, "stopped", main)
	f.stopped.stop()
	f.sick = startContainer(t, "sick", ctrSpec{labels: main, runArgs: dockerHealth, env: []string{"UNHEALTHY=1"}})
	f.missing = runContainer(t, "missing", map[string]string{"app_name": L})
	f.disabled = runContainer(t, "disabled", with(main, "rgate.enable", "false"))
	f.badport = runContainer(t, "badport", with(main, "rgate.port", "abc"))
	f.typo = runContainer(t, "typo", map[string]string{"app_nme": L, "tier": "main"})
	f.deaf = startContainer(t, "deaf", ctrSpec{labels: map[string]string{"app_name": L + "-ej"}, listenPort: freePort(t)})
	f.flaky = runContainer(t, "flaky", map[string]string{"app_name": L + "-brk"}, "FAIL_STATUS=500")
	f.unwell = runContainer(t, "unwell", map[string]string{"app_name": L + "-hc"}, "UNHEALTHY=1")
	f.g = startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /api/%[1]s
    backend: main
  - path_prefix: /api
    backend: ghost
  - path_prefix: /ej/%[1]s
    backend: ej
    retries: 0
  - path_prefix: /brk/%[1]s
    backend: brk
    retries: 0
  - path_prefix: /hc/%[1]s
    backend: hc
default_response:
  body: "no route"
  status_code: 404
backends:
  - name: main
    match_labels: [app_name=%[1]s, tier=main]
  - name: ghost
    match_labels: [app_name=%[1]s-ghost]
  - name: ej
    match_labels: [app_name=%[1]s-ej]
  - name: brk
    match_labels: [app_name=%[1]s-brk]
    circuit_breaker: {failures: 3, window: 10s, min_requests: 3, open_for: 60s}
  - name: hc
    match_labels: [app_name=%[1]s-hc]
    health_check: {path: /health, interval: 200ms, timeout: 500ms, healthy_after: 1, unhealthy_after: 2}
`, L))
	return f
}

// TestExplainExclusions: /explain lists every container that carries any
// of a backend's labels, with one case per exclusion reason against real
// containers; `validate --docker` gives the same verdicts for the same
// containers plus its warnings. ("ambiguous network" needs a container on
// two networks, which these tests may not create: it is covered by the unit
// tests of internal/route.)
func TestExplainExclusions(t *testing.T) {
	t.Parallel()
	f := newExplainFixture(t)
	g, L := f.g, f.label
	mainPath := "/api/" + L + "/x"
	g.waitBackend(t, mainPath, f.good.name, 10*time.Second)

	t.Run("route and serving containers", func(t *testing.T) {
		// Each new container serves once the gateway has seen its port
		// accept (a warm-up dial): wait for both.
		var e explanation
		eventually(t, 5*time.Second, "/explain: 2 containers serving main", func() bool {
			e = g.explain(t, mainPath+"?q=1")
			return e.Backend != nil && e.Backend.Serving == 2
		})
		if e.Outcome != "routed" || e.Status != 0 || e.Route == nil || e.Route.PathPrefix != "/api/"+L ||
			len(e.Route.Shorter) != 1 || e.Route.Shorter[0] != "/api" || !strings.Contains(e.Reason, "longest prefix") {
			t.Fatalf("explanation = %+v, want routed by /api/%s, longer than /api", e, L)
		}
		if e.Backend.Name != "main" || strings.Join(e.Backend.MatchLabels, ",") != "app_name="+L+",tier=main" || e.Backend.Serving != 2 {
			t.Errorf("backend = %s %v serving %d, want main, its labels, 2 serving", e.Backend.Name, e.Backend.MatchLabels, e.Backend.Serving)
		}
		// The image is not compared with testappImage: a concurrent test run
		// re-importing that tag makes Docker list the image ID instead.
		for _, c := range []*ctr{f.good, f.good2} {
			got, ok := g.explained(t, mainPath, c.name)
			if !ok || got.Verdict != "serving" || got.Address != "127.0.0.1:"+c.port || got.State != "running" ||
				got.Image == "" || len(got.ID) != 12 || got.Labels["tier"] != "main" {
				t.Errorf("%s = %+v, want serving at 127.0.0.1:%s", c.name, got, c.port)
			}
		}
	})

	reasons := []struct {
		name string
		path string
		c    *ctr
		want string // prefix of one reason
	}{
		{"not running (created)", mainPath, f.created, "not running (state created)"},
		{"not running (stopped)", mainPath, f.stopped, "not running (state exited)"},
		{"unhealthy", mainPath, f.sick, "not healthy (docker health is unhealthy)"},
		{"missing label", mainPath, f.missing, "missing label tier=main"},
		{"missing label (typo)", mainPath, f.typo, "missing label app_name=" + L},
		{"disabled", mainPath, f.disabled, "disabled by rgate.enable=false"},
		{"no usable port", mainPath, f.badport, `no usable port: label rgate.port="abc" is not a port number`},
	}
	for _, tc := range reasons {
		t.Run(tc.name, func(t *testing.T) {
			got := g.waitExcluded(t, tc.path, tc.c.name, tc.want, 10*time.Second)
			if len(got.Reasons) != 1 {
				t.Errorf("%s reasons = %q, want only %q", tc.c.name, got.Reasons, tc.want)
			}
		})
	}

	t.Run("breaker open", func(t *testing.T) {
		path := "/brk/" + L + "/x"
		eventually(t, 10*time.Second, "the brk breaker to open", func() bool {
			g.get(t, path)
			return g.breakerState(t, "brk") == "open"
		})
		got := g.waitExcluded(t, path, f.flaky.name, "breaker open", 2*time.Second)
		if e := g.explain(t, path); e.Status != http.StatusServiceUnavailable || e.Backend.Serving != 0 ||
			e.Backend.Breaker["state"] != "open" {
			t.Errorf("explanation with the breaker open: status %d, serving %d, breaker %v; want 503, 0, open (%q)",
				e.Status, e.Backend.Serving, e.Backend.Breaker, got.Reasons)
		}
	})

	t.Run("ejected", func(t *testing.T) {
		path := "/ej/" + L + "/x"
		eventually(t, 10*time.Second, f.deaf.name+" ejected", func() bool {
			g.get(t, path) // refused: counts a connect failure
			c, _ := g.explained(t, path, f.deaf.name)
			return len(c.Reasons) > 0 && strings.Contains(strings.Join(c.Reasons, "|"), "ejected after connect failures (until ")
		})
	})

	t.Run("failing health check", func(t *testing.T) {
		got := g.waitExcluded(t, "/hc/"+L+"/x", f.unwell.name, "failing health check: ", 10*time.Second)
		t.Logf("%s: %q", f.unwell.name, got.Reasons)
	})

	t.Run("default response and rejected paths", func(t *testing.T) {
		if e := g.explain(t, "/nowhere"); e.Outcome != "default_response" || e.Status != 404 ||
			e.Default == nil || e.Default.Body != "no route" || e.Backend != nil {
			t.Errorf("/nowhere explained as %+v, want the default response", e)
		}
		if e := g.explain(t, "/api/"+L+"/%2e%2e/x"); e.Outcome != "rejected" || e.Status != 400 ||
			!strings.Contains(e.Reason, "ambiguous") {
			t.Errorf("dot-segment path explained as %+v, want rejected as ambiguous", e)
		}
		if r := g.get(t, "/api/"+L+"/%2e%2e/x"); r.status != http.StatusBadRequest {
			t.Errorf("the gateway answers %d to that path, want 400 as /explain says", r.status)
		}
		r := g.get(t, "/explain")
		var body map[string]string
		if r.status != http.StatusBadRequest || json.Unmarshal(r.body, &body) != nil || body["error"] == "" {
			t.Errorf("GET /explain without a path = %d %q, want 400 with a JSON error", r.status, r.body)
		}
	})

	t.Run("validate --docker", func(t *testing.T) {
		g.waitExcluded(t, mainPath, f.sick.name, "not healthy", 10*time.Second)
		checkValidateDocker(t, g, f)
	})
}

// checkValidateDocker runs `rgate validate --docker` on the fixture's
// config and checks its per-route lines and warnings.
func checkValidateDocker(t *testing.T, g *gw, f *explainFixture) {
	t.Helper()
	L := f.label
	code, stdout, stderr := runRgate(t, 30*time.Second, "validate", "--config", g.configPath(t), "--docker")
	if code != 0 {
		t.Fatalf("validate --docker exit %d, want 0 (warnings do not fail); stderr %q\nstdout:\n%s", code, stderr, stdout)
	}
	t.Logf("validate --docker:\n%s", stdout)
	lines := strings.Split(stdout, "\n")
	has := func(parts ...string) bool {
		for _, l := range lines {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(l, p)
			}
			if ok {
				return true
			}
		}
		return false
	}
	want := [][]string{
		{": ok ("},
		{"/api/" + L + " -> main: 2 container(s)"},
		{"serving", f.good.name, "127.0.0.1:" + f.good.port},
		{"serving", f.good2.name, "127.0.0.1:" + f.good2.port},
		{"excluded", f.created.name, "not running (state created)"},
		{"excluded", f.stopped.name, "not running (state exited)"},
		{"excluded", f.sick.name, "not healthy (docker health is unhealthy)"},
		{"excluded", f.missing.name, "missing label tier=main"},
		{"excluded", f.disabled.name, "disabled by rgate.enable=false"},
		{"excluded", f.badport.name, `no usable port: label rgate.port="abc"`},
		{"excluded", f.typo.name, "missing label app_name=" + L},
		// Without live state, validate judges by Docker alone.
		{"/ej/" + L + " -> ej: 1 container(s)"},
		{"serving", f.deaf.name, "127.0.0.1:" + f.deaf.port},
		{"/brk/" + L + " -> brk: 1 container(s)"},
		{"/hc/" + L + " -> hc: 1 container(s)"},
		{"/api -> ghost: 0 container(s)"},
		{"warning: ", `backend "ghost"`, "match no container"},
		{"warning: ", `backend "main"`, "listen on different ports", f.good.port, f.good2.port},
		{"warning: ", f.typo.name, "label app_nme=" + L + " looks like a typo of app_name=" + L, `(backend "main")`},
	}
	for _, w := range want {
		if !has(w...) {
			t.Errorf("validate --docker output has no line with %q", w)
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "warning: ") && (strings.Contains(l, f.deaf.name) || strings.Contains(l, f.flaky.name)) {
			t.Errorf("unexpected warning about a container of another backend: %q", l)
		}
	}
}

// TestValidateDockerUnreachable: with DOCKER_HOST naming a socket that does
// not exist, `validate --docker` still checks the file, then fails with a
// message naming the endpoint and DOCKER_HOST.
func TestValidateDockerUnreachable(t *testing.T) {
	t.Parallel()
	requireGateway(t)
	path := writeConfig(t, policyConfig(uniq(t), "", ""))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rgateBin, "validate", "--config", path, "--docker")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent.sock")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("validate --docker with an unreachable engine: %v, want exit code 1; stdout %q stderr %q", err, &stdout, &stderr)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v to give up, want within the 10s bound", d)
	}
	if !strings.Contains(stdout.String(), ": ok (") {
		t.Errorf("stdout %q: want the file checked first", &stdout)
	}
	msg := stderr.String()
	for _, want := range []string{"cannot reach Docker", "unix:///nonexistent.sock", "DOCKER_HOST"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q: want it to mention %q", msg, want)
		}
	}
}
