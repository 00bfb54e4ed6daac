package tracing

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rgate/rgate/internal/reqinfo"
)

// Span attribute keys. The OpenTelemetry HTTP semantic conventions' names
// where one exists, rgate.* for the gateway's own facts.
//
// The request's path and the client's address are left out: they can
// carry personal data, and the access log, which has them, shares the
// trace id.
const (
	AttrMethod    = "http.request.method"
	AttrRoute     = "http.route"
	AttrStatus    = "http.response.status_code"
	AttrBackend   = "rgate.backend"
	AttrUpstream  = "rgate.upstream"
	AttrContainer = "rgate.container"
	AttrRetries   = "rgate.retries"
	AttrConsumer  = "rgate.consumer"
)

// Span is one request's server span; the zero Span (an unsampled or
// untraced request) does nothing.
type Span struct {
	s      trace.Span
	method string
}

// Recording reports whether s records anything.
func (s Span) Recording() bool { return s.s != nil }

// SetConsumer records the authenticated consumer's name ("" for an
// anonymous request: nothing is recorded).
func (s Span) SetConsumer(name string) {
	if s.s != nil && name != "" {
		s.s.SetAttributes(attribute.String(AttrConsumer, name))
	}
}

// End records the request's outcome from info and ends s: route, backend,
// the upstream last tried, the status, how many times the request was
// sent again. A 5xx answer marks the span as an error.
func (s Span) End(info *reqinfo.Info) {
	if s.s == nil {
		return
	}
	attrs := [...]attribute.KeyValue{
		attribute.String(AttrMethod, s.method),
		attribute.String(AttrRoute, info.Route),
		attribute.Int(AttrStatus, info.Status),
		attribute.String(AttrBackend, info.Backend),
		attribute.String(AttrUpstream, info.Upstream),
		attribute.Int(AttrRetries, info.Retries),
		attribute.String(AttrContainer, info.Container),
	}
	n := len(attrs)
	if info.Container == "" {
		n-- // a static url: no container
	}
	s.s.SetAttributes(attrs[:n]...)
	if info.Status >= 500 {
		s.s.SetStatus(codes.Error, "")
	}
	s.s.End()
}
