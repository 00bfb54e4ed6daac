package tracing

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// loggedExporter reports export failures to the log, once when they start
// and once when export works again, instead of to OpenTelemetry's global
// error handler (which would print one line per failed batch).
type loggedExporter struct {
	sdktrace.SpanExporter
	log      *slog.Logger
	endpoint string
	failing  atomic.Bool
}

func (e *loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	switch {
	case err != nil && !e.failing.Swap(true):
		e.log.Warn("trace export failing; spans are dropped until the collector answers",
			"endpoint", e.endpoint, "spans", len(spans), "error", err)
	case err == nil && e.failing.Swap(false):
		e.log.Info("trace export works again", "endpoint", e.endpoint)
	}
	return nil // reported above; the batch is dropped
}

// traceIDKey carries a trace id chosen before the span exists (a sampled
// request that starts a trace), for idGenerator.
type traceIDKey struct{}

func withTraceID(ctx context.Context, tid trace.TraceID) context.Context {
	return context.WithValue(ctx, traceIDKey{}, tid)
}

// idGenerator makes random ids, except that a new trace takes the id its
// sampling decision was made on (withTraceID).
type idGenerator struct{}

var _ sdktrace.IDGenerator = idGenerator{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	tid, ok := ctx.Value(traceIDKey{}).(trace.TraceID)
	if !ok {
		tid = newTraceID()
	}
	return tid, newSpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

func newTraceID() trace.TraceID {
	var tid trace.TraceID
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid
}

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}
