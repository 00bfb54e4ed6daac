package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
)

// Tracing exports OpenTelemetry spans, one server span per routed request,
// over OTLP/HTTP, and propagates W3C trace context (traceparent,
// tracestate) to upstreams. Absent: no tracing, and no tracing work on the
// request path.
type Tracing struct {
	// OTLPEndpoint is the collector's OTLP/HTTP URL, http:// or https://.
	// A URL without a path gets OTLP's traces path, /v1/traces
	// ("http://127.0.0.1:4318" sends to http://127.0.0.1:4318/v1/traces);
	// one with a path is used as it is. Default "http://127.0.0.1:4318".
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the share of requests that start a trace at rgate
	// (no valid traceparent came with them) whose spans are recorded and
	// exported, 0..1, decided from the trace id (TraceIDRatioBased). A
	// request with a traceparent follows its sampled flag (parent-based):
	// a sampled one is always kept, an unsampled one never is. Default 1.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name resource attribute of rgate's spans.
	// Default "rgate".
	ServiceName string `yaml:"service_name"`
}

// Tracing defaults.
const (
	DefaultOTLPEndpoint       = "http://127.0.0.1:4318"
	DefaultSampleRatio        = 1.0
	DefaultTracingServiceName = "rgate"
)

// Ratio returns the sample ratio, the default when absent.
func (t Tracing) Ratio() float64 {
	if t.SampleRatio == nil {
		return DefaultSampleRatio
	}
	return *t.SampleRatio
}

func (t *Tracing) applyDefaults() {
	if t.OTLPEndpoint == "" {
		t.OTLPEndpoint = DefaultOTLPEndpoint
	}
	if t.ServiceName == "" {
		t.ServiceName = DefaultTracingServiceName
	}
}

func (ch *checker) tracing(t *Tracing) {
	if t == nil {
		return
	}
	if err := checkOTLPEndpoint(t.OTLPEndpoint); err != nil {
		ch.add("tracing.otlp_endpoint", "%v", err)
	}
	if r := t.SampleRatio; r != nil && (math.IsNaN(*r) || *r < 0 || *r > 1) {
		ch.add("tracing.sample_ratio", "must be in 0..1, got %g", *r)
	}
}

// checkOTLPEndpoint says what is wrong with an OTLP/HTTP endpoint URL.
func checkOTLPEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("invalid url %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("url %q must start with http:// or https://, such as \"http://127.0.0.1:4318\"", raw)
	case u.Opaque != "" || u.Hostname() == "":
		return fmt.Errorf("url %q has no host, want \"%s://host:port\"", raw, u.Scheme)
	case u.User != nil:
		return fmt.Errorf("url %q must not contain user info", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("url %q must not have a query or fragment", raw)
	}
	return nil
}
