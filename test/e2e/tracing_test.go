package e2e

import (
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP collector on 127.0.0.1 that decodes what
// it is sent and keeps the spans of one service.
type otlpReceiver struct {
	*httptest.Server
	service string
	mu      sync.Mutex
	spans   []*tracepb.Span
	bad     []string
}

func newOTLPReceiver(t *testing.T, service string) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{service: service}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.export))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *otlpReceiver) export(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
		rc.mu.Lock()
		rc.bad = append(rc.bad, fmt.Sprintf("%s %s %s: %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err))
		rc.mu.Unlock()
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	for _, rs := range req.ResourceSpans {
		if attrString(rs.GetResource().GetAttributes(), "service.name") != rc.service {
			continue
		}
		for _, ss := range rs.ScopeSpans {
			rc.spans = append(rc.spans, ss.Spans...)
		}
	}
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
}

// span returns the exported span of trace tid, nil when none came yet; a
// second span of the trace fails the test.
func (rc *otlpReceiver) span(t *testing.T, tid string) *tracepb.Span {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("the collector refused exports: %v", rc.bad)
	}
	var found *tracepb.Span
	for _, s := range rc.spans {
		if hex.EncodeToString(s.TraceId) == tid {
			if found != nil {
				t.Fatalf("two spans exported for trace %s", tid)
			}
			found = s
		}
	}
	return found
}

// waitSpan waits for the span of trace tid (rgate exports every second).
func (rc *otlpReceiver) waitSpan(t *testing.T, tid string) *tracepb.Span {
	t.Helper()
	var s *tracepb.Span
	eventually(t, 10*time.Second, "the span of trace "+tid+" to be exported", func() bool {
		s = rc.span(t, tid)
		return s != nil
	})
	return s
}

func attrString(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			switch v := kv.Value.Value.(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue
			case *commonpb.AnyValue_IntValue:
				return fmt.Sprint(v.IntValue)
			}
		}
	}
	return ""
}

// parentOf splits a version 00 traceparent into trace id, parent id and
// flags, failing the test on anything else.
func parentOf(t *testing.T, tp string) (tid, pid, flags string) {
	t.Helper()
	parts := strings.Split(tp, "-")
	if len(tp) != 55 || len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 {
		t.Fatalf("traceparent %q is not a version 00 one", tp)
	}
	return parts[1], parts[2], parts[3]
}

func tracingConfig(upstream, endpoint string, ratio float64, service string) string {
	return staticRoutes([3]string{"/t", upstream, ""}) +
		fmt.Sprintf("tracing:\n  otlp_endpoint: %s\n  sample_ratio: %g\n  service_name: %s\n", endpoint, ratio, service)
}

// TestTracingParentBased runs rgate at sample_ratio 0 against a collector
// in the test: a sampled traceparent from the client is kept, its span
// exported with the client's trace id and span as parent and the
// request's attributes, and the upstream's traceparent names rgate's span
// as its parent; a request without traceparent is not exported, and the
// upstream still gets a new, unsampled trace context (W3C: the decision
// travels with the trace).
func TestTracingParentBased(t *testing.T) {
	t.Parallel()
	service := "rgate-e2e-" + uniq(t)
	rc := newOTLPReceiver(t, service)
	up := newRecorder(t, nil)
	g := startGateway(t, tracingConfig(up.url(), rc.URL, 0, service))

	// First the unsampled request: had it been exported, its span would
	// come in the same batch as the sampled one's, or an earlier one.
	if r := g.get(t, "/t/unsampled"); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	newTID, _, flags := parentOf(t, up.only(t).Header.Get("Traceparent"))
	if flags != "00" {
		t.Errorf("a new trace at sample_ratio 0 went upstream with flags %s, want 00", flags)
	}

	const clientTID, clientSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	r := g.getH(t, "/t/sampled", "Traceparent", "00-"+clientTID+"-"+clientSpan+"-01", "Tracestate", "congo=t61rcWkgMzE")
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	got := up.requests()[1].Header
	if v := got.Values("Traceparent"); len(v) != 1 {
		t.Fatalf("the upstream got traceparent %q, want exactly one", v)
	}
	tid, pid, flags := parentOf(t, got.Get("Traceparent"))
	if tid != clientTID || pid == clientSpan || flags != "01" {
		t.Errorf("upstream traceparent %q: want trace %s, a parent other than the client's span, sampled", got.Get("Traceparent"), clientTID)
	}
	if ts := got.Get("Tracestate"); ts != "congo=t61rcWkgMzE" {
		t.Errorf("upstream tracestate %q", ts)
	}

	s := rc.waitSpan(t, clientTID)
	if hex.EncodeToString(s.SpanId) != pid {
		t.Errorf("exported span id %x; the upstream's parent id is %s", s.SpanId, pid)
	}
	if hex.EncodeToString(s.ParentSpanId) != clientSpan || s.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("span parent %x kind %v, want the client's span %s, server", s.ParentSpanId, s.Kind, clientSpan)
	}
	want := map[string]string{"http.route": "/t", "rgate.backend": "b0", "rgate.upstream": up.ln.Addr().String(),
		"http.response.status_code": "200", "rgate.retries": "0", "http.request.method": "GET"}
	for k, v := range want {
		if got := attrString(s.Attributes, k); got != v {
			t.Errorf("span attribute %s = %q, want %q", k, got, v)
		}
	}
	if rc.span(t, newTID) != nil {
		t.Errorf("the request without traceparent was exported at sample_ratio 0")
	}
	eventually(t, 5*time.Second, "the access log lines with trace_id", func() bool {
		out := g.output()
		return strings.Contains(out, `"trace_id":"`+clientTID+`"`) && strings.Contains(out, `"trace_id":"`+newTID+`"`)
	})
}

// TestTracingNewTrace: at sample_ratio 1 a request without traceparent
// starts a trace whose root span is rgate's, and the upstream gets it as
// its parent.
func TestTracingNewTrace(t *testing.T) {
	t.Parallel()
	service := "rgate-e2e-" + uniq(t)
	rc := newOTLPReceiver(t, service)
	up := newRecorder(t, nil)
	g := startGateway(t, tracingConfig(up.url(), rc.URL, 1, service))
	if r := g.get(t, "/t/x"); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	tid, pid, flags := parentOf(t, up.only(t).Header.Get("Traceparent"))
	if flags != "01" {
		t.Errorf("flags %s at sample_ratio 1, want 01", flags)
	}
	s := rc.waitSpan(t, tid)
	if hex.EncodeToString(s.SpanId) != pid || len(s.ParentSpanId) != 0 {
		t.Errorf("span %x parent %x; want span %s as a root", s.SpanId, s.ParentSpanId, pid)
	}
}

// TestTracingReload: a config reload turns tracing on (the next requests
// are traced and exported) and off again (the client's traceparent passes
// through untouched), without a restart.
func TestTracingReload(t *testing.T) {
	t.Parallel()
	service := "rgate-e2e-" + uniq(t)
	rc := newOTLPReceiver(t, service)
	up := newRecorder(t, nil)
	plain := staticRoutes([3]string{"/t", up.url(), ""})
	g := startGateway(t, plain)
	const sent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	last := func() http.Header { rs := up.requests(); return rs[len(rs)-1].Header }
	g.getH(t, "/t/x", "Traceparent", sent)
	if got := last().Get("Traceparent"); got != sent {
		t.Fatalf("tracing off: upstream got traceparent %q, want the client's", got)
	}

	writeInPlace(t, g.configPath(t), tracingConfig(up.url(), rc.URL, 1, service))
	eventually(t, 10*time.Second, "tracing to be on after the reload", func() bool {
		g.get(t, "/t/y")
		return last().Get("Traceparent") != ""
	})
	tid, _, _ := parentOf(t, last().Get("Traceparent"))
	rc.waitSpan(t, tid)

	writeInPlace(t, g.configPath(t), plain)
	eventually(t, 10*time.Second, "tracing to be off after the reload", func() bool {
		g.getH(t, "/t/z", "Traceparent", sent)
		return last().Get("Traceparent") == sent
	})
}

// TestTracingCollectorDown: with the collector's port closed, or with a
// collector that accepts connections and never answers, every request is
// answered at once (far within the exporter's 2s timeout), and rgate
// still exits promptly on SIGTERM, the flush giving up in bounds.
func TestTracingCollectorDown(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"closed", "hanging"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			collectorDown(t, deadCollector(t, kind == "hanging"))
		})
	}
}

// deadCollector returns the URL of a port nothing listens on, or of one
// that accepts connections and never answers.
func deadCollector(t *testing.T, hang bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	if !hang {
		ln.Close()
		return url
	}
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return url
}

func collectorDown(t *testing.T, endpoint string) {
	up := newRecorder(t, nil)
	g := startGateway(t, tracingConfig(up.url(), endpoint, 1, "rgate-e2e"))
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 300 && time.Now().Before(deadline); i++ {
		start := time.Now()
		if r := g.get(t, "/t/x"); r.status != 200 {
			t.Fatalf("request %d: status %d", i, r.status)
		}
		if d := time.Since(start); d > 1500*time.Millisecond { // a wait on an export would last its 2s timeout
			t.Fatalf("request %d took %v with the collector down", i, d)
		}
		if i == 50 {
			time.Sleep(3 * time.Second) // a batch export fails meanwhile
		}
	}
	if !strings.Contains(g.output(), "trace export failing") {
		t.Errorf("no log line about the failing export")
	}
	start := time.Now()
	g.signal(syscall.SIGTERM)
	if code, ok := g.waitExit(15 * time.Second); !ok || code != 0 {
		t.Fatalf("exit after SIGTERM: code %d, exited %v", code, ok)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %v with the collector down", d)
	}
}
