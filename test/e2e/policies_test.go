package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStripPrefix: a route with strip_prefix sends the rest of the path
// (at least "/") with the query; a route without it sends the whole path.
func TestStripPrefix(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "stripped", map[string]string{"app_name": label})
	g := startGateway(t, policyConfig(label, "    strip_prefix: true\n", ""))
	g.waitBackend(t, "/free/"+label+"/x", c.name, 5*time.Second)
	for _, tc := range []struct {
		path, wantPath, wantQuery string
	}{
		{"/api/" + label + "/charge?id=7", "/charge", "id=7"},
		{"/api/" + label + "/a/b/c", "/a/b/c", ""},
		{"/api/" + label + "/", "/", ""},
		{"/api/" + label, "/", ""},
		{"/api/" + label + "?q=1", "/", "q=1"},
		{"/free/" + label + "/charge?id=7", "/free/" + label + "/charge", "id=7"},
	} {
		e := decodeEcho(t, g.get(t, tc.path))
		if e.Path != tc.wantPath || e.RawQuery != tc.wantQuery {
			t.Errorf("GET %s reached %q ? %q, want %q ? %q", tc.path, e.Path, e.RawQuery, tc.wantPath, tc.wantQuery)
		}
	}
}

// TestRetryOn503Answer: with retries: 1, an idempotent request answered 503
// by one container is sent again to the other one; a POST is not retried,
// nor is anything on a route with retries: 0.
func TestRetryOn503Answer(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	good := runContainer(t, "good", map[string]string{"app_name": label})
	bad := runContainer(t, "bad", map[string]string{"app_name": label}, "FAIL_STATUS=503")
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /retry/%[1]s
    backend: b
    retries: 1
  - path_prefix: /once/%[1]s
    backend: b
    retries: 0
backends:
  - name: b
    match_labels: [app_name=%[1]s]
`, label))
	g.waitBackend(t, "/retry/"+label+"/x", good.name, 5*time.Second)

	for i := range 30 {
		m := []string{http.MethodGet, http.MethodHead, http.MethodDelete}[i%3]
		r := g.do(t, g.request(t, m, "/retry/"+label+"/x", nil))
		if r.status != http.StatusOK || r.backend() != good.name {
			t.Fatalf("%s #%d with retries: 1 = %d from %q, want 200 from %s (retried past %s's 503)",
				m, i+1, r.status, r.backend(), good.name, bad.name)
		}
	}
	// Random balancing: 30 tries miss the failing container with
	// probability 2^-30.
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/retry/" + label + "/x"},
		{http.MethodGet, "/once/" + label + "/x"},
	} {
		seen := map[string]int{}
		for range 30 {
			var body io.Reader
			if tc.method == http.MethodPost {
				body = strings.NewReader("body")
			}
			r := g.do(t, g.request(t, tc.method, tc.path, body))
			seen[strconv.Itoa(r.status)+" "+r.backend()]++
		}
		if seen["503 "+bad.name] == 0 || seen["200 "+good.name] == 0 || len(seen) != 2 {
			t.Errorf("30 %s %s: answers %v, want some 503 from %s (not retried) and some 200 from %s",
				tc.method, tc.path, seen, bad.name, good.name)
		}
	}
}

// TestMaxBodyBytes: a body over max_body_bytes is refused with a JSON 413,
// whether its length is declared or it is chunked; a body at the limit
// passes whole.
func TestMaxBodyBytes(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "upload", map[string]string{"app_name": label})
	g := startGateway(t, policyConfig(label, "    max_body_bytes: 1KiB\n", ""))
	g.waitBackend(t, "/free/"+label+"/x", c.name, 5*time.Second)
	path := "/api/" + label + "/upload"
	for _, tc := range []struct {
		name    string
		n       int64
		chunked bool
		want    int
	}{
		{"at the limit", 1024, false, http.StatusOK},
		{"one byte over", 1025, false, http.StatusRequestEntityTooLarge},
		{"far over", 64 << 10, false, http.StatusRequestEntityTooLarge},
		{"chunked at the limit", 1024, true, http.StatusOK},
		{"chunked over", 5000, true, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not a *bytes.Reader: the client does not know the length
			// by itself, so ContentLength -1 sends it chunked.
			req := g.request(t, http.MethodPost, path, &patternReader{n: tc.n})
			req.ContentLength = tc.n
			if tc.chunked {
				req.ContentLength = -1
			}
			r, err := g.tryDo(req)
			if err != nil {
				t.Fatalf("POST %d bytes: %v", tc.n, err)
			}
			if r.status != tc.want {
				t.Fatalf("POST %d bytes (chunked %v) = %d, want %d; body %q", tc.n, tc.chunked, r.status, tc.want, r.body)
			}
			if tc.want != http.StatusOK {
				checkErrorBody(t, r)
				return
			}
			var u struct {
				BodyLen    int64  `json:"body_len"`
				BodySHA256 string `json:"body_sha256"`
			}
			if err := json.Unmarshal(r.body, &u); err != nil || u.BodyLen != tc.n || u.BodySHA256 != patternSHA256(tc.n) {
				t.Errorf("container got %+v (%v), want %d pattern bytes", u, err, tc.n)
			}
		})
	}
}

// TestHeaderRules: request and response headers are removed and set as
// configured (set replaces what the client or the container sent).
func TestHeaderRules(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "headers", map[string]string{"app_name": label})
	g := startGateway(t, policyConfig(label, `    headers:
      request:  {set: {X-Env: prod}, remove: [X-Debug]}
      response: {set: {Strict-Transport-Security: "max-age=31536000", X-Frame-Options: DENY}, remove: [Server, X-Internal]}
`, ""))
	g.waitBackend(t, "/free/"+label+"/x", c.name, 5*time.Second)

	q := url.Values{"h": {"Server:testapp/1.0", "X-Internal:secret", "X-Frame-Options:SAMEORIGIN", "X-Kept:yes"}}
	r := g.getH(t, "/api/"+label+"/respond?"+q.Encode(), "X-Env", "dev", "X-Debug", "1", "X-Other", "o")
	e := decodeEcho(t, r)
	for name, want := range map[string]string{"X-Env": "prod", "X-Debug": "", "X-Other": "o"} {
		if got := e.header(name); got != want {
			t.Errorf("container saw %s %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]string{
		"Strict-Transport-Security": "max-age=31536000",
		"X-Frame-Options":           "DENY",
		"Server":                    "",
		"X-Internal":                "",
		"X-Kept":                    "yes",
	} {
		if got := strings.Join(r.header.Values(name), ", "); got != want {
			t.Errorf("client got %s %q, want %q", name, got, want)
		}
	}
	// The route without rules passes everything.
	r = g.getH(t, "/free/"+label+"/respond?"+q.Encode(), "X-Debug", "1")
	if e := decodeEcho(t, r); e.header("X-Debug") != "1" || r.header.Get("Server") != "testapp/1.0" {
		t.Errorf("route without header rules: container saw X-Debug %q, client got Server %q; want both passed",
			e.header("X-Debug"), r.header.Get("Server"))
	}
}

// TestCORS: the gateway answers an allowed preflight itself with 204 and the
// configured Access-Control-* headers; an actual request from an allowed
// origin gets Access-Control-Allow-Origin, one from another origin does not.
func TestCORS(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "cors", map[string]string{"app_name": label})
	const origin = "https://app.example.com"
	g := startGateway(t, policyConfig(label, `    cors: {allow_origins: ["`+origin+`"], allow_methods: [GET, POST], allow_headers: [Authorization], max_age: 10m}
`, ""))
	g.waitBackend(t, "/free/"+label+"/x", c.name, 5*time.Second)
	path := "/api/" + label + "/x"
	before := g.upstreamHits(t, "/free/"+label+"/hits")

	pre := g.do(t, g.requestH(t, http.MethodOptions, path, nil, "Origin", origin,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization"))
	if pre.status != http.StatusNoContent || pre.backend() != "" {
		t.Fatalf("preflight = %d from %q, want 204 from the gateway", pre.status, pre.backend())
	}
	if got := pre.header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("preflight: Access-Control-Allow-Origin %q, want %q", got, origin)
	}
	methods := strings.ToUpper(strings.Join(pre.header.Values("Access-Control-Allow-Methods"), ","))
	if !strings.Contains(methods, "GET") || !strings.Contains(methods, "POST") {
		t.Errorf("preflight: Access-Control-Allow-Methods %q, want GET and POST", methods)
	}
	if got := strings.ToLower(strings.Join(pre.header.Values("Access-Control-Allow-Headers"), ",")); !strings.Contains(got, "authorization") {
		t.Errorf("preflight: Access-Control-Allow-Headers %q, want Authorization", got)
	}
	if got := pre.header.Get("Access-Control-Max-Age"); got != "600" {
		t.Errorf("preflight: Access-Control-Max-Age %q, want 600", got)
	}
	if after := g.upstreamHits(t, "/free/"+label+"/hits"); after != before {
		t.Errorf("preflight reached the container (%d requests)", after-before)
	}

	r := g.getH(t, path, "Origin", origin)
	if r.status != http.StatusOK || r.backend() != c.name || r.header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("GET from %s = %d from %q with Access-Control-Allow-Origin %q, want 200 from %s with %q",
			origin, r.status, r.backend(), r.header.Get("Access-Control-Allow-Origin"), c.name, origin)
	}
	if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
		t.Errorf("GET from %s: Vary %q, want it to name Origin", origin, r.header.Values("Vary"))
	}
	evil := g.getH(t, path, "Origin", "https://evil.example.com")
	if got := evil.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("GET from another origin: Access-Control-Allow-Origin %q, want none", got)
	}
	evilPre := g.do(t, g.requestH(t, http.MethodOptions, path, nil, "Origin", "https://evil.example.com",
		"Access-Control-Request-Method", "POST"))
	if got := evilPre.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight from another origin = %d with Access-Control-Allow-Origin %q, want none", evilPre.status, got)
	}
}

// TestResponseHeaders: every proxied answer, whatever its status, carries
// X-Request-Id (the one the container saw), X-Response-Time and X-Service
// (the backend name); with the access log off no access line is printed.
func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "svc", map[string]string{"app_name": label})
	g := startGateway(t, oneBackend(label, ""))
	base := "/api/" + label
	g.waitBackend(t, base+"/x", c.name, 5*time.Second)
	for _, p := range []string{"/x", "/status?code=500", "/status?code=404", "/bytes?n=10"} {
		r := g.get(t, base+p)
		checkProxyHeaders(t, "GET "+p, r, "b")
	}
	r := g.get(t, base+"/echo")
	if seen := decodeEcho(t, r).header("X-Request-Id"); seen != r.header.Get("X-Request-Id") {
		t.Errorf("X-Request-Id: container saw %q, client got %q; want the same", seen, r.header.Get("X-Request-Id"))
	}
	if lines := g.accessLogLines(); len(lines) != 0 {
		t.Errorf("access log off, yet %d access lines printed, e.g. %v", len(lines), lines[0])
	}
}

func checkProxyHeaders(t *testing.T, what string, r reply, backend string) {
	t.Helper()
	if r.header.Get("X-Request-Id") == "" {
		t.Errorf("%s (%d): no X-Request-Id", what, r.status)
	}
	if got := r.header.Get("X-Service"); got != backend {
		t.Errorf("%s (%d): X-Service %q, want %q", what, r.status, got, backend)
	}
	if rt := r.header.Get("X-Response-Time"); !validResponseTime(rt) {
		t.Errorf("%s (%d): X-Response-Time %q, want a duration such as 1.2ms", what, r.status, rt)
	}
}

// validResponseTime accepts a Go duration ("1.234ms") or a number of
// milliseconds ("1.234" or "1.234ms").
func validResponseTime(v string) bool {
	if d, err := time.ParseDuration(v); err == nil {
		return d >= 0 && d < time.Minute
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "ms"), 64)
	return err == nil && f >= 0 && f < 60000
}

// TestAccessLog: with access_log enabled, each request prints one JSON line
// with its id, method, path, route, backend, container, status, bytes,
// duration, cache result and retry count.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	c := runContainer(t, "logged", map[string]string{"app_name": label})
	g := startGateway(t, "access_log: {enabled: true}\n"+oneBackend(label, ""))
	base := "/api/" + label
	g.waitBackend(t, base+"/x", c.name, 5*time.Second)

	r := g.get(t, base+"/bytes?n=123")
	id := r.header.Get("X-Request-Id")
	nf := g.get(t, "/nowhere")
	nfID := nf.header.Get("X-Request-Id")
	var line, nfLine map[string]any
	eventually(t, 2*time.Second, "access log lines of "+id+" and "+nfID, func() bool {
		line, nfLine = nil, nil
		for _, l := range g.accessLogLines() {
			switch l["request_id"] {
			case id:
				if line != nil {
					t.Fatalf("two access lines for request %s:\n%v\n%v", id, line, l)
				}
				line = l
			case nfID:
				nfLine = l
			}
		}
		return line != nil && (nfID == "" || nfLine != nil)
	})
	want := map[string]any{
		"method": "GET", "route": "/api/" + label, "backend": "b",
		"status": float64(200), "bytes": float64(123), "retries": float64(0),
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access line %q = %#v, want %#v (line %v)", k, line[k], v, line)
		}
	}
	if p, _ := line["path"].(string); !strings.HasPrefix(p, base+"/bytes") {
		t.Errorf("access line path = %q, want %s/bytes", p, base)
	}
	if ct, _ := line["container"].(string); strings.TrimPrefix(ct, "/") != c.name {
		t.Errorf("access line container = %q, want %s", ct, c.name)
	}
	if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("access line duration_ms = %#v, want a number", line["duration_ms"])
	}
	if ts, _ := line["time"].(string); ts == "" {
		t.Errorf("access line has no time: %v", line)
	}
	if _, ok := line["cache"]; !ok {
		t.Errorf("access line has no cache field: %v", line)
	}
	if nfLine != nil && nfLine["status"] != float64(http.StatusNotFound) {
		t.Errorf("access line of the unrouted request: status %#v, want 404 (line %v)", nfLine["status"], nfLine)
	}
}
