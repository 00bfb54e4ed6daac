package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
	"github.com/rgate/rgate/internal/reqid"
	"github.com/rgate/rgate/internal/stats"
	"github.com/rgate/rgate/internal/upstream"
)

// newGateway serves routes /a -> backend a (urls) and /slow -> a with a
// short timeout, /none -> a backend with no upstreams.
func newGateway(t testing.TB, urls ...string) (*Gateway, *stats.Store) {
	t.Helper()
	cfg := &config.Config{
		Routes: []config.Route{
			{PathPrefix: "/a", Backend: "a"},
			{PathPrefix: "/slow", Backend: "a", Timeout: config.Duration(100 * time.Millisecond)},
			{PathPrefix: "/none", Backend: "none"},
		},
		DefaultResponse: config.DefaultResponse{Body: "This is not reachable", StatusCode: 403},
		Backends: []config.Backend{
			{Name: "a", URLs: urls},
			{Name: "none", MatchLabels: []string{"app=none"}},
		},
	}
	st := stats.NewStore()
	g := New(cfg, Options{Stats: st})
	t.Cleanup(g.Close)
	return g, st
}

func serve(g http.Handler, r *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, r)
	return rec.Result()
}

func echoBackend(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		if d := r.URL.Query().Get("sleep"); d != "" {
			dur, _ := time.ParseDuration(d)
			select {
			case <-time.After(dur):
			case <-r.Context().Done():
				return
			}
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"path": r.URL.Path, "query": r.URL.RawQuery, "method": r.Method, "host": r.Host,
			"headers": r.Header, "body": string(b),
		})
	}))
	t.Cleanup(s.Close)
	return s
}

func TestDefaultResponse(t *testing.T) {
	t.Parallel()
	g, st := newGateway(t)
	res := serve(g, httptest.NewRequest("GET", "/nothing/here", nil))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 403 || string(body) != "This is not reachable" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
	if res.Header.Get(reqid.Header) == "" {
		t.Error("no request id on default response")
	}
	if s := st.Global().Summary(); s.Error != 1 || s.Success != 0 {
		t.Errorf("stats = %+v, want 1 error", s)
	}
}

func TestNoUpstream503(t *testing.T) {
	t.Parallel()
	g, st := newGateway(t)
	res := serve(g, httptest.NewRequest("GET", "/none/x", nil))
	var body map[string]string
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != 503 || body["request_id"] != res.Header.Get(reqid.Header) || body["error"] == "" {
		t.Fatalf("got %d %v", res.StatusCode, body)
	}
	if s := st.Route("/none").Summary(); s.Error != 1 {
		t.Errorf("route stats = %+v", s)
	}
}

func TestPassThroughAndForwardedHeaders(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "one")
	g, _ := newGateway(t, be.URL)
	r := httptest.NewRequest("POST", "http://gw.example/a/b%20c?x=1&y=2", strings.NewReader("hello"))
	r.RemoteAddr = "192.0.2.7:5555"
	r.Header.Set("X-Custom", "v")
	r.Header.Set("X-Forwarded-For", "6.6.6.6") // spoofed: must not be trusted
	r.Header.Set("Connection", "X-Secret")
	r.Header.Set("X-Secret", "strip me")
	r.Header.Set(reqid.Header, "client-id-1")
	res := serve(g, r)
	var got struct {
		Path, Query, Method, Host, Body string
		Headers                         http.Header
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || got.Path != "/a/b c" || got.Query != "x=1&y=2" || got.Method != "POST" || got.Body != "hello" {
		t.Fatalf("got %d %+v", res.StatusCode, got)
	}
	if got.Host != "gw.example" {
		t.Errorf("Host = %q, want the client's", got.Host)
	}
	h := got.Headers
	for k, want := range map[string]string{
		"X-Custom": "v", "X-Forwarded-For": "192.0.2.7", "X-Forwarded-Host": "gw.example",
		"X-Forwarded-Proto": "http", "X-Request-Id": "client-id-1", "X-Secret": "",
	} {
		if h.Get(k) != want {
			t.Errorf("upstream header %s = %q, want %q", k, h.Get(k), want)
		}
	}
	if res.Header.Get(reqid.Header) != "client-id-1" || res.Header.Get("X-Backend") != "one" {
		t.Errorf("response headers = %v", res.Header)
	}
}

func TestInvalidRequestIDReplaced(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "one")
	g, _ := newGateway(t, be.URL)
	r := httptest.NewRequest("GET", "/a", nil)
	r.Header.Set(reqid.Header, strings.Repeat("x", 500))
	res := serve(g, r)
	if id := res.Header.Get(reqid.Header); len(id) != 32 {
		t.Errorf("id %q, want a fresh 32-char id", id)
	}
}

func TestRetryOnRefusedUpstream(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "alive")
	dead := deadAddr(t)
	g, _ := newGateway(t, "http://"+dead, be.URL)
	for i := range 20 { // the random first pick hits the dead one about half the time
		res := serve(g, httptest.NewRequest("GET", "/a", nil))
		if res.StatusCode != 200 || res.Header.Get("X-Backend") != "alive" {
			t.Fatalf("request %d: got %d from %q", i, res.StatusCode, res.Header.Get("X-Backend"))
		}
	}
	// a POST with a body is not replayed: some answers are 503 (a fresh
	// gateway: the first has ejected the dead upstream by now)
	g, _ = newGateway(t, "http://"+dead, be.URL)
	saw503 := false
	for range 30 {
		res := serve(g, httptest.NewRequest("POST", "/a", strings.NewReader("x")))
		if res.StatusCode == 503 {
			saw503 = true
		}
	}
	if !saw503 {
		t.Error("POST with a body was retried on another upstream")
	}
}

func TestPassiveEjection(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "alive")
	dead := deadAddr(t)
	g, _ := newGateway(t, "http://"+dead, be.URL)
	for range 40 {
		serve(g, httptest.NewRequest("GET", "/a", nil))
	}
	var deadUp *upstream.Upstream
	for _, u := range g.Table().Backend("a").Upstreams {
		if u.Host == dead {
			deadUp = u
		}
	}
	if h := deadUp.Health(); !h.Ejected {
		t.Fatalf("dead upstream not ejected after repeated refusals: %+v", h)
	}
	if reqs := deadUp.Health().Requests; reqs > 10 {
		t.Errorf("ejected upstream still got %d of 40 requests", reqs)
	}
}

func TestRetryOn503Answer(t *testing.T) {
	t.Parallel()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "failing")
		w.WriteHeader(503)
	}))
	t.Cleanup(failing.Close)
	ok := echoBackend(t, "ok")
	g, _ := newGateway(t, failing.URL, ok.URL)
	for i := range 20 {
		res := serve(g, httptest.NewRequest("GET", "/a", nil))
		if res.StatusCode != 200 || res.Header.Get("X-Backend") != "ok" {
			t.Fatalf("request %d: %d from %q, want the 503 retried on the other upstream", i, res.StatusCode, res.Header.Get("X-Backend"))
		}
	}
	// alone, the upstream's own 503 comes through unchanged
	g, _ = newGateway(t, failing.URL)
	res := serve(g, httptest.NewRequest("GET", "/a", nil))
	if res.StatusCode != 503 || res.Header.Get("X-Backend") != "failing" {
		t.Errorf("single upstream: %d from %q, want its own 503", res.StatusCode, res.Header.Get("X-Backend"))
	}
}

func TestAllRefused503(t *testing.T) {
	t.Parallel()
	g, _ := newGateway(t, "http://"+deadAddr(t), "http://"+deadAddr(t))
	start := time.Now()
	res := serve(g, httptest.NewRequest("GET", "/a", nil))
	if res.StatusCode != 503 {
		t.Fatalf("got %d, want 503", res.StatusCode)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestTimeout504(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "slow")
	g, st := newGateway(t, be.URL)
	res := serve(g, httptest.NewRequest("GET", "/slow?sleep=5s", nil))
	if res.StatusCode != 504 {
		t.Fatalf("got %d, want 504", res.StatusCode)
	}
	if s := st.Route("/slow").Summary(); s.Error != 1 {
		t.Errorf("stats %+v", s)
	}
	// the timeout bounds waiting for headers, not a slow body
	res = serve(g, httptest.NewRequest("GET", "/slow?sleep=10ms", nil))
	if res.StatusCode != 200 {
		t.Errorf("fast request got %d", res.StatusCode)
	}
}

func TestMalformedUpstream502(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = bufio.NewReader(c).ReadString('\n')
			_, _ = c.Write([]byte("garbage garbage\r\n\r\n"))
			c.Close()
		}
	}()
	g, _ := newGateway(t, "http://"+ln.Addr().String())
	res := serve(g, httptest.NewRequest("GET", "/a", nil))
	if res.StatusCode != 502 {
		t.Fatalf("got %d, want 502", res.StatusCode)
	}
}

func TestAmbiguousPaths(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "one")
	g, _ := newGateway(t, be.URL)
	for _, tc := range []struct {
		target string
		want   int
	}{
		{"/a/../none/x", 400},     // dot-segments leaving the route
		{"/a/%2e%2e/none/x", 400}, // encoded dots
		{"/a/./b", 200},           // same route after cleaning
		{"/zz/../a/x", 400},       // default response raw, routed when cleaned
		{"/a%2fb", 200},           // encoded slash, same route in every form
		{"/none%2f..%2fa", 400},   // encoded slash and dots
		{"/a/b/", 200},
	} {
		res := serve(g, httptest.NewRequest("GET", tc.target, nil))
		if res.StatusCode != tc.want {
			t.Errorf("%s: got %d, want %d", tc.target, res.StatusCode, tc.want)
		}
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	t.Parallel()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(conn, brw) // echo
	}))
	t.Cleanup(be.Close)
	g, st := newGateway(t, be.URL)
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)

	c := rawConn(t, front)
	fmt.Fprintf(c, "GET /a/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	fmt.Fprint(c, "ping-123")
	buf := make([]byte, 8)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping-123" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
	c.Close()
	deadline := time.Now().Add(2 * time.Second)
	for st.Global().Summary().Success != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := st.Global().Summary(); s.Success != 1 {
		t.Errorf("101 not counted as success: %+v", s)
	}
}

func TestSnapshotSwapsTable(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "ctr")
	_, port, _ := net.SplitHostPort(be.Listener.Addr().String())
	g, _ := newGateway(t)
	if res := serve(g, httptest.NewRequest("GET", "/none", nil)); res.StatusCode != 503 {
		t.Fatalf("before: %d", res.StatusCode)
	}
	old := g.Table()
	g.SetSnapshot(docker.Snapshot{Containers: []docker.Container{{
		ID: "abc", Name: "ctr", State: "running", NetworkMode: "host",
		Labels: map[string]string{"app": "none", "rgate.port": port},
	}}})
	if g.Table() == old {
		t.Fatal("table not swapped")
	}
	if res := serve(g, httptest.NewRequest("GET", "/none", nil)); res.StatusCode != 200 {
		t.Fatalf("after: %d", res.StatusCode)
	}
	if len(old.Backend("none").Upstreams) != 0 {
		t.Error("old table was mutated")
	}
}

// rawConn dials s for hand-written HTTP, with a deadline so a test cannot
// hang; the connection is closed when the test ends.
func rawConn(t *testing.T, s *httptest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

func deadAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func BenchmarkServeHTTP(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer be.Close()
	g, _ := newGateway(b, be.URL)
	front := httptest.NewServer(g)
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := client.Get(front.URL + "/a/x")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}

// BenchmarkHandler measures the gateway's own work per request (lookup,
// request id, writer, stats, proxy) without client-side HTTP.
func BenchmarkHandler(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer be.Close()
	g, _ := newGateway(b, be.URL)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("GET", "/a/x", nil)
			g.ServeHTTP(discardWriter{h: http.Header{}}, r)
		}
	})
}

func BenchmarkDefaultResponse(b *testing.B) {
	g, _ := newGateway(b)
	r := httptest.NewRequest("GET", "/nothing", nil)
	w := discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		g.ServeHTTP(w, r)
	}
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

func TestConnectionHeaderCannotStripAddedHeaders(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "one")
	g, _ := newGateway(t, be.URL)
	r := httptest.NewRequest("GET", "/a", nil)
	r.Header.Set("Connection", "X-Request-Id, X-Forwarded-For, X-Forwarded-Proto")
	res := serve(g, r)
	var got struct{ Headers http.Header }
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto"} {
		if got.Headers.Get(h) == "" {
			t.Errorf("%s stripped by the client's Connection header", h)
		}
	}
	if got.Headers.Get("X-Request-Id") != res.Header.Get("X-Request-Id") {
		t.Error("upstream and client see different request ids")
	}
}

func TestChunkedRequestClosesConnection(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "one")
	g, _ := newGateway(t, be.URL)
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)
	c := rawConn(t, front)
	// Content-Length and Transfer-Encoding together, and a second request
	// hidden where the Content-Length framing would end the first
	fmt.Fprint(c, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /a/smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
	all, _ := io.ReadAll(c) // returns when the gateway closes the connection
	if n := strings.Count(string(all), "HTTP/1.1 "); n != 1 {
		t.Errorf("got %d answers, want 1 and the connection closed:\n%s", n, all)
	}
	if strings.Contains(string(all), "smuggled") {
		t.Error("the hidden request was served")
	}
}

func TestRequestsOnAContainerThatLeavesAreRetried(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a paused container: accepts, never answers
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); hung.Close() })
	ok := echoBackend(t, "ok")
	port := func(s *httptest.Server) string { _, p, _ := net.SplitHostPort(s.Listener.Addr().String()); return p }
	ctr := func(id string, s *httptest.Server) docker.Container {
		return docker.Container{ID: id, Name: id, State: "running", NetworkMode: "host",
			Labels: map[string]string{"app": "none", "rgate.port": port(s)}}
	}
	g, _ := newGateway(t)
	g.SetSnapshot(docker.Snapshot{Containers: []docker.Container{ctr("hung", hung), ctr("ok", ok)}})
	for _, u := range g.Table().Backend("none").Upstreams {
		u.SetReady() // skip warm-up: both ports accept
	}

	const n = 12
	codes := make(chan int, n)
	for range n {
		go func() { codes <- serve(g, httptest.NewRequest("GET", "/none/x", nil)).StatusCode }()
	}
	time.Sleep(200 * time.Millisecond) // let some requests reach the hung one; not an assertion
	start := time.Now()
	g.SetSnapshot(docker.Snapshot{Containers: []docker.Container{ctr("ok", ok)}}) // "hung" was paused
	for range n {
		select {
		case c := <-codes:
			if c != 200 {
				t.Errorf("status %d, want 200 from the remaining container", c)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a request stayed stuck on the container that left the pool")
		}
	}
	t.Logf("all requests answered %v after the container left", time.Since(start))
}
