package proxy_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/gateway"
	"github.com/rgate/rgate/internal/proxy"
	"github.com/rgate/rgate/internal/stats"
)

const (
	clientTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientParent = "00-" + clientTrace + "-00f067aa0ba902b7-01"
)

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tracingGateway(t *testing.T, url string, tr *config.Tracing, po proxy.Options) *httptest.Server {
	cfg := &config.Config{
		Routes: []config.Route{{PathPrefix: "/a", Backend: "a"}, {PathPrefix: "/rules", Backend: "a",
			Headers: &config.Headers{Request: config.HeaderRules{Remove: []string{"Traceparent"}}}}},
		DefaultResponse: config.DefaultResponse{Body: "none", StatusCode: 404},
		Backends:        []config.Backend{{Name: "a", URLs: []string{url}}},
		Tracing:         tr,
	}
	g := gateway.New(cfg, gateway.Options{Stats: stats.NewStore(), Proxy: po})
	t.Cleanup(g.Close)
	s := httptest.NewServer(g)
	t.Cleanup(s.Close)
	return s
}

// TestTraceContextOutbound: both engines send the trace context the plan
// writes: with tracing on, the client's traceparent is replaced by one
// whose parent is rgate's span and tracestate goes along; an invalid one
// starts a new trace and its tracestate is dropped; with tracing off, the
// fields pass through as they came.
func TestTraceContextOutbound(t *testing.T) {
	t.Parallel()
	be := newScriptedBackend(t, map[string]string{"cl": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"})
	url := "http://" + be.ln.Addr().String()
	ratio := 0.0
	on := &config.Tracing{OTLPEndpoint: "http://" + closedAddr(t), SampleRatio: &ratio, ServiceName: "rgate"}
	for _, std := range []bool{false, true} {
		engine := map[bool]string{false: "h1", true: "std"}[std]
		traced := tracingGateway(t, url, on, proxy.Options{StandardOnly: std})
		plain := tracingGateway(t, url, nil, proxy.Options{StandardOnly: std})
		send := func(base, target, tp string) http.Header {
			h := http.Header{"X-Case": {"cl"}, "Tracestate": {"congo=t61rcWkgMzE"}}
			if tp != "" {
				h["Traceparent"] = []string{tp}
			}
			fetch(t, base, be, "GET", target, "", false, h)
			return be.last().Header
		}
		got := send(traced.URL, "/a/x", clientParent)
		tp := got.Values("Traceparent")
		if len(tp) != 1 || !strings.HasPrefix(tp[0], "00-"+clientTrace+"-") || tp[0] == clientParent || !strings.HasSuffix(tp[0], "-01") {
			t.Errorf("%s: traced, sampled client: upstream got traceparent %q", engine, tp)
		}
		if ts := got.Values("Tracestate"); len(ts) != 1 || ts[0] != "congo=t61rcWkgMzE" {
			t.Errorf("%s: traced: upstream got tracestate %q", engine, ts)
		}
		got = send(traced.URL, "/a/x", "00-zz-bad")
		if tp := got.Get("Traceparent"); len(tp) != 55 || strings.Contains(tp, clientTrace) || !strings.HasSuffix(tp, "-00") {
			t.Errorf("%s: traced, invalid traceparent: upstream got %q, want a new unsampled one", engine, tp)
		}
		if ts := got.Values("Tracestate"); ts != nil {
			t.Errorf("%s: tracestate %q sent beside a new trace", engine, ts)
		}
		if got := send(traced.URL, "/rules/x", clientParent); got.Get("Traceparent") != "" {
			t.Errorf("%s: a route's rule removing traceparent was not kept: %q", engine, got.Get("Traceparent"))
		}
		got = send(plain.URL, "/a/x", "00-zz-bad")
		if tp := got.Values("Traceparent"); len(tp) != 1 || tp[0] != "00-zz-bad" || got.Get("Tracestate") != "congo=t61rcWkgMzE" {
			t.Errorf("%s: tracing off: upstream got traceparent %q, tracestate %q; want them as sent", engine, tp, got.Get("Tracestate"))
		}
	}
}
