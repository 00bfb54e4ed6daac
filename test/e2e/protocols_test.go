package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// protocolClient is one way to reach rgate: a client and the base URL it
// sends to.
type protocolClient struct {
	name, base string
	tls        bool
	major      int
	client     *http.Client
}

// protocolClients are HTTP/1.1 on the plain port, HTTPS with HTTP/1.1,
// HTTP/2 over TLS and h2c (prior knowledge) on the plain port.
func protocolClients(t *testing.T, plainPort, tlsPort int, roots *tls.Config) []protocolClient {
	t.Helper()
	dialTo := func(port int) func(context.Context, string, string) (net.Conn, error) {
		return func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(port))
		}
	}
	mk := func(port int, set func(*http.Protocols)) *http.Client {
		tr := &http.Transport{TLSClientConfig: roots.Clone(), DialContext: dialTo(port), Protocols: new(http.Protocols)}
		set(tr.Protocols)
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	plain := fmt.Sprintf("http://127.0.0.1:%d", plainPort)
	secure := fmt.Sprintf("https://%s:%d", roots.ServerName, tlsPort)
	return []protocolClient{
		{"http1", plain, false, 1, mk(plainPort, func(p *http.Protocols) { p.SetHTTP1(true) })},
		{"https1", secure, true, 1, mk(tlsPort, func(p *http.Protocols) { p.SetHTTP1(true) })},
		{"h2", secure, true, 2, mk(tlsPort, func(p *http.Protocols) { p.SetHTTP2(true) })},
		{"h2c", plain, false, 2, mk(plainPort, func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) })},
	}
}

// TestPoliciesOverEveryProtocol: the same sequence of requests, sent over
// HTTP/1.1, HTTPS, HTTP/2 over TLS and h2c, each to a route and backend of
// its own with the same policies, gets the same answers: header rules both
// ways, CORS (preflight answered by rgate, the allowed origin echoed), the
// cache (MISS then HIT, one upstream request), the breaker (three upstream
// 500s open it, then 503 without reaching the upstream), the rate limit
// (RateLimit-* on every answer, 429 once the bucket is empty), request ids
// (the one the upstream saw), /stats per route, one access-log line per
// request, and /explain asked over that protocol. X-Forwarded-Proto is
// https exactly for the TLS clients.
func TestPoliciesOverEveryProtocol(t *testing.T) {
	t.Parallel()
	var cachedHits, failHits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Server", "upstream/1")
		h.Set("X-Saw-Env", r.Header.Get("X-Env"))
		h.Set("X-Saw-Debug", r.Header.Get("X-Debug"))
		h.Set("X-Saw-Proto", r.Header.Get("X-Forwarded-Proto"))
		h.Set("X-Saw-Id", r.Header.Get("X-Request-Id"))
		switch {
		case strings.HasSuffix(r.URL.Path, "/cached"):
			h.Set("Cache-Control", "max-age=60")
			fmt.Fprintf(w, "cached %d", cachedHits.Add(1))
		case strings.HasSuffix(r.URL.Path, "/fail"):
			failHits.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		default:
			_, _ = w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(up.Close)

	ca, dir := newTestCA(t), t.TempDir()
	cert, key := ca.issue(t, dir, "p", 40, false, "proto.example.test")
	tlsPort := freePort(t)
	names := []string{"http1", "https1", "h2", "h2c"} // as protocolClients

	var cfg strings.Builder
	fmt.Fprintf(&cfg, "access_log: {enabled: true}\nserver:\n  h2c: true\n  tls:\n    port: %d\n    certificates:\n      - {cert_file: %s, key_file: %s}\nroutes:\n", tlsPort, cert, key)
	for _, name := range names {
		fmt.Fprintf(&cfg, `  - path_prefix: /%[1]s
    backend: b-%[1]s
    retries: 0
    rate_limit: {default: {requests: 8, per: 1h}}
    cache: {ttl: 30s}
    headers:
      request:  {set: {X-Env: prod}, remove: [X-Debug]}
      response: {set: {X-Frame-Options: DENY}, remove: [Server]}
    cors: {allow_origins: ["https://app.example.com"], allow_methods: [GET, POST]}
`, name)
	}
	cfg.WriteString("default_response: {body: \"no route\", status_code: 404}\nbackends:\n")
	for _, name := range names {
		fmt.Fprintf(&cfg, "  - name: b-%s\n    urls: [%s]\n    circuit_breaker: {failures: 3, window: 1m, min_requests: 3, open_for: 1h}\n", name, up.URL)
	}
	g := startGateway(t, cfg.String())
	clients := protocolClients(t, g.port, tlsPort, &tls.Config{RootCAs: ca.pool, ServerName: "proto.example.test"})

	const origin = "https://app.example.com"
	var observed []string
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			o := runPolicySequence(t, g, c, origin, &cachedHits, &failHits)
			observed = append(observed, o)
		})
	}
	for i := 1; i < len(observed); i++ {
		if observed[i] != observed[0] {
			t.Errorf("%s answered differently from %s:\n%s\nwant\n%s", clients[i].name, clients[0].name, observed[i], observed[0])
		}
	}
}

// runPolicySequence sends the sequence over c and checks each answer; it
// returns what was observed with the protocol's names taken out, for
// comparing protocols.
func runPolicySequence(t *testing.T, g *gw, c protocolClient, origin string, cachedHits, failHits *atomic.Int64) string {
	base := "/" + c.name
	var log []string
	var statuses []int
	send := func(method, path string, kv ...string) reply {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, c.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(kv); i += 2 {
			req.Header.Set(kv[i], kv[i+1])
		}
		res, err := c.client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		r, err := doWithResponse(res)
		if err != nil {
			t.Fatalf("%s %s: reading: %v", method, path, err)
		}
		if res.ProtoMajor != c.major || (res.TLS != nil) != c.tls {
			t.Fatalf("%s %s: answered over %s (TLS %v), want HTTP/%d (TLS %v)", method, path, res.Proto, res.TLS != nil, c.major, c.tls)
		}
		if strings.HasPrefix(path, base+"/") {
			statuses = append(statuses, r.status)
		}
		h := r.header
		// Bodies without what differs by design: the upstream's counter,
		// request ids.
		body := requestIDInBody.ReplaceAllString(string(r.body), "ID")
		body = strings.TrimRight(body, "0123456789")
		log = append(log, fmt.Sprintf("%s %s -> %d body=%q cache=%q ratelimit=%s/%s acao=%q xfo=%q server=%q service=%v retry-after=%v id=%v",
			method, strings.TrimPrefix(path, base), r.status, body, h.Get("X-Cache"), h.Get("RateLimit-Limit"), h.Get("RateLimit-Remaining"),
			h.Get("Access-Control-Allow-Origin"), h.Get("X-Frame-Options"), h.Get("Server"),
			h.Get("X-Service") == "b-"+c.name, h.Get("Retry-After") != "", h.Get("X-Request-Id") != ""))
		return r
	}

	wantProto := "http"
	if c.tls {
		wantProto = "https"
	}
	e := send("GET", base+"/echo", "X-Env", "dev", "X-Debug", "1", "Origin", origin)
	if e.status != 200 || e.header.Get("X-Saw-Env") != "prod" || e.header.Get("X-Saw-Debug") != "" ||
		e.header.Get("X-Frame-Options") != "DENY" || e.header.Get("Server") != "" || e.header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("GET echo: %d, header %v; want 200, X-Env set to prod, X-Debug removed, X-Frame-Options DENY, no Server, the origin allowed", e.status, e.header)
	}
	if got := e.header.Get("X-Saw-Proto"); got != wantProto {
		t.Errorf("upstream saw X-Forwarded-Proto %q, want %q", got, wantProto)
	}
	if id := e.header.Get("X-Request-Id"); id == "" || id != e.header.Get("X-Saw-Id") {
		t.Errorf("X-Request-Id %q, upstream saw %q; want one id, the same", id, e.header.Get("X-Saw-Id"))
	}
	if e.header.Get("RateLimit-Limit") != "8" || e.header.Get("RateLimit-Remaining") != "7" {
		t.Errorf("RateLimit-Limit %q Remaining %q, want 8 and 7", e.header.Get("RateLimit-Limit"), e.header.Get("RateLimit-Remaining"))
	}

	pre := send("OPTIONS", base+"/echo", "Origin", origin, "Access-Control-Request-Method", "POST")
	if pre.status != http.StatusNoContent || pre.header.Get("Access-Control-Allow-Origin") != origin || pre.header.Get("X-Saw-Id") != "" {
		t.Errorf("preflight: %d, header %v; want 204 from rgate with the origin allowed", pre.status, pre.header)
	}

	c0 := cachedHits.Load()
	m := send("GET", base+"/cached")
	h := send("GET", base+"/cached")
	if m.header.Get("X-Cache") != "MISS" || h.header.Get("X-Cache") != "HIT" || string(h.body) != string(m.body) || cachedHits.Load()-c0 != 1 {
		t.Errorf("cache: %q %q then %q %q, %d upstream requests; want MISS, HIT with the same body, 1 request",
			m.header.Get("X-Cache"), m.body, h.header.Get("X-Cache"), h.body, cachedHits.Load()-c0)
	}

	f0 := failHits.Load()
	for i := range 3 {
		if r := send("GET", base+"/fail"); r.status != 500 {
			t.Errorf("fail %d: %d, want the upstream's 500", i, r.status)
		}
	}
	if r := send("GET", base+"/fail"); r.status != 503 || r.header.Get("Retry-After") == "" || failHits.Load()-f0 != 3 {
		t.Errorf("after 3 failures: %d (Retry-After %q), %d upstream requests; want 503 with Retry-After from the open breaker, 3 requests",
			r.status, r.header.Get("Retry-After"), failHits.Load()-f0)
	}

	// The cache still answers with the breaker open; the ninth request
	// finds the bucket empty.
	if r := send("GET", base+"/cached"); r.status != 200 || r.header.Get("X-Cache") != "HIT" || r.header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("cached with the breaker open: %d %q remaining %q, want 200 HIT remaining 0", r.status, r.header.Get("X-Cache"), r.header.Get("RateLimit-Remaining"))
	}
	limited := send("GET", base+"/echo")
	if limited.status != http.StatusTooManyRequests || limited.header.Get("Retry-After") == "" {
		t.Errorf("ninth request: %d (Retry-After %q), want 429 with Retry-After", limited.status, limited.header.Get("Retry-After"))
	}

	// /stats, the access log and /explain, each asked over this protocol.
	var success, errs int64
	for _, s := range statuses {
		if s >= 200 && s < 400 {
			success++
		} else if s > 399 {
			errs++
		}
	}
	st := send("GET", "/stats")
	var stats statsReply
	if err := json.Unmarshal(st.body, &stats); err != nil {
		t.Fatalf("/stats: %v", err)
	}
	rc, _ := jsonAt(stats.Routes[base], "requests_count")
	gotS, _ := jsonAt(rc, "success")
	gotE, _ := jsonAt(rc, "error")
	if gotS != float64(success) || gotE != float64(errs) {
		t.Errorf("/stats routes[%s]: success %v error %v, want %d and %d (statuses %v)", base, gotS, gotE, success, errs, statuses)
	}
	var lines []string
	eventually(t, 3*time.Second, "an access-log line per request of "+base, func() bool {
		lines = lines[:0]
		for _, l := range g.accessLogLines() {
			if l["route"] == base {
				lines = append(lines, fmt.Sprint(l["method"], " ", l["status"]))
			}
		}
		return len(lines) >= len(statuses)
	})
	if len(lines) != len(statuses) {
		t.Errorf("access log: %d lines for %s, want %d: %v", len(lines), base, len(statuses), lines)
	}
	ex := send("GET", "/explain?path="+base+"/echo")
	var exp explanation
	if err := json.Unmarshal(ex.body, &exp); err != nil || ex.status != 200 || exp.Backend == nil || exp.Backend.Name != "b-"+c.name {
		t.Errorf("/explain over %s: %d %s, want the route's backend b-%s", c.name, ex.status, ex.body, c.name)
	}
	log = log[:len(log)-2] // /stats and /explain carry this protocol's names
	log = append(log, fmt.Sprintf("stats %v/%v access lines %v", gotS, gotE, lines))
	return strings.Join(log, "\n")
}

var requestIDInBody = regexp.MustCompile(`[0-9a-f]{32}`)

// doWithResponse reads res whole into a reply.
func doWithResponse(res *http.Response) (reply, error) {
	b, err := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: b, trailer: res.Trailer}, err
}
