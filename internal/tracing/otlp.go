package tracing

// # OTLP encoding
//
// otlpExporter sends spans as OTLP/HTTP protobuf
// (ExportTraceServiceRequest, POST, application/x-protobuf), the same
// request the SDK's otlptracehttp exporter sends, field for field (the
// test decodes both into the OTLP types and compares them). It writes the
// protobuf wire format straight from the SDK's read-only spans with
// protowire, where otlptracehttp first copies every span, attribute and
// value into generated structs and then marshals those by reflection:
// under load that copy and marshal were half of tracing's CPU (the
// rgate-tracing1 profile), and here they are one buffer per batch.
// The HTTP side is a plain POST on the tracer's own client: no retries
// (a collector that is down costs dropped spans, see loggedExporter), a
// 2xx answer is success. As with otlptracehttp, the standard variables
// OTEL_EXPORTER_OTLP_(TRACES_)HEADERS add headers (a collector's API key)
// and OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION=gzip compresses the body.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rgate/rgate/internal/h1syntax"
)

// maxAnswer bounds what is read of a collector's answer.
const maxAnswer = 64 << 10

// otlpExporter is an sdktrace.SpanExporter posting OTLP/HTTP protobuf.
type otlpExporter struct {
	url     string
	client  *http.Client
	headers http.Header // from the environment, added to every export
	gzip    bool

	mu       sync.Mutex
	sizeHint int // the last request's size, to allocate the next one once
	stopped  bool
}

var _ sdktrace.SpanExporter = (*otlpExporter)(nil)

func newOTLPExporter(url string, client *http.Client) *otlpExporter {
	return &otlpExporter{url: url, client: client, headers: http.Header{}}
}

// fromEnv reads the OTLP exporter variables rgate honours: headers and
// compression, the traces-specific variable over the general one. An
// entry it cannot use is skipped with a warning naming the variable and
// the header, never the value (it is often a credential).
func (e *otlpExporter) fromEnv(getenv func(string) string, log *slog.Logger) {
	name, v := "OTEL_EXPORTER_OTLP_TRACES_HEADERS", getenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
	if v == "" {
		name, v = "OTEL_EXPORTER_OTLP_HEADERS", getenv("OTEL_EXPORTER_OTLP_HEADERS")
	}
	for i, entry := range strings.Split(v, ",") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		k, val, ok := strings.Cut(entry, "=")
		k = strings.TrimSpace(k)
		if !ok || !h1syntax.ValidTokenString(k) {
			log.Warn("ignoring an OTLP header entry: not name=value", "variable", name, "entry", i+1, "header", k)
			continue
		}
		val, err := url.PathUnescape(val)
		if err != nil {
			log.Warn("ignoring an OTLP header entry: bad %-escape in its value", "variable", name, "header", k)
			continue
		}
		e.headers.Set(k, strings.TrimSpace(val))
	}
	name, v = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", getenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION")
	if v == "" {
		name, v = "OTEL_EXPORTER_OTLP_COMPRESSION", getenv("OTEL_EXPORTER_OTLP_COMPRESSION")
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "gzip":
		e.gzip = true
	case "", "none":
	default:
		log.Warn("ignoring an unknown OTLP compression; sending uncompressed", "variable", name, "value", v)
	}
}

// ExportSpans posts spans in one request, waiting at most until ctx ends.
func (e *otlpExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return errors.New("exporter stopped")
	}
	body := appendExportRequest(make([]byte, 0, e.sizeHint), spans)
	e.sizeHint = len(body) + len(body)/8
	e.mu.Unlock()

	if e.gzip {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(body)
		if err := zw.Close(); err != nil {
			return err
		}
		body = zb.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vv := range e.headers {
		req.Header[k] = vv
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "rgate")
	if e.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(answer))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return fmt.Errorf("collector answered %s: %q", resp.Status, msg)
	}
	return nil
}

// Shutdown stops the exporter; later exports fail.
func (e *otlpExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	return nil
}

// OTLP field numbers (opentelemetry/proto, trace/v1, common/v1,
// resource/v1, collector/trace/v1).
const (
	fRequestResourceSpans = 1

	fResourceSpansResource   = 1
	fResourceSpansScopeSpans = 2
	fResourceSpansSchemaURL  = 3
	fResourceAttributes      = 1
	fResourceDropped         = 2

	fScopeSpansScope     = 1
	fScopeSpansSpans     = 2
	fScopeSpansSchemaURL = 3
	fScopeName           = 1
	fScopeVersion        = 2
	fScopeAttributes     = 3

	fSpanTraceID       = 1
	fSpanSpanID        = 2
	fSpanTraceState    = 3
	fSpanParentSpanID  = 4
	fSpanName          = 5
	fSpanKind          = 6
	fSpanStart         = 7
	fSpanEnd           = 8
	fSpanAttributes    = 9
	fSpanDroppedAttrs  = 10
	fSpanEvents        = 11
	fSpanDroppedEvents = 12
	fSpanLinks         = 13
	fSpanDroppedLinks  = 14
	fSpanStatus        = 15
	fSpanFlags         = 16

	fEventTime       = 1
	fEventName       = 2
	fEventAttributes = 3
	fEventDropped    = 4

	fLinkTraceID    = 1
	fLinkSpanID     = 2
	fLinkAttributes = 4
	fLinkDropped    = 5
	fLinkFlags      = 6

	fStatusMessage = 2
	fStatusCode    = 3

	fKeyValueKey   = 1
	fKeyValueValue = 2
	fValueString   = 1
	fValueBool     = 2
	fValueInt      = 3
	fValueDouble   = 4
	fValueArray    = 5
	fValueKVList   = 6
	fValueBytes    = 7
	fListValues    = 1 // ArrayValue.values and KeyValueList.values

	// Span flags: the low byte is the W3C trace flags; these say whether
	// the parent is known to be remote, and whether it is.
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// group is the spans of one resource and one instrumentation scope, in
// the order they came.
type group struct {
	res   attribute.Distinct
	scope instrumentation.Scope
	spans []sdktrace.ReadOnlySpan
}

// appendExportRequest appends the ExportTraceServiceRequest of spans to
// b: one ResourceSpans per resource, holding one ScopeSpans per scope,
// each in the order first seen. rgate's spans have one resource and one
// scope, so there is one group; the search below is over that handful.
func appendExportRequest(b []byte, spans []sdktrace.ReadOnlySpan) []byte {
	var groups []group
	for _, s := range spans {
		if s == nil {
			continue
		}
		res, scope := s.Resource().Equivalent(), s.InstrumentationScope()
		i := slices.IndexFunc(groups, func(g group) bool { return g.res == res && g.scope == scope })
		if i < 0 {
			groups = append(groups, group{res: res, scope: scope, spans: make([]sdktrace.ReadOnlySpan, 0, len(spans))})
			i = len(groups) - 1
		}
		groups[i].spans = append(groups[i].spans, s)
	}
	for i, g := range groups {
		if slices.ContainsFunc(groups[:i], func(h group) bool { return h.res == g.res }) {
			continue // written with the first group of its resource
		}
		r := g.spans[0].Resource()
		var at int
		b, at = openField(b, fRequestResourceSpans)
		if r != nil {
			var rat int
			b, rat = openField(b, fResourceSpansResource)
			for it := r.Iter(); it.Next(); {
				b = appendKeyValue(b, fResourceAttributes, it.Attribute())
			}
			b = closeField(b, rat)
		}
		for _, h := range groups[i:] {
			if h.res == g.res {
				b = appendScopeSpans(b, h)
			}
		}
		b = appendString(b, fResourceSpansSchemaURL, schemaURL(r))
		b = closeField(b, at)
	}
	return b
}

func schemaURL(r *resource.Resource) string {
	if r == nil {
		return ""
	}
	return r.SchemaURL()
}

func appendScopeSpans(b []byte, g group) []byte {
	var at int
	b, at = openField(b, fResourceSpansScopeSpans)
	if g.scope != (instrumentation.Scope{}) {
		var sat int
		b, sat = openField(b, fScopeSpansScope)
		b = appendString(b, fScopeName, g.scope.Name)
		b = appendString(b, fScopeVersion, g.scope.Version)
		for it := g.scope.Attributes.Iter(); it.Next(); {
			b = appendKeyValue(b, fScopeAttributes, it.Attribute())
		}
		b = closeField(b, sat)
	}
	for _, s := range g.spans {
		b = appendSpan(b, s)
	}
	b = appendString(b, fScopeSpansSchemaURL, g.scope.SchemaURL)
	return closeField(b, at)
}

func appendSpan(b []byte, s sdktrace.ReadOnlySpan) []byte {
	var at int
	b, at = openField(b, fScopeSpansSpans)
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytes(b, fSpanTraceID, tid[:])
	b = appendBytes(b, fSpanSpanID, sid[:])
	b = appendString(b, fSpanTraceState, sc.TraceState().String())
	parent := s.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		b = appendBytes(b, fSpanParentSpanID, psid[:])
	}
	b = appendString(b, fSpanName, s.Name())
	b = appendVarint(b, fSpanKind, uint64(spanKind(s.SpanKind())))
	b = appendFixed64(b, fSpanStart, unixNano(s.StartTime().UnixNano()))
	b = appendFixed64(b, fSpanEnd, unixNano(s.EndTime().UnixNano()))
	for _, kv := range s.Attributes() {
		b = appendKeyValue(b, fSpanAttributes, kv)
	}
	b = appendVarint(b, fSpanDroppedAttrs, clampUint32(s.DroppedAttributes()))
	for _, ev := range s.Events() {
		var eat int
		b, eat = openField(b, fSpanEvents)
		b = appendFixed64(b, fEventTime, unixNano(ev.Time.UnixNano()))
		b = appendString(b, fEventName, ev.Name)
		for _, kv := range ev.Attributes {
			b = appendKeyValue(b, fEventAttributes, kv)
		}
		b = appendVarint(b, fEventDropped, clampUint32(ev.DroppedAttributeCount))
		b = closeField(b, eat)
	}
	b = appendVarint(b, fSpanDroppedEvents, clampUint32(s.DroppedEvents()))
	for _, l := range s.Links() {
		var lat int
		b, lat = openField(b, fSpanLinks)
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		b = appendBytes(b, fLinkTraceID, ltid[:])
		b = appendBytes(b, fLinkSpanID, lsid[:])
		for _, kv := range l.Attributes {
			b = appendKeyValue(b, fLinkAttributes, kv)
		}
		b = appendVarint(b, fLinkDropped, clampUint32(l.DroppedAttributeCount))
		b = appendFixed32(b, fLinkFlags, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
		b = closeField(b, lat)
	}
	b = appendVarint(b, fSpanDroppedLinks, clampUint32(s.DroppedLinks()))
	st := s.Status()
	var sat int
	b, sat = openField(b, fSpanStatus) // always present, as otlptracehttp sends it
	b = appendString(b, fStatusMessage, st.Description)
	b = appendVarint(b, fStatusCode, statusCode(st.Code))
	b = closeField(b, sat)
	b = appendFixed32(b, fSpanFlags, spanFlags(sc.TraceFlags(), parent))
	return closeField(b, at)
}

// appendKeyValue appends the KeyValue kv as field num.
func appendKeyValue(b []byte, num protowire.Number, kv attribute.KeyValue) []byte {
	var at int
	b, at = openField(b, num)
	b = appendString(b, fKeyValueKey, string(kv.Key))
	b = appendValue(b, fKeyValueValue, kv.Value)
	return closeField(b, at)
}

// appendValue appends the AnyValue of v as field num. Every oneof member
// is written even when zero (it has presence); a value of a type OTLP
// has no place for becomes the string "INVALID", as in otlptracehttp.
func appendValue(b []byte, num protowire.Number, v attribute.Value) []byte {
	var at int
	b, at = openField(b, num)
	switch v.Type() {
	case attribute.EMPTY:
	case attribute.BOOL:
		b = appendBool(b, v.AsBool())
	case attribute.INT64:
		b = appendInt(b, v.AsInt64())
	case attribute.FLOAT64:
		b = appendDouble(b, v.AsFloat64())
	case attribute.STRING:
		b = appendOneofString(b, v.AsString())
	case attribute.BYTESLICE:
		b = protowire.AppendTag(b, fValueBytes, protowire.BytesType)
		b = protowire.AppendBytes(b, v.AsByteSlice())
	case attribute.BOOLSLICE:
		b = appendArray(b, v.AsBoolSlice(), appendBool)
	case attribute.INT64SLICE:
		b = appendArray(b, v.AsInt64Slice(), appendInt)
	case attribute.FLOAT64SLICE:
		b = appendArray(b, v.AsFloat64Slice(), appendDouble)
	case attribute.STRINGSLICE:
		b = appendArray(b, v.AsStringSlice(), appendOneofString)
	case attribute.SLICE:
		var aat int
		b, aat = openField(b, fValueArray)
		for _, e := range v.AsSlice() {
			b = appendValue(b, fListValues, e)
		}
		b = closeField(b, aat)
	case attribute.MAP:
		var mat int
		b, mat = openField(b, fValueKVList)
		for _, kv := range v.AsMap() {
			b = appendKeyValue(b, fListValues, kv)
		}
		b = closeField(b, mat)
	default:
		b = appendOneofString(b, "INVALID")
	}
	return closeField(b, at)
}

// appendArray appends an ArrayValue of vs, each an AnyValue written by
// one, as the AnyValue's array member.
func appendArray[T any](b []byte, vs []T, one func([]byte, T) []byte) []byte {
	var at int
	b, at = openField(b, fValueArray)
	for _, v := range vs {
		var eat int
		b, eat = openField(b, fListValues)
		b = one(b, v)
		b = closeField(b, eat)
	}
	return closeField(b, at)
}

func appendBool(b []byte, v bool) []byte {
	b = protowire.AppendTag(b, fValueBool, protowire.VarintType)
	return protowire.AppendVarint(b, protowire.EncodeBool(v))
}

func appendInt(b []byte, v int64) []byte {
	b = protowire.AppendTag(b, fValueInt, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func appendDouble(b []byte, v float64) []byte {
	b = protowire.AppendTag(b, fValueDouble, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

func appendOneofString(b []byte, v string) []byte {
	b = protowire.AppendTag(b, fValueString, protowire.BytesType)
	return protowire.AppendString(b, v)
}

// The scalar appenders leave out a zero value, as proto3 does for fields
// without presence.

func appendString(b []byte, num protowire.Number, v string) []byte {
	if v == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, v)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendFixed64(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

func appendFixed32(b []byte, num protowire.Number, v uint32) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, v)
}

// openField appends the tag of the length-delimited field num and one
// byte for its length, and returns where its content starts; closeField
// writes the length once the content is appended.
func openField(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = append(b, 0)
	return b, len(b)
}

// closeField writes the length of the content appended since start
// (from openField), moving the content up when the length needs more
// than the one byte reserved for it.
func closeField(b []byte, start int) []byte {
	n := len(b) - start
	if size := protowire.SizeVarint(uint64(n)); size > 1 {
		b = slices.Grow(b, size-1)[:len(b)+size-1]
		copy(b[start+size-1:], b[start:start+n])
	}
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}

func unixNano(ns int64) uint64 { return uint64(max(0, ns)) }

func clampUint32(n int) uint64 { return uint64(min(max(n, 0), math.MaxUint32)) }

// spanFlags is the OTLP flags field: the W3C trace flags and whether the
// parent (or a link's context) is remote.
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | flagHasIsRemote
	if parent.IsRemote() {
		f |= flagIsRemote
	}
	return f
}

// spanKind is the OTLP SpanKind of k (the same numbers, 0 unspecified).
func spanKind(k trace.SpanKind) int {
	switch k {
	case trace.SpanKindInternal, trace.SpanKindServer, trace.SpanKindClient, trace.SpanKindProducer, trace.SpanKindConsumer:
		return int(k)
	}
	return 0
}

// statusCode is the OTLP status code of c: 0 unset, 1 ok, 2 error.
func statusCode(c codes.Code) uint64 {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	}
	return 0
}
