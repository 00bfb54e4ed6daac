package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// capture is a collector that keeps the body and headers of each export.
type capture struct {
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	status  int
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.bodies = append(c.bodies, body)
	c.headers = append(c.headers, r.Header.Clone())
	status := c.status
	c.mu.Unlock()
	if status != 0 {
		http.Error(w, "collector says no", status)
	}
}

func (c *capture) request(t *testing.T, i int) *collectortrace.ExportTraceServiceRequest {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bodies) <= i {
		t.Fatalf("%d exports received, want at least %d", len(c.bodies), i+1)
	}
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(c.bodies[i], &req); err != nil {
		t.Fatalf("export %d is not an ExportTraceServiceRequest: %v", i, err)
	}
	return &req
}

// testSpans are read-only spans with every kind of field and attribute
// value the SDK can hold.
func testSpans() []sdktrace.ReadOnlySpan {
	tid := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	ts, _ := trace.ParseTraceState("vendor=value,other=x")
	remote := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{9, 9, 9, 9, 9, 9, 9, 9},
		TraceFlags: trace.FlagsSampled, Remote: true})
	res := resource.NewSchemaless(attribute.String("service.name", "rgate"), attribute.Int("replica", 2))
	scope := instrumentation.Scope{Name: "github.com/rgate/rgate", Version: "1.2.3", SchemaURL: "https://opentelemetry.io/schemas/1.26.0"}
	start := time.Unix(1_700_000_000, 123_456_789)
	every := []attribute.KeyValue{
		attribute.String("http.request.method", "GET"),
		attribute.String("empty", ""),
		attribute.Int("http.response.status_code", 200),
		attribute.Int("zero", 0),
		attribute.Int64("negative", -42),
		attribute.Float64("ratio", 0.25),
		attribute.Float64("nan", math.NaN()),
		attribute.Bool("yes", true),
		attribute.Bool("no", false),
		attribute.StringSlice("strings", []string{"a", "", "c"}),
		attribute.IntSlice("ints", []int{1, 0, -1}),
		attribute.Float64Slice("floats", []float64{1.5, 0}),
		attribute.BoolSlice("bools", []bool{true, false}),
		attribute.String("long", strings.Repeat("x", 300)), // a length past one varint byte
	}
	return tracetest.SpanStubs{
		{
			Name:                 "GET /api",
			SpanContext:          trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1, 1, 1, 1, 1, 1, 1, 1}, TraceFlags: trace.FlagsSampled, TraceState: ts}),
			Parent:               remote,
			SpanKind:             trace.SpanKindServer,
			StartTime:            start,
			EndTime:              start.Add(1500 * time.Microsecond),
			Attributes:           every,
			Events:               []sdktrace.Event{{Name: "retry", Time: start.Add(time.Millisecond), Attributes: []attribute.KeyValue{attribute.Int("attempt", 2)}, DroppedAttributeCount: 1}},
			Links:                []sdktrace.Link{{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("why", "follows")}, DroppedAttributeCount: 3}},
			Status:               sdktrace.Status{Code: codes.Error, Description: "upstream failed"},
			DroppedAttributes:    4,
			DroppedEvents:        5,
			DroppedLinks:         6,
			Resource:             res,
			InstrumentationScope: scope,
			ChildSpanCount:       1,
		},
		{ // a root span: no parent, no trace state, nothing dropped, status unset
			Name:                 "POST /",
			SpanContext:          trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0xff, 1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled}),
			SpanKind:             trace.SpanKindServer,
			StartTime:            start,
			EndTime:              start.Add(time.Second),
			Attributes:           every[:3],
			Resource:             res,
			InstrumentationScope: scope,
		},
		{ // another scope of the same resource, an ok status, an internal span
			Name:                 "inner",
			SpanContext:          trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{3}}),
			Parent:               trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1, 1, 1, 1, 1, 1, 1, 1}}),
			SpanKind:             trace.SpanKindInternal,
			StartTime:            start,
			EndTime:              start,
			Status:               sdktrace.Status{Code: codes.Ok},
			Resource:             res,
			InstrumentationScope: instrumentation.Scope{Name: "other"},
		},
	}.Snapshots()
}

// referenceExport is what the SDK's otlptracehttp exporter sends for spans.
func referenceExport(t *testing.T, spans []sdktrace.ReadOnlySpan) *capture {
	t.Helper()
	ctx := context.Background()
	want := &capture{}
	ref := httptest.NewServer(want)
	defer ref.Close()
	refExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(ref.URL+"/v1/traces"),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	if err := refExp.ExportSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	_ = refExp.Shutdown(ctx)
	return want
}

// TestOTLPSameAsOtlptracehttp: the request rgate's exporter sends decodes
// to exactly what the SDK's otlptracehttp exporter sends for the same
// spans, with the same content type.
func TestOTLPSameAsOtlptracehttp(t *testing.T) {
	spans := testSpans()
	ctx := context.Background()

	want := referenceExport(t, spans)
	var got capture
	srv := httptest.NewServer(&got)
	defer srv.Close()
	exp := newOTLPExporter(srv.URL+"/v1/traces", srv.Client())
	for range 2 { // the second export reuses the first one's size hint
		if err := exp.ExportSpans(ctx, spans); err != nil {
			t.Fatal(err)
		}
	}

	for i := range 2 {
		if w, g := want.request(t, 0), got.request(t, i); !proto.Equal(w, g) {
			t.Fatalf("export %d differs from otlptracehttp's:\nwant %v\ngot  %v", i, prototext.Format(w), prototext.Format(g))
		}
		if ct := got.headers[i].Get("Content-Type"); ct != want.headers[0].Get("Content-Type") {
			t.Fatalf("Content-Type %q, want %q", ct, want.headers[0].Get("Content-Type"))
		}
	}
	if n := len(got.request(t, 0).ResourceSpans); n != 1 {
		t.Fatalf("%d ResourceSpans for one resource, want 1", n)
	}
	if n := len(got.request(t, 0).ResourceSpans[0].ScopeSpans); n != 2 {
		t.Fatalf("%d ScopeSpans for two scopes, want 2", n)
	}
}

// TestOTLPErrors: a collector's non-2xx answer is an error naming its
// status and body; a stopped exporter sends nothing.
func TestOTLPErrors(t *testing.T) {
	c := &capture{status: http.StatusBadRequest}
	srv := httptest.NewServer(c)
	defer srv.Close()
	exp := newOTLPExporter(srv.URL, srv.Client())
	err := exp.ExportSpans(context.Background(), testSpans())
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "collector says no") {
		t.Fatalf("err %v, want the collector's 400 and its body", err)
	}
	_ = exp.Shutdown(context.Background())
	if err := exp.ExportSpans(context.Background(), testSpans()); err == nil {
		t.Fatal("a stopped exporter exported")
	}
	if len(c.bodies) != 1 {
		t.Fatalf("%d requests, want 1", len(c.bodies))
	}
}

// TestCloseFieldLengths: a nested field's length is right on both sides
// of each varint size boundary.
func TestCloseFieldLengths(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 129, 16383, 16384, 70000} {
		b, at := openField([]byte{0xaa}, 5)
		b = append(b, strings.Repeat("z", n)...)
		b = closeField(b, at)
		num, typ, tagLen := protowire.ConsumeTag(b[1:])
		if num != 5 || typ != protowire.BytesType {
			t.Fatalf("n=%d: tag %d/%d", n, num, typ)
		}
		v, vLen := protowire.ConsumeBytes(b[1+tagLen:])
		if vLen < 0 || len(v) != n || 1+tagLen+vLen != len(b) || strings.Trim(string(v), "z") != "" {
			t.Fatalf("n=%d: read back %d bytes (consumed %d of %d)", n, len(v), vLen, len(b)-1-tagLen)
		}
	}
}

// TestOTLPFromEnv: the OTLP header and compression variables apply (the
// traces-specific ones first); an entry rgate cannot use is skipped and
// the warning names the header, never its value.
func TestOTLPFromEnv(t *testing.T) {
	c := &capture{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_HEADERS":        "x-general=1",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api-key=s3cr%3Dt , x-team = edge,bad header=leaked-secret,novalue",
		"OTEL_EXPORTER_OTLP_COMPRESSION":    "gzip",
	}
	var logs strings.Builder
	exp := newOTLPExporter(srv.URL, srv.Client())
	exp.fromEnv(func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(&logs, nil)))
	spans := testSpans()
	if err := exp.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	h := c.headers[0]
	if h.Get("Api-Key") != "s3cr=t" || h.Get("X-Team") != "edge" || h.Get("X-General") != "" {
		t.Fatalf("headers %v: want api-key and x-team from the traces variable only", h)
	}
	if h.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", h.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(c.bodies[0]))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil || len(req.ResourceSpans) != 1 {
		t.Fatalf("gunzipped body: %v, %d ResourceSpans", err, len(req.ResourceSpans))
	}
	if out := logs.String(); strings.Count(out, "ignoring an OTLP header entry") != 2 || strings.Contains(out, "leaked-secret") {
		t.Fatalf("warnings:\n%s\nwant two, without the bad entry's value", out)
	}
}

// TestOTLPManyResources: spans of two resources, interleaved, go in one
// ResourceSpans each, with the same content as otlptracehttp's request
// (whose order of resources is a map's, so both are sorted here).
func TestOTLPManyResources(t *testing.T) {
	base := testSpans()
	other := tracetest.SpanStubFromReadOnlySpan(base[1])
	other.Resource = resource.NewSchemaless(attribute.String("service.name", "another"))
	spans := []sdktrace.ReadOnlySpan{base[0], other.Snapshot(), base[1], base[2]}
	ctx := context.Background()

	want := referenceExport(t, spans)
	var got capture
	srv := httptest.NewServer(&got)
	defer srv.Close()
	if err := newOTLPExporter(srv.URL, srv.Client()).ExportSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	w, g := want.request(t, 0), got.request(t, 0)
	for _, req := range []*collectortrace.ExportTraceServiceRequest{w, g} {
		slices.SortFunc(req.ResourceSpans, func(a, b *tracepb.ResourceSpans) int {
			return strings.Compare(prototext.Format(a.Resource), prototext.Format(b.Resource))
		})
	}
	if len(g.ResourceSpans) != 2 || !proto.Equal(w, g) {
		t.Fatalf("differs from otlptracehttp's:\nwant %v\ngot  %v", prototext.Format(w), prototext.Format(g))
	}
}

// BenchmarkExport is one batch of 512 spans shaped like rgate's (seven
// attributes), encoded and posted to a local sink: by this exporter and
// by otlptracehttp, per span.
func BenchmarkExport(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()
	one := tracetest.SpanStubFromReadOnlySpan(testSpans()[1])
	one.Attributes = []attribute.KeyValue{
		attribute.String(AttrMethod, "GET"), attribute.String(AttrRoute, "/api"), attribute.Int(AttrStatus, 200),
		attribute.String(AttrBackend, "api"), attribute.String(AttrUpstream, "127.0.0.1:8080"),
		attribute.Int(AttrRetries, 0), attribute.String(AttrContainer, "3f2a9c1b7d4e"),
	}
	spans := make([]sdktrace.ReadOnlySpan, 512)
	for i := range spans {
		spans[i] = one.Snapshot()
	}
	ctx := context.Background()
	ref, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(sink.URL+"/v1/traces"),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ref.Shutdown(ctx) }()
	for _, c := range []struct {
		name string
		exp  sdktrace.SpanExporter
	}{{"rgate", newOTLPExporter(sink.URL, sink.Client())}, {"otlptracehttp", ref}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.exp.ExportSpans(ctx, spans); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
		})
	}
}
