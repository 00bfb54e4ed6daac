package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// reply is a whole response.
type reply struct {
	status  int
	header  http.Header
	body    []byte
	trailer http.Header
}

func (r reply) backend() string { return r.header.Get("X-Backend-Name") }

func (g *gw) request(t *testing.T, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, g.url+path, body)
	if err != nil {
		t.Fatalf("building request %s %s: %v", method, path, err)
	}
	return req
}

// tryDo sends req and reads the whole answer.
func (g *gw) tryDo(req *http.Request) (reply, error) {
	return doWith(g.client, req)
}

func doWith(c *http.Client, req *http.Request) (reply, error) {
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body, trailer: resp.Trailer}, nil
}

// do sends req and fails the test on a transport error.
func (g *gw) do(t *testing.T, req *http.Request) reply {
	t.Helper()
	r, err := g.tryDo(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return r
}

func (g *gw) get(t *testing.T, path string) reply {
	t.Helper()
	return g.do(t, g.request(t, http.MethodGet, path, nil))
}

// stats reads GET /stats.
func (g *gw) stats(t *testing.T) statsReply {
	t.Helper()
	r := g.get(t, "/stats")
	if r.status != http.StatusOK {
		t.Fatalf("GET /stats: status %d, want 200; body %q", r.status, r.body)
	}
	var s statsReply
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatalf("GET /stats: decoding %q: %v", r.body, err)
	}
	return s
}

// statsReply is the seed part of GET /stats (pointers tell absent from 0).
type statsReply struct {
	RequestsCount *struct {
		Success *int64 `json:"success"`
		Error   *int64 `json:"error"`
	} `json:"requests_count"`
	LatencyMS *struct {
		Average *float64 `json:"average"`
		P95     *float64 `json:"p95"`
		P99     *float64 `json:"p99"`
	} `json:"latency_ms"`
	Routes   map[string]any `json:"routes"`
	Backends map[string]any `json:"backends"`
}

// counts returns success and error counts, failing when a key is missing.
func (s statsReply) counts(t *testing.T) (success, errs int64) {
	t.Helper()
	if s.RequestsCount == nil || s.RequestsCount.Success == nil || s.RequestsCount.Error == nil {
		t.Fatalf("GET /stats: requests_count.success or .error missing")
	}
	return *s.RequestsCount.Success, *s.RequestsCount.Error
}

// countBackends sends n GETs to path and counts answers per X-Backend-Name
// (gateway-made answers count under "status NNN").
func (g *gw) countBackends(t *testing.T, path string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		r := g.get(t, path)
		if r.status == http.StatusOK {
			seen[r.backend()]++
		} else {
			seen["status "+strconv.Itoa(r.status)]++
		}
	}
	return seen
}

// waitBackend polls path until a 200 from backend name arrives and returns
// how long that took.
func (g *gw) waitBackend(t *testing.T, path, name string, timeout time.Duration) time.Duration {
	t.Helper()
	return eventually(t, timeout, "GET "+path+" answered by "+name, func() bool {
		r, err := g.tryDo(g.request(t, http.MethodGet, path, nil))
		return err == nil && r.status == http.StatusOK && r.backend() == name
	})
}

// waitStatus polls path until it answers status and returns how long that took.
func (g *gw) waitStatus(t *testing.T, path string, status int, timeout time.Duration) time.Duration {
	t.Helper()
	return eventually(t, timeout, "GET "+path+" answering "+strconv.Itoa(status), func() bool {
		r, err := g.tryDo(g.request(t, http.MethodGet, path, nil))
		return err == nil && r.status == status
	})
}

// checkErrorBody asserts a gateway-made error body:
// {"error": "...", "request_id": "..."}.
func checkErrorBody(t *testing.T, r reply) {
	t.Helper()
	var e struct {
		Error     string `json:"error"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Errorf("error body %q is not JSON: %v", r.body, err)
		return
	}
	if e.Error == "" || e.RequestID == "" {
		t.Errorf("error body %q: want non-empty \"error\" and \"request_id\"", r.body)
	}
}

// newClient returns a client of its own (no proxy from the environment, no
// transparent gzip, no redirects followed), closed at cleanup.
func newClient(t *testing.T, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// healthServes reports whether GET /health lists container name among those
// serving backend ({"backends": {NAME: {"containers": [{"name": ...}]}}});
// a /health without that shape fails the test.
func (g *gw) healthServes(t *testing.T, backend, name string) bool {
	t.Helper()
	r := g.get(t, "/health")
	var h struct {
		Backends map[string]struct {
			Containers []struct {
				Name string `json:"name"`
			} `json:"containers"`
		} `json:"backends"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &h) != nil {
		t.Fatalf("GET /health: status %d, body %q", r.status, r.body)
	}
	b, ok := h.Backends[backend]
	if !ok || b.Containers == nil {
		t.Fatalf("GET /health: no backends.%s.containers in %s", backend, r.body)
	}
	for _, c := range b.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}
