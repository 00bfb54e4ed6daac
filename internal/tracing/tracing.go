// Package tracing is rgate's OpenTelemetry tracing: one server span per
// routed request, exported over OTLP/HTTP in batches, and W3C Trace
// Context (traceparent, tracestate) taken from the client and passed to
// the upstream with rgate's span as the parent.
//
// The model:
//
//   - Sampling is parent-based. A request with a valid traceparent
//     follows its sampled flag; one without starts a new trace, recorded
//     when TraceIDRatioBased(sample_ratio) says so for its new trace id.
//     The decision is made before any span exists, from the header alone,
//     so an unsampled request allocates no span and no context (the SDK's
//     Start would make a non-recording span and a context for each one,
//     opentelemetry-go #5410). Only a sampled request reaches the SDK,
//     whose sampler, ParentBased(TraceIDRatioBased), agrees by
//     construction: the same ratio sampler decides on the same trace id.
//   - Propagation: a sampled request goes upstream with a traceparent
//     naming rgate's span as its parent. An unsampled one keeps the
//     client's traceparent and tracestate as they came (rgate records no
//     span to be a parent); one that came without gets a new trace id and
//     span id with the sampled flag off, so the upstream and the access
//     log still share one trace id and the upstream knows the decision.
//     Tracestate is passed on only beside a valid traceparent.
//   - Export: a batch span processor with a bounded queue that drops
//     spans when full, never blocking a request; the exporter (OTLP/HTTP
//     protobuf, encoded directly, see otlpExporter) has a short timeout
//     and no retries, so a collector that is down costs dropped
//     spans and nothing else. Export failures are logged once when they
//     start and once when export works again.
//   - Lifecycle: New builds a Tracer from the config's tracing section;
//     Shutdown flushes what is queued within its context's deadline.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/reqinfo"
)

// Export tuning.
const (
	// queueSize bounds the spans waiting for export; more are dropped.
	queueSize = 4096
	// batchSize is the most spans sent in one export request.
	batchSize = 512
	// batchDelay is the longest a finished span waits for its batch.
	batchDelay = time.Second
	// exportTimeout bounds one export request.
	exportTimeout = 2 * time.Second
)

// Tracer starts and exports rgate's spans. It is safe for concurrent use.
type Tracer struct {
	cfg      config.Tracing
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	// root decides for a request that starts a trace, before any span
	// is made; the provider's sampler uses the same one for its roots.
	root      sdktrace.Sampler
	transport *http.Transport
}

// New returns a Tracer exporting to cfg's collector. It connects to
// nothing until the first batch is exported.
func New(cfg config.Tracing, log *slog.Logger) (*Tracer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	endpoint, err := tracesURL(cfg.OTLPEndpoint)
	if err != nil {
		return nil, err
	}
	t := &Tracer{cfg: cfg, root: sdktrace.TraceIDRatioBased(cfg.Ratio()), transport: newTransport()}
	exp := newOTLPExporter(endpoint, &http.Client{Transport: t.transport, Timeout: exportTimeout})
	exp.fromEnv(os.Getenv, log)
	res := resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName))
	t.provider = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(t.root)),
		sdktrace.WithIDGenerator(idGenerator{}),
		sdktrace.WithBatcher(&loggedExporter{SpanExporter: exp, log: log, endpoint: endpoint},
			sdktrace.WithMaxQueueSize(queueSize),
			sdktrace.WithMaxExportBatchSize(batchSize),
			sdktrace.WithBatchTimeout(batchDelay),
			sdktrace.WithExportTimeout(exportTimeout)),
	)
	t.tracer = t.provider.Tracer("github.com/rgate/rgate")
	return t, nil
}

// Config returns the settings t was built from.
func (t *Tracer) Config() config.Tracing { return t.cfg }

// Shutdown exports the spans still queued, waiting at most until ctx is
// done, and stops t. Spans ended after it are dropped.
func (t *Tracer) Shutdown(ctx context.Context) error {
	err := t.provider.Shutdown(ctx)
	t.transport.CloseIdleConnections()
	return err
}

// tracesURL is the OTLP/HTTP traces URL of endpoint: its own path, or
// /v1/traces when it has none.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("parsing tracing.otlp_endpoint: %w", err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// newTransport is the exporter's own connection pool, closed at Shutdown.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   exportTimeout,
		ResponseHeaderTimeout: exportTimeout,
		ForceAttemptHTTP2:     true,
	}
}

// Begin decides whether r, which route serves, is sampled, fills tc with
// the trace context to send upstream, and, when it is sampled, starts
// its server span. An unsampled request gets the zero Span and allocates
// at most its new traceparent (none when the client sent one).
func (t *Tracer) Begin(r *http.Request, route string, tc *reqinfo.Trace) Span {
	in, ok := parseParent(r.Header[HeaderParent])
	var ctx context.Context
	switch {
	case ok && !in.flags.IsSampled():
		tc.ID = in.traceID
		tc.Parent, tc.State = t.passOn(r, in)
		return Span{}
	case ok:
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: in.traceID, SpanID: in.spanID,
			TraceFlags: in.flags, TraceState: parseState(r.Header[HeaderState]), Remote: true})
		ctx = trace.ContextWithRemoteSpanContext(r.Context(), sc)
	default:
		tid := newTraceID()
		if !t.sampleRoot(tid) {
			tc.ID, tc.Parent = tid, formatParent(tid, newSpanID(), 0)
			return Span{}
		}
		ctx = withTraceID(r.Context(), tid)
	}
	_, s := t.tracer.Start(ctx, r.Method+" "+route, serverKind)
	sc := s.SpanContext()
	tc.ID = sc.TraceID()
	tc.Parent = formatParent(sc.TraceID(), sc.SpanID(), sc.TraceFlags())
	tc.State = sc.TraceState().String()
	return Span{s: s, method: r.Method}
}

// serverKind is the one start option of every span, made once.
var serverKind = trace.WithSpanKind(trace.SpanKindServer)

// passOn returns the client's unsampled trace context as it is to be
// sent on: its own header when it is version 00, reformatted otherwise.
func (t *Tracer) passOn(r *http.Request, in parent) (tp, ts string) {
	tp = r.Header[HeaderParent][0]
	if !in.asIs {
		tp = formatParent(in.traceID, in.spanID, in.flags)
	}
	return tp, joinState(r.Header[HeaderState])
}

// sampleRoot asks the ratio sampler about a new trace. Its decision
// depends on the trace id alone; the empty parent context spares it a
// walk up the request's context.
func (t *Tracer) sampleRoot(tid trace.TraceID) bool {
	res := t.root.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: tid})
	return res.Decision == sdktrace.RecordAndSample
}

// parseState parses a sampled request's tracestate; an invalid one is
// dropped, as W3C Trace Context asks.
func parseState(vv []string) trace.TraceState {
	ts, err := trace.ParseTraceState(joinState(vv))
	if err != nil {
		return trace.TraceState{}
	}
	return ts
}

// Serves reports whether t was built from settings equal to c.
func (t *Tracer) Serves(c config.Tracing) bool {
	return t.cfg.OTLPEndpoint == c.OTLPEndpoint && t.cfg.ServiceName == c.ServiceName && t.cfg.Ratio() == c.Ratio()
}
