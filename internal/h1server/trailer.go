package h1server

import (
	"net/http"
	"net/textproto"
	"strings"
)

// foreachHeaderElement splits v according to the "#rule" construction
// and calls fn for each non-empty element (net/http's).
func foreachHeaderElement(v string, fn func(string)) {
	v = textproto.TrimString(v)
	if v == "" {
		return
	}
	if !strings.Contains(v, ",") {
		fn(v)
		return
	}
	for f := range strings.SplitSeq(v, ",") {
		if f = textproto.TrimString(f); f != "" {
			fn(f)
		}
	}
}

// badTrailer is httpguts' list of header fields not allowed as trailers.
var badTrailer = map[string]bool{
	"Authorization":       true,
	"Cache-Control":       true,
	"Connection":          true,
	"Content-Encoding":    true,
	"Content-Length":      true,
	"Content-Range":       true,
	"Content-Type":        true,
	"Expect":              true,
	"Host":                true,
	"Keep-Alive":          true,
	"Max-Forwards":        true,
	"Pragma":              true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Proxy-Connection":    true,
	"Range":               true,
	"Realm":               true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Www-Authenticate":    true,
}

// declareTrailer notes a trailer declared in the "Trailer" header.
func (w *response) declareTrailer(k string) {
	k = http.CanonicalHeaderKey(k)
	if strings.HasPrefix(k, "If-") || badTrailer[k] {
		return
	}
	w.trailers = append(w.trailers, k)
}

// finalTrailers returns the trailers to send, or nil.
func (w *response) finalTrailers() http.Header {
	var t http.Header
	for k, vv := range w.handlerHeader {
		if kk, found := strings.CutPrefix(k, http.TrailerPrefix); found {
			if t == nil {
				t = make(http.Header)
			}
			t[kk] = vv
		}
	}
	for _, k := range w.trailers {
		if t == nil {
			t = make(http.Header)
		}
		for _, v := range w.handlerHeader[k] {
			t.Add(k, v)
		}
	}
	return t
}

// noteTrailers leaves the fake "Trailer:foo" keys (http.TrailerPrefix) out
// of the header written and declares the trailers the Trailer field names.
// It reports whether the handler set either.
func (w *response) noteTrailers(header http.Header) (trailers bool) {
	for k := range header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			w.excludeKey(k)
			trailers = true
		}
	}
	for _, v := range header["Trailer"] {
		trailers = true
		foreachHeaderElement(v, w.declareTrailer)
	}
	return trailers
}
