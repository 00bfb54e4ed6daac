package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown: on SIGTERM an in-flight request finishes with 200,
// then the process exits 0 and stops listening.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "sleepy", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	base := "/api/" + label
	g.waitBackend(t, base+"/x", c.name, 5*time.Second)

	type result struct {
		r   reply
		err error
	}
	done := make(chan result, 1)
	req := g.request(t, http.MethodGet, base+"/sleep?d=1s", nil)
	go func() {
		r, err := g.tryDo(req)
		done <- result{r, err}
	}()
	// Ask the backend itself (not through the gateway) when the request is in.
	direct := newClient(t, time.Second)
	eventually(t, 5*time.Second, "the sleep request to reach the backend", func() bool {
		r, err := doWith(direct, mustRequest(t, "http://127.0.0.1:"+strconv.Itoa(c.listenPort)+"/sleeping"))
		var s struct{ Sleeping int }
		return err == nil && json.Unmarshal(r.body, &s) == nil && s.Sleeping == 1
	})
	g.signal(syscall.SIGTERM)

	select {
	case res := <-done:
		if res.err != nil || res.r.status != http.StatusOK || string(res.r.body) != "slept 1s" {
			t.Errorf("in-flight request: status %d body %q err %v; want 200 %q", res.r.status, res.r.body, res.err, "slept 1s")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("in-flight request did not finish within 10s of SIGTERM")
	}
	code, ok := g.waitExit(10 * time.Second)
	if !ok {
		t.Fatalf("rgate did not exit within 10s of SIGTERM")
	}
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(g.port), time.Second); err == nil {
		conn.Close()
		t.Errorf("port %d still accepts connections after exit", g.port)
	}
}

// TestDockerUnreachable: started while Docker is unreachable, rgate still
// answers default responses, /stats, and 503 on routed paths, and says that
// Docker is unreachable.
func TestDockerUnreachable(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	dead := filepath.Join(t.TempDir(), "nonexistent.sock")
	g := startGatewayWith(t, oneBackend(label, ""), gwOptions{env: []string{"DOCKER_HOST=unix://" + dead}})

	if r := g.get(t, "/elsewhere"); r.status != http.StatusNotFound || string(r.body) != "no route" {
		t.Errorf("GET /elsewhere = %d %q, want the default 404 %q", r.status, r.body, "no route")
	}
	r := g.get(t, "/api/"+label+"/x")
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("GET routed path = %d, want 503; body %q", r.status, r.body)
	}
	checkErrorBody(t, r)
	if s, e := g.stats(t).counts(t); s != 0 || e != 2 {
		t.Errorf("stats success %d, error %d; want 0, 2", s, e)
	}
	eventually(t, 5*time.Second, "a log line saying Docker is unreachable", func() bool {
		out := strings.ToLower(g.output())
		return strings.Contains(out, "docker") && containsAny(out, "unreachable", "cannot connect", "no such file", "connection refused")
	})
}

// TestValidate: `rgate validate` exits 0 for a good config and 1 with every
// problem, by field path, for a bad one.
func TestValidate(t *testing.T) {
	t.Parallel()
	good := writeConfig(t, oneBackend("x", "    timeout: 2s\n"))
	for _, args := range [][]string{{"validate", "--config", good}, {"validate", "-c", good}} {
		if code, out, errOut := runRgate(t, 10*time.Second, args...); code != 0 {
			t.Errorf("rgate %s: exit %d, want 0; output %q %q", strings.Join(args, " "), code, out, errOut)
		}
	}

	for _, tc := range []struct {
		name   string
		config string
		want   []string // each must appear on stderr
	}{
		{"unknown key", `routes:
  - path_prefx: /api
    backend: b
backends:
  - name: b
    match_labels: [app_name=b]
`, []string{"path_prefx"}},
		{"several problems", `routes:
  - path_prefix: /api
    backend: nope
  - path_prefix: api
    backend: b
default_response:
  body: "x"
  status_code: 700
backends:
  - name: b
    match_labels: [app_name=b]
`, []string{"routes[0].backend", "nope", "routes[1].path_prefix", "default_response.status_code"}},
		{"bad label and duplicate prefix", `routes:
  - path_prefix: /api
    backend: b
  - path_prefix: /api
    backend: b
backends:
  - name: b
    match_labels: [just-a-key]
`, []string{"routes[1].path_prefix", "backends[0].match_labels[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.config)
			code, _, errOut := runRgate(t, 10*time.Second, "validate", "--config", path)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr %q", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, errOut)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		code, _, errOut := runRgate(t, 10*time.Second, "validate", "--config", filepath.Join(t.TempDir(), "absent.yml"))
		if code != 1 || errOut == "" {
			t.Errorf("exit %d stderr %q, want 1 and a reason", code, errOut)
		}
	})
}

// TestBadConfigAtStart: serving with a bad config exits 1 at once, naming
// the field.
func TestBadConfigAtStart(t *testing.T) {
	t.Parallel()
	bad := writeConfig(t, `routes:
  - path_prefix: /api
    backend: order
backends:
  - name: orders
    match_labels: [app_name=orders]
`)
	port := strconv.Itoa(freePort(t))
	for _, args := range [][]string{{"--config", bad, "--port", port}, {"-c", bad, "-p", port}} {
		code, _, errOut := runRgate(t, 15*time.Second, args...)
		if code != 1 {
			t.Errorf("rgate %s: exit %d, want 1; stderr %q", strings.Join(args, " "), code, errOut)
		}
		if !strings.Contains(errOut, "routes[0].backend") || !strings.Contains(errOut, "order") {
			t.Errorf("stderr does not name routes[0].backend and %q:\n%s", "order", errOut)
		}
	}
}

// TestVersion: --version prints something and exits 0.
func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, errOut := runRgate(t, 10*time.Second, "--version")
	if code != 0 || strings.TrimSpace(out+errOut) == "" {
		t.Errorf("rgate --version: exit %d output %q %q, want 0 and a version", code, out, errOut)
	}
}

// TestShortFlags: -c and -p work like --config and --port.
func TestShortFlags(t *testing.T) {
	t.Parallel()
	g := startGatewayWith(t, oneBackend(uniq(t), ""), gwOptions{shortFlags: true})
	if r := g.get(t, "/nowhere"); r.status != http.StatusNotFound {
		t.Errorf("GET /nowhere = %d, want the default 404", r.status)
	}
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
