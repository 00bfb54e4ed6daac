package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Helpers of the issue-3 (traffic control) tests.

// getH sends a GET with headers given as name, value pairs.
func (g *gw) getH(t *testing.T, path string, kv ...string) reply {
	t.Helper()
	return g.do(t, g.requestH(t, http.MethodGet, path, nil, kv...))
}

// requestH builds a request with headers given as name, value pairs.
func (g *gw) requestH(t *testing.T, method, path string, body io.Reader, kv ...string) *http.Request {
	t.Helper()
	if len(kv)%2 != 0 {
		t.Fatalf("requestH: odd header list %q", kv)
	}
	req := g.request(t, method, path, body)
	for i := 0; i < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	return req
}

// adminJSON GETs an admin endpoint that answers JSON and decodes it.
func (g *gw) adminJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	r := g.get(t, path)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body %q", path, r.status, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("GET %s: decoding %q: %v", path, r.body, err)
	}
	return m
}

// jsonAt walks v by object keys.
func jsonAt(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// jsonString is the string at keys, or "" when absent or not a string.
func jsonString(v any, keys ...string) string {
	x, _ := jsonAt(v, keys...)
	s, _ := x.(string)
	return s
}

// breakerState is backends.NAME.breaker.state of GET /health.
func (g *gw) breakerState(t *testing.T, backend string) string {
	t.Helper()
	return jsonString(g.adminJSON(t, "/health"), "backends", backend, "breaker", "state")
}

// containerHealth is the health ("healthy", "unhealthy", "unknown") /health
// gives container name of backend, or "" when it is not listed.
func (g *gw) containerHealth(t *testing.T, backend, name string) string {
	t.Helper()
	return jsonString(g.containerInfo(t, backend, name), "health")
}

// containerInfo is the entry of /health's backends.BACKEND.containers for
// container name, or nil when it is not listed.
func (g *gw) containerInfo(t *testing.T, backend, name string) map[string]any {
	t.Helper()
	h := g.adminJSON(t, "/health")
	list, _ := jsonAt(h, "backends", backend, "containers")
	cs, _ := list.([]any)
	for _, c := range cs {
		if strings.TrimPrefix(jsonString(c, "name"), "/") == name {
			m, _ := c.(map[string]any)
			return m
		}
	}
	return nil
}

// configState is config.generation and config.last_reload_error of /health.
func (g *gw) configState(t *testing.T) (generation int64, lastErr string) {
	t.Helper()
	h := g.adminJSON(t, "/health")
	v, ok := jsonAt(h, "config", "generation")
	n, isNum := v.(float64)
	if !ok || !isNum {
		t.Fatalf("GET /health: config.generation = %v, want a number; body %v", v, h)
	}
	return int64(n), jsonString(h, "config", "last_reload_error")
}

// configPath is the config file the gateway was started with.
func (g *gw) configPath(t *testing.T) string {
	t.Helper()
	for i, a := range g.cmd.Args {
		if (a == "--config" || a == "-c") && i+1 < len(g.cmd.Args) {
			return g.cmd.Args[i+1]
		}
	}
	t.Fatalf("no --config in %q", g.cmd.Args)
	return ""
}

// headerInt parses a header holding a non-negative integer.
func headerInt(h http.Header, name string) (int, error) {
	v := h.Get(name)
	if v == "" {
		return 0, fmt.Errorf("%s missing", name)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q is not a non-negative integer", name, v)
	}
	return n, nil
}

// upstreamHits reads the testapp's request counter through path (a route
// that does not cache).
func (g *gw) upstreamHits(t *testing.T, path string) int64 {
	t.Helper()
	r := g.get(t, path)
	var h struct {
		Hits *int64 `json:"hits"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &h) != nil || h.Hits == nil {
		t.Fatalf("GET %s = %d %q, want the testapp's {\"hits\": N}", path, r.status, r.body)
	}
	return *h.Hits
}

// accessLogLines returns the JSON objects the gateway printed that carry a
// request_id (the access log lines), in order.
func (g *gw) accessLogLines() []map[string]any {
	var out []map[string]any
	for line := range strings.Lines(g.output()) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if _, ok := m["request_id"]; ok {
			out = append(out, m)
		}
	}
	return out
}

// policyConfig is a config with route /api/<label> (plus routeExtra, indented
// YAML), an unpoliced route /free/<label> to the same backend (for waiting
// and for side channels such as the testapp's hit counter), and backend b
// matching app_name=<label> (plus backendExtra).
func policyConfig(label, routeExtra, backendExtra string) string {
	return fmt.Sprintf(`routes:
  - path_prefix: /api/%[1]s
    backend: b
%[2]s  - path_prefix: /free/%[1]s
    backend: b
default_response:
  body: "no route"
  status_code: 404
backends:
  - name: b
    match_labels: [app_name=%[1]s]
%[3]s`, label, routeExtra, backendExtra)
}
