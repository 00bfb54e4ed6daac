package tracing

import (
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// W3C Trace Context header fields (canonical form, as in an http.Header).
const (
	HeaderParent = "Traceparent"
	HeaderState  = "Tracestate"
)

// parentLen is the length of a version 00 traceparent:
// "00-" 32 hex "-" 16 hex "-" 2 hex.
const parentLen = 55

// parent is a parsed traceparent.
type parent struct {
	traceID trace.TraceID
	spanID  trace.SpanID
	flags   trace.TraceFlags
	// asIs: the value is a version 00 one that can be sent on unchanged.
	asIs bool
}

// parseParent parses the traceparent field values vv as W3C Trace Context
// (level 1) says: exactly one value; version 00 is exactly 55 characters,
// a later version at least that with a '-' after them; lower-case hex
// only; version ff, an all-zero trace id or parent id are invalid. It
// allocates nothing.
func parseParent(vv []string) (parent, bool) {
	var p parent
	if len(vv) != 1 {
		return p, false
	}
	v := vv[0]
	if len(v) < parentLen || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return p, false
	}
	var ver [1]byte
	if !decodeHex(ver[:], v[0:2]) || ver[0] == 0xff || (ver[0] == 0 && len(v) != parentLen) ||
		(len(v) > parentLen && v[parentLen] != '-') {
		return p, false
	}
	var fl [1]byte
	if !decodeHex(p.traceID[:], v[3:35]) || !decodeHex(p.spanID[:], v[36:52]) || !decodeHex(fl[:], v[53:55]) {
		return p, false
	}
	if !p.traceID.IsValid() || !p.spanID.IsValid() {
		return p, false
	}
	p.flags = trace.TraceFlags(fl[0])
	p.asIs = ver[0] == 0
	return p, true
}

// decodeHex decodes lower-case hex s into dst (len(s) == 2*len(dst)).
func decodeHex(dst []byte, s string) bool {
	for i := range dst {
		hi, ok1 := hexVal(s[2*i])
		lo, ok2 := hexVal(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// formatParent returns the version 00 traceparent for a span.
func formatParent(tid trace.TraceID, sid trace.SpanID, flags trace.TraceFlags) string {
	var b [parentLen]byte
	b[0], b[1], b[2] = '0', '0', '-'
	n := 3
	for _, c := range tid {
		b[n], b[n+1] = hexDigits[c>>4], hexDigits[c&0xf]
		n += 2
	}
	b[n] = '-'
	n++
	for _, c := range sid {
		b[n], b[n+1] = hexDigits[c>>4], hexDigits[c&0xf]
		n += 2
	}
	b[n], b[n+1], b[n+2] = '-', hexDigits[flags>>4], hexDigits[flags&0xf]
	return string(b[:])
}

// joinState returns the tracestate field's values as one list (a field
// sent on several lines is one comma-separated list); "" for none.
func joinState(vv []string) string {
	switch len(vv) {
	case 0:
		return ""
	case 1:
		return vv[0]
	}
	return strings.Join(vv, ",")
}
