package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// echo is the testapp's JSON echo of a request.
type echo struct {
	Name       string              `json:"name"`
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RawQuery   string              `json:"raw_query"`
	Headers    map[string][]string `json:"headers"`
	BodyLen    int64               `json:"body_len"`
	BodySHA256 string              `json:"body_sha256"`
	Host       string              `json:"host"`
}

func decodeEcho(t *testing.T, r reply) echo {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %q", r.status, r.body)
	}
	var e echo
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("decoding echo %q: %v", r.body, err)
	}
	return e
}

func (e echo) header(name string) string {
	return strings.Join(e.Headers[http.CanonicalHeaderKey(name)], ", ")
}

// TestSeedConfig runs the seed config of the spec (with a unique env label
// so parallel tests do not meet) end to end.
func TestSeedConfig(t *testing.T) {
	t.Parallel()
	env := uniq(t)
	payment := runContainer(t, "payment", map[string]string{"app_name": "payment", "env": env})
	orders := runContainer(t, "orders", map[string]string{"app_name": "orders", "env": env})
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /api/payment
    backend: payment
  - path_prefix: /api/orders
    backend: orders
default_response:
  body: "This is not reachable"
  status_code: 403
backends:
  - name: payment
    match_labels:
      - app_name=payment
      - env=%[1]s
  - name: orders
    match_labels:
      - app_name=orders
      - env=%[1]s
`, env))

	g.waitBackend(t, "/api/payment/charge", payment.name, 5*time.Second)
	if e := decodeEcho(t, g.get(t, "/api/payment/charge?id=7")); e.Name != payment.name || e.Path != "/api/payment/charge" {
		t.Errorf("GET /api/payment/charge reached %s at %q, want %s at /api/payment/charge", e.Name, e.Path, payment.name)
	}
	if e := decodeEcho(t, g.get(t, "/api/orders/list")); e.Name != orders.name {
		t.Errorf("GET /api/orders/list reached %s, want %s", e.Name, orders.name)
	}
	r := g.get(t, "/somewhere/else")
	if r.status != http.StatusForbidden || string(r.body) != "This is not reachable" {
		t.Errorf("GET /somewhere/else = %d %q, want 403 %q", r.status, r.body, "This is not reachable")
	}
	h := g.get(t, "/health")
	if h.status != http.StatusOK || !strings.Contains(string(h.body), "payment") || !strings.Contains(string(h.body), "orders") {
		t.Errorf("GET /health = %d %q, want 200 naming both backends", h.status, h.body)
	}
	g.stats(t).counts(t)
}

// TestLongestPrefixWins: /api/payment beats /api, by plain string prefix.
func TestLongestPrefixWins(t *testing.T) {
	t.Parallel()
	u := uniq(t)
	short := runContainer(t, "short", map[string]string{"app_name": "short-" + u})
	long := runContainer(t, "long", map[string]string{"app_name": "long-" + u})
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /api
    backend: short
  - path_prefix: /api/payment
    backend: long
default_response:
  body: "no route"
  status_code: 404
backends:
  - name: short
    match_labels: [app_name=short-%[1]s]
  - name: long
    match_labels: [app_name=long-%[1]s]
`, u))
	g.waitBackend(t, "/api/payment", long.name, 5*time.Second)
	g.waitBackend(t, "/api", short.name, 5*time.Second)

	for _, tc := range []struct {
		path string
		want string
	}{
		{"/api/payment", long.name},
		{"/api/payment/x/y", long.name},
		{"/api/paymentsomething", long.name}, // a plain string prefix, not a path segment
		{"/api/pay", short.name},
		{"/api", short.name},
		{"/api/orders/1", short.name},
		{"/apix", short.name},
	} {
		r := g.get(t, tc.path)
		if r.status != http.StatusOK || r.backend() != tc.want {
			t.Errorf("GET %s: status %d from %q, want 200 from %q", tc.path, r.status, r.backend(), tc.want)
		}
	}
	if r := g.get(t, "/ap"); r.status != http.StatusNotFound || string(r.body) != "no route" {
		t.Errorf("GET /ap = %d %q, want the default 404 %q", r.status, r.body, "no route")
	}
}

// oneBackend is a config with one route /api/<label> to one backend matching
// app_name=<label>, plus the given extra route options (indented YAML).
func oneBackend(label, routeExtra string) string {
	return fmt.Sprintf(`routes:
  - path_prefix: /api/%[1]s
    backend: b
%[2]sdefault_response:
  body: "no route"
  status_code: 404
backends:
  - name: b
    match_labels: [app_name=%[1]s]
`, label, routeExtra)
}

// TestPassThrough: method, path, query, body and headers reach the backend,
// with X-Forwarded-For/Host/Proto and X-Request-Id added.
func TestPassThrough(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "echo", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	base := "/api/" + label
	g.waitBackend(t, base+"/ready", c.name, 5*time.Second)

	t.Run("request", func(t *testing.T) {
		body := "payload " + randHex(16)
		req := g.request(t, http.MethodPut, base+"/some/deep/path?a=1&b=two%20words&a=3", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		req.Header.Set("X-Custom", "custom value")
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		req.Header.Set("Authorization", "Bearer abc")
		e := decodeEcho(t, g.do(t, req))
		sum := sha256.Sum256([]byte(body))
		for _, f := range []struct{ name, got, want string }{
			{"method", e.Method, http.MethodPut},
			{"path", e.Path, base + "/some/deep/path"},
			{"raw_query", e.RawQuery, "a=1&b=two%20words&a=3"},
			{"body_len", strconv.FormatInt(e.BodyLen, 10), strconv.Itoa(len(body))},
			{"body_sha256", e.BodySHA256, hex.EncodeToString(sum[:])},
			{"Content-Type", e.header("Content-Type"), "text/plain; charset=utf-8"},
			{"X-Custom", e.header("X-Custom"), "custom value"},
			{"X-Multi", e.header("X-Multi"), "one, two"},
			{"Authorization", e.header("Authorization"), "Bearer abc"},
			{"X-Forwarded-Host", e.header("X-Forwarded-Host"), strings.TrimPrefix(g.url, "http://")},
			{"X-Forwarded-Proto", e.header("X-Forwarded-Proto"), "http"},
		} {
			if f.got != f.want {
				t.Errorf("backend saw %s %q, want %q", f.name, f.got, f.want)
			}
		}
		if xff := e.header("X-Forwarded-For"); !strings.Contains(xff, "127.0.0.1") {
			t.Errorf("backend saw X-Forwarded-For %q, want it to contain 127.0.0.1", xff)
		}
		if id := e.header("X-Request-Id"); id == "" {
			t.Errorf("backend saw no X-Request-Id")
		}
	})
	t.Run("methods", func(t *testing.T) {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
			e := decodeEcho(t, g.do(t, g.request(t, m, base+"/m", strings.NewReader("x"))))
			if e.Method != m {
				t.Errorf("backend saw method %q, want %q", e.Method, m)
			}
		}
		r := g.do(t, g.request(t, http.MethodHead, base+"/m", nil))
		if r.status != http.StatusOK || r.backend() != c.name || len(r.body) != 0 {
			t.Errorf("HEAD = %d from %q with %d body bytes, want 200 from %q with none", r.status, r.backend(), len(r.body), c.name)
		}
	})
	t.Run("backend status and headers", func(t *testing.T) {
		r := g.get(t, base+"/status?code=418")
		if r.status != http.StatusTeapot || r.backend() != c.name {
			t.Errorf("GET status?code=418 = %d from %q, want 418 from %q", r.status, r.backend(), c.name)
		}
	})
}

// TestRequestID: the gateway adds a fresh X-Request-Id and keeps a valid
// incoming one.
func TestRequestID(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "echo", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	base := "/api/" + label
	g.waitBackend(t, base+"/ready", c.name, 5*time.Second)

	a := decodeEcho(t, g.get(t, base+"/a")).header("X-Request-Id")
	b := decodeEcho(t, g.get(t, base+"/b")).header("X-Request-Id")
	if a == "" || a == b {
		t.Errorf("generated X-Request-Ids %q and %q, want two different non-empty ids", a, b)
	}

	const id = "3f2b8c1e-9a4d-4c7b-8e2f-1a2b3c4d5e6f"
	req := g.request(t, http.MethodGet, base+"/c", nil)
	req.Header.Set("X-Request-Id", id)
	if got := decodeEcho(t, g.do(t, req)).header("X-Request-Id"); got != id {
		t.Errorf("backend saw X-Request-Id %q, want the incoming %q", got, id)
	}
}

// TestRequestIDInErrorBody: a gateway-made error names the incoming id.
func TestRequestIDInErrorBody(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	g := startGateway(t, oneBackend(label, ""))
	const id = "7d1f3a52-0c6e-4b8a-9f21-5e4d3c2b1a09"
	req := g.request(t, http.MethodGet, "/api/"+label+"/x", nil)
	req.Header.Set("X-Request-Id", id)
	r := g.do(t, req)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 (no container); body %q", r.status, r.body)
	}
	var e struct {
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.RequestID != id {
		t.Errorf("error body %q: request_id %q, want %q", r.body, e.RequestID, id)
	}
}

// TestHopByHopHeadersRemoved: headers named in Connection and the standard
// hop-by-hop headers do not reach the backend; end-to-end ones do.
func TestHopByHopHeadersRemoved(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "echo", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	path := "/api/" + label + "/hop"
	g.waitBackend(t, path, c.name, 5*time.Second)

	req := g.request(t, http.MethodGet, path, nil)
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "1")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("X-Visible", "2")
	e := decodeEcho(t, g.do(t, req))
	for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Connection"} {
		if v, ok := e.Headers[h]; ok {
			t.Errorf("backend saw hop-by-hop header %s: %q, want it removed", h, v)
		}
	}
	if v := e.header("Connection"); strings.Contains(strings.ToLower(v), "x-secret") {
		t.Errorf("backend saw Connection %q, want no x-secret in it", v)
	}
	if v := e.header("X-Visible"); v != "2" {
		t.Errorf("backend saw X-Visible %q, want %q", v, "2")
	}
}

// TestDefaultResponse: unrouted paths get default_response byte for byte.
func TestDefaultResponse(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	const want = "Nope: \"quoted\" <b>ünïcödé</b> ✓\n\ttabbed line\n"
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /api/%s
    backend: b
default_response:
  body: "Nope: \"quoted\" <b>ünïcödé</b> ✓\n\ttabbed line\n"
  status_code: 451
backends:
  - name: b
    match_labels: [app_name=%[1]s]
`, label))
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/"},
		{http.MethodGet, "/nothing/here?x=1"},
		{http.MethodPost, "/api"},
		{http.MethodDelete, "/api/other"},
	} {
		r := g.do(t, g.request(t, tc.method, tc.path, strings.NewReader("ignored")))
		if r.status != 451 || string(r.body) != want {
			t.Errorf("%s %s = %d %q, want 451 %q", tc.method, tc.path, r.status, r.body, want)
		}
		if cl := r.header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(want)) {
			t.Errorf("%s %s: Content-Length %s, want %d", tc.method, tc.path, cl, len(want))
		}
	}
}

// TestStaticURLBackend: static urls serve beside matching containers, and
// alone in a backend without labels.
func TestStaticURLBackend(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	static := startProcess(t, "static")
	only := startProcess(t, "only")
	c := runContainer(t, "ctr", map[string]string{"app_name": label})
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /mixed
    backend: mixed
  - path_prefix: /static
    backend: static
default_response:
  body: "no route"
  status_code: 404
backends:
  - name: mixed
    match_labels: [app_name=%s]
    urls: [%s]
  - name: static
    urls: [%s]
`, label, static.url, only.url))

	if r := g.get(t, "/static/x"); r.status != http.StatusOK || r.backend() != only.name {
		t.Errorf("GET /static/x = %d from %q, want 200 from %q", r.status, r.backend(), only.name)
	}
	g.waitBackend(t, "/mixed/x", c.name, 5*time.Second)
	g.waitBackend(t, "/mixed/x", static.name, 5*time.Second)
	seen := g.countBackends(t, "/mixed/x", 40)
	if len(seen) != 2 || seen[c.name] == 0 || seen[static.name] == 0 {
		t.Errorf("40 GETs answered by %v, want only and both %s and %s", seen, c.name, static.name)
	}
}
