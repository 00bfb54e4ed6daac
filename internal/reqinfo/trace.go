package reqinfo

// Trace is a request's W3C trace context as it leaves for the upstream.
// The gateway fills it when tracing is on; the zero value means the
// request is not traced (tracing off, or a request no route took), and
// then the client's trace headers pass through untouched.
type Trace struct {
	// ID is the trace id: the client's, or a new one when rgate starts
	// the trace.
	ID [16]byte
	// Parent is the traceparent value sent upstream: rgate's span as the
	// parent when the request is sampled, the client's traceparent as it
	// came when the client's context is unsampled.
	Parent string
	// State is the tracestate value sent upstream ("" for none).
	State string
}

// On reports whether the request is traced.
func (t *Trace) On() bool { return t.Parent != "" }
