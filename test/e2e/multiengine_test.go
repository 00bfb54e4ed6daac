package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// engineView is what /explain and /health say about the containers of one
// backend and about the Docker engines.
type engineView struct {
	containers map[string]explainedOnEngine // by name
	endpoints  map[string]healthEndpoint    // by name
}

type explainedOnEngine struct {
	Name     string   `json:"name"`
	Endpoint string   `json:"endpoint"`
	Address  string   `json:"address"`
	Verdict  string   `json:"verdict"`
	Reasons  []string `json:"reasons"`
}

type healthEndpoint struct {
	Name      string `json:"name"`
	Host      string `json:"host"`
	Connected bool   `json:"connected"`
	LastError string `json:"last_error"`
}

// view reads /explain for path and /health.
func (g *gw) view(t *testing.T, path string) engineView {
	t.Helper()
	v := engineView{containers: map[string]explainedOnEngine{}, endpoints: map[string]healthEndpoint{}}
	r := g.get(t, "/explain?path="+url.QueryEscape(path))
	var e struct {
		Backend *struct {
			Containers []explainedOnEngine `json:"containers"`
		} `json:"backend"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &e) != nil || e.Backend == nil {
		t.Fatalf("GET /explain: status %d, body %s", r.status, r.body)
	}
	for _, c := range e.Backend.Containers {
		v.containers[c.Name] = c
	}
	r = g.get(t, "/health")
	var h struct {
		Docker struct {
			Endpoints []healthEndpoint `json:"endpoints"`
		} `json:"docker"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &h) != nil {
		t.Fatalf("GET /health: status %d, body %s", r.status, r.body)
	}
	for _, ep := range h.Docker.Endpoints {
		v.endpoints[ep.Name] = ep
	}
	return v
}

// TestMultipleEngines: one backend whose containers run on two Docker
// engines, the machine's and a second one the test starts, gets traffic on
// both, and /explain, /health and validate --docker name each container's
// engine. The second engine is killed (SIGKILL): rgate keeps its
// containers (their processes outlive dockerd, so traffic still reaches
// them) while the first engine keeps updating; once it is started again
// rgate lists it again (the restarted engine has stopped the container,
// so it leaves the pool) and follows its events (the container started
// again gets traffic).
func TestMultipleEngines(t *testing.T) {
	t.Parallel()
	if h := os.Getenv("DOCKER_HOST"); h != "" && !strings.HasPrefix(h, "unix://") {
		t.Skipf("DOCKER_HOST=%s is not a unix socket: the first engine's host network is not this one", h)
	}
	began := time.Now()
	second := startEngine(t)
	label := uniq(t)
	labels := map[string]string{"app_name": label}
	a := runContainer(t, "a", labels)
	bName, bPort := second.runContainer("b", labels)

	config := oneBackend(label, "") + fmt.Sprintf(`docker:
  endpoints:
    - name: main
      host: unix://%s
    - name: second
      host: %s
`, engineSocket(), second.host())
	g := startGateway(t, config)
	path := "/api/" + label + "/who"
	g.waitBackend(t, path, a.name, 5*time.Second)
	g.waitBackend(t, path, bName, 5*time.Second)
	if seen := g.countBackends(t, path, 60); seen[a.name] == 0 || seen[bName] == 0 || len(seen) != 2 {
		t.Errorf("answers %v, want both engines' containers and nothing else", seen)
	}
	v := g.view(t, path)
	if c := v.containers[a.name]; c.Endpoint != "main" || c.Verdict != "serving" {
		t.Errorf("/explain for %s = %+v, want endpoint main, serving", a.name, c)
	}
	if c := v.containers[bName]; c.Endpoint != "second" || c.Verdict != "serving" || c.Address != "127.0.0.1:"+strconv.Itoa(bPort) {
		t.Errorf("/explain for %s = %+v, want endpoint second, serving at 127.0.0.1:%d", bName, c, bPort)
	}
	if ep := v.endpoints["second"]; !ep.Connected || ep.Host != second.host() || !v.endpoints["main"].Connected {
		t.Errorf("/health endpoints = %+v, want both connected", v.endpoints)
	}
	checkValidateEngines(t, config, a.name, bName)
	br := dashboardEngines(t, g, bName)

	// The second engine dies. Its container's process lives on (under its
	// shim) and rgate keeps it: traffic still reaches it.
	second.kill()
	eventually(t, 5*time.Second, "/health: endpoint second disconnected", func() bool {
		ep := g.view(t, path).endpoints["second"]
		return !ep.Connected && ep.LastError != ""
	})
	if c := g.view(t, path).containers[bName]; c.Endpoint != "second" || c.Verdict != "serving" {
		t.Errorf("/explain for %s with its engine down = %+v, want kept (serving)", bName, c)
	}
	if br != nil {
		pageWait(t, br, 5*time.Second, "the Docker pill saying 1/2 engines",
			`document.getElementById('docker').textContent === 'Docker 1/2 engines connected'`)
	}
	if m := string(g.get(t, "/metrics").body); !strings.Contains(m, `rgate_docker_endpoint_connected{endpoint="second"} 0`) ||
		!strings.Contains(m, `rgate_docker_endpoint_connected{endpoint="main"} 1`) {
		t.Errorf("/metrics lacks the per-engine connection gauges (main 1, second 0)")
	}
	// The first engine keeps updating meanwhile.
	a2 := runContainer(t, "a2", labels)
	g.waitBackend(t, path, a2.name, 5*time.Second)
	seen := g.countBackends(t, path, 60)
	if seen[bName] == 0 || len(seen) != 3 {
		t.Errorf("answers with the second engine down %v, want a, a2 and %s (kept) and no errors", seen, bName)
	}
	t.Logf("second engine down: %v", seen)

	// It comes back: rgate reconnects and lists it again. Restarted without
	// live-restore, the engine stopped the container, so it leaves the pool.
	second.start()
	back := eventually(t, 10*time.Second, "/health: endpoint second connected again", func() bool {
		return g.view(t, path).endpoints["second"].Connected
	})
	t.Logf("second engine connected again %v after it answered", back.Round(10*time.Millisecond))
	running := strings.TrimSpace(second.docker("inspect", "--format", "{{.State.Running}}", bName)) == "true"
	t.Logf("after its restart the second engine reports %s running: %v", bName, running)
	eventually(t, 5*time.Second, "/explain: "+bName+" as its restarted engine lists it", func() bool {
		c := g.view(t, path).containers[bName]
		return c.Endpoint == "second" && (c.Verdict == "serving") == running
	})
	if !running {
		if seen := g.countBackends(t, path, 40); seen[bName] != 0 || len(seen) != 2 {
			t.Errorf("answers after the resync %v, want a and a2 only", seen)
		}
		second.docker("start", bName)
	}
	// Its events are followed again: the container started again serves.
	g.waitBackend(t, path, bName, 10*time.Second)
	if d := time.Since(began); d > 90*time.Second {
		t.Errorf("the test took %v, want under 90s", d)
	}
}

// checkValidateEngines runs validate --docker on config: it lists both
// engines and names each container's engine.
func checkValidateEngines(t *testing.T, config, aName, bName string) {
	t.Helper()
	code, out, errOut := runRgate(t, 20*time.Second, "validate", "--docker", "--config", writeConfig(t, config))
	if code != 0 {
		t.Fatalf("validate --docker: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"(endpoint main)", "(endpoint second)",
		"serving   " + aName + " (main ", "serving   " + bName + " (second "} {
		if !strings.Contains(out, want) {
			t.Errorf("validate --docker output lacks %q:\n%s", want, out)
		}
	}
}

// dashboardEngines opens the dashboard in chromium, when there is one, and
// checks that it counts both engines connected and names bName's engine.
// It returns the browser, or nil without chromium (the browser tests
// proper fail for that where they are required).
func dashboardEngines(t *testing.T, g *gw, bName string) *chromium {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Logf("no %s: the dashboard is not checked", chromiumPath)
		return nil
	}
	br := startChromium(t, 1400, 1000)
	br.do("opening /dashboard", 20*time.Second, chromedp.Navigate(g.url+"/dashboard"))
	pageWait(t, br, 10*time.Second, "the Docker pill saying 2/2 engines",
		`document.getElementById('docker').textContent === 'Docker 2/2 engines connected'`)
	pageWait(t, br, 5*time.Second, bName+"'s row naming its engine", `[...document.querySelectorAll('#backends tr')].some(
		(r) => r.dataset.name === `+strconv.Quote(bName)+` && r.cells[0].textContent.endsWith(' @ second'))`)
	return br
}
