package tracing

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/reqinfo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiver is an OTLP/HTTP collector that keeps the spans it is sent.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*tracepb.Span(nil), rc.spans...)
}

func newTracer(t *testing.T, endpoint string, ratio float64) *Tracer {
	t.Helper()
	tr, err := New(config.Tracing{OTLPEndpoint: endpoint, SampleRatio: &ratio, ServiceName: "rgate"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

const (
	inTrace   = "4bf92f3577b34da6a3ce929d0e0e4736"
	inSpan    = "00f067aa0ba902b7"
	inSampled = "00-" + inTrace + "-" + inSpan + "-01"
	inDropped = "00-" + inTrace + "-" + inSpan + "-00"
)

func request(tp, ts string) *http.Request {
	r := httptest.NewRequest("GET", "/api/x", nil)
	if tp != "" {
		r.Header.Set("traceparent", tp)
	}
	if ts != "" {
		r.Header.Set("tracestate", ts)
	}
	return r
}

// TestSampledParentKept: a sampled traceparent is kept even at ratio 0;
// the upstream's parent is rgate's span, which is exported as the
// client's span's child with the request's attributes.
func TestSampledParentKept(t *testing.T) {
	rc := newReceiver(t)
	tr := newTracer(t, rc.URL, 0)
	var tc reqinfo.Trace
	s := tr.Begin(request(inSampled, "congo=t61rcWkgMzE"), "/api", &tc)
	if !s.Recording() {
		t.Fatal("a sampled parent was not sampled")
	}
	if hex.EncodeToString(tc.ID[:]) != inTrace || tc.State != "congo=t61rcWkgMzE" {
		t.Fatalf("trace context %+v", tc)
	}
	parts := strings.Split(tc.Parent, "-")
	if len(parts) != 4 || parts[1] != inTrace || parts[2] == inSpan || parts[3] != "01" {
		t.Fatalf("traceparent sent upstream %q", tc.Parent)
	}
	s.SetConsumer("acme")
	s.End(&reqinfo.Info{ID: "req-1", Route: "/api", Backend: "api", Upstream: "127.0.0.1:9", Status: 503, Retries: 2, Trace: tc})
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rc.got()
	if len(spans) != 1 {
		t.Fatalf("%d spans exported, want 1", len(spans))
	}
	sp := spans[0]
	if hex.EncodeToString(sp.TraceId) != inTrace || hex.EncodeToString(sp.ParentSpanId) != inSpan ||
		hex.EncodeToString(sp.SpanId) != parts[2] || sp.Kind != tracepb.Span_SPAN_KIND_SERVER || sp.Name != "GET /api" {
		t.Fatalf("span %v", sp)
	}
	attrs := map[string]string{}
	for _, kv := range sp.Attributes {
		attrs[kv.Key] = kv.Value.String()
	}
	for k, want := range map[string]string{AttrRoute: "/api", AttrBackend: "api", AttrUpstream: "127.0.0.1:9",
		AttrStatus: "503", AttrRetries: "2", AttrConsumer: "acme", AttrMethod: "GET"} {
		if !strings.Contains(attrs[k], want) {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], want)
		}
	}
	if sp.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("a 503 span has status %v", sp.Status)
	}
}

// TestUnsampledParentPassedOn: the client's unsampled context goes on as
// it came, and no span is made even at ratio 1.
func TestUnsampledParentPassedOn(t *testing.T) {
	tr := newTracer(t, "http://127.0.0.1:1", 1)
	r := request(inDropped, "congo=t61rcWkgMzE")
	var tc reqinfo.Trace
	if s := tr.Begin(r, "/api", &tc); s.Recording() {
		t.Fatal("an unsampled parent was sampled")
	}
	if tc.Parent != inDropped || tc.State != "congo=t61rcWkgMzE" || hex.EncodeToString(tc.ID[:]) != inTrace {
		t.Fatalf("trace context %+v", tc)
	}
	if n := testing.AllocsPerRun(100, func() { tr.Begin(r, "/api", &tc) }); n != 0 {
		t.Errorf("an unsampled request with a traceparent allocates %v times, want 0", n)
	}
}

// TestRootAtRatioZero: with no traceparent and ratio 0, a new trace id
// goes upstream unsampled, with no span and no tracestate.
func TestRootAtRatioZero(t *testing.T) {
	tr := newTracer(t, "http://127.0.0.1:1", 0)
	r := request("", "congo=t61rcWkgMzE")
	var tc reqinfo.Trace
	if s := tr.Begin(r, "/api", &tc); s.Recording() {
		t.Fatal("sampled at ratio 0")
	}
	p, ok := parseParent([]string{tc.Parent})
	if !ok || p.flags.IsSampled() || p.traceID != tc.ID || tc.State != "" {
		t.Fatalf("trace context %+v", tc)
	}
	if n := testing.AllocsPerRun(100, func() { tr.Begin(r, "/api", &tc) }); n > 1 {
		t.Errorf("an unsampled new trace allocates %v times, want at most 1 (its traceparent)", n)
	}
}

// TestRootAtRatioOne: a request without traceparent starts a trace of its
// own, exported as a root span under the id sent upstream.
func TestRootAtRatioOne(t *testing.T) {
	rc := newReceiver(t)
	tr := newTracer(t, rc.URL+"/", 1)
	var tc reqinfo.Trace
	s := tr.Begin(request("", ""), "/api", &tc)
	if !s.Recording() {
		t.Fatal("not sampled at ratio 1")
	}
	p, _ := parseParent([]string{tc.Parent})
	s.End(&reqinfo.Info{Status: 200})
	_ = tr.Shutdown(context.Background())
	spans := rc.got()
	if len(spans) != 1 || len(spans[0].ParentSpanId) != 0 || [16]byte(spans[0].TraceId) != tc.ID ||
		[8]byte(spans[0].SpanId) != [8]byte(p.spanID) || !p.flags.IsSampled() {
		t.Fatalf("spans %v for traceparent %s", spans, tc.Parent)
	}
}

// TestRatioDecidesOnTraceID: at a ratio between 0 and 1 about that share
// of new traces is sampled, and each exported span's trace id is the one
// the decision was made on (the SDK's own sampler agreed).
func TestRatioDecidesOnTraceID(t *testing.T) {
	rc := newReceiver(t)
	tr := newTracer(t, rc.URL, 0.5)
	sampled := map[[16]byte]bool{}
	for range 400 {
		var tc reqinfo.Trace
		if s := tr.Begin(request("", ""), "/api", &tc); s.Recording() {
			sampled[tc.ID] = true
			s.End(&reqinfo.Info{Status: 200})
		}
	}
	if n := len(sampled); n < 100 || n > 300 {
		t.Fatalf("%d of 400 sampled at ratio 0.5", n)
	}
	_ = tr.Shutdown(context.Background())
	spans := rc.got()
	if len(spans) != len(sampled) {
		t.Fatalf("%d spans exported, %d sampled", len(spans), len(sampled))
	}
	for _, sp := range spans {
		if !sampled[[16]byte(sp.TraceId)] {
			t.Fatalf("exported span of trace %x, which was not sampled", sp.TraceId)
		}
	}
}

// TestCollectorDown: with nothing listening, no request waits for the
// export: each span, also once the queue is full, ends well within the
// exporter's timeout (a call that waited for an export would take about
// that long), and Shutdown gives up within its deadline.
func TestCollectorDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tr := newTracer(t, "http://"+addr, 1)
	var slowest time.Duration
	for range queueSize + batchSize { // more than the queue holds
		start := time.Now()
		var tc reqinfo.Trace
		tr.Begin(request("", ""), "/api", &tc).End(&reqinfo.Info{Status: 200})
		slowest = max(slowest, time.Since(start))
	}
	if slowest > exportTimeout/2 {
		t.Errorf("a span took %v to begin and end with the collector down", slowest)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
	defer cancel()
	_ = tr.Shutdown(ctx)
	if d := time.Since(start); d > 2*exportTimeout {
		t.Errorf("shutdown with the collector down took %v", d)
	}
}

// TestParseParentLikeOtel: the hand-written parser accepts and rejects
// what OpenTelemetry's W3C propagator does.
func TestParseParentLikeOtel(t *testing.T) {
	t.Parallel()
	for _, v := range []string{
		inSampled, inDropped,
		"01-" + inTrace + "-" + inSpan + "-01",                  // a later version
		"01-" + inTrace + "-" + inSpan + "-01-extra",            // a later version with more fields
		"00-" + inTrace + "-" + inSpan + "-01-extra",            // version 00 has no more fields
		"ff-" + inTrace + "-" + inSpan + "-01",                  // version ff is invalid
		"00-" + strings.ToUpper(inTrace) + "-" + inSpan + "-01", // upper case hex
		"00-00000000000000000000000000000000-" + inSpan + "-01",
		"00-" + inTrace + "-0000000000000000-01",
		"00-" + inTrace + "-" + inSpan + "-0",
		"00-" + inTrace + "x" + inSpan + "-01",
		"",
	} {
		prop := propagation.TraceContext{}
		h := http.Header{}
		h.Set("traceparent", v)
		want := trace.SpanContextFromContext(prop.Extract(context.Background(), propagation.HeaderCarrier(h)))
		p, ok := parseParent(h["Traceparent"])
		if ok != want.IsValid() {
			t.Errorf("%q: valid %v, otel says %v", v, ok, want.IsValid())
			continue
		}
		if ok && (p.traceID != want.TraceID() || p.spanID != want.SpanID() || p.flags != want.TraceFlags()) {
			t.Errorf("%q: parsed %+v, otel %+v", v, p, want)
		}
		if ok && p.asIs && formatParent(p.traceID, p.spanID, p.flags) != v {
			t.Errorf("%q: formats back as %q", v, formatParent(p.traceID, p.spanID, p.flags))
		}
	}
	if _, ok := parseParent([]string{inSampled, inSampled}); ok {
		t.Error("two traceparent fields accepted")
	}
}

func TestTracesURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":       "http://127.0.0.1:4318/v1/traces",
		"http://127.0.0.1:4318/":      "http://127.0.0.1:4318/v1/traces",
		"https://c.example/otlp/v1/t": "https://c.example/otlp/v1/t",
	} {
		if got, err := tracesURL(in); err != nil || got != want {
			t.Errorf("tracesURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
