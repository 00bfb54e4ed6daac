package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/consumer"
	"github.com/rgate/rgate/internal/h1syntax"
	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/reqinfo"
)

// maxForwardBody caps the refusal body passed back to the client.
const maxForwardBody = 64 << 10

// passedBack are the fields of a forward service's refusal that reach the
// client with its status and body.
var passedBack = []string{"Www-Authenticate", "Location", "Content-Type", "Set-Cookie", "Retry-After"}

// forward asks another service. A 2xx lets the request through with the
// answer's response_headers (and its X-Consumer / X-Consumer-Tier, when it
// sends them, as the consumer); any other answer goes back to the client;
// no answer within the timeout is 503.
type forward struct {
	url             string
	client          *http.Client
	cs              *consumer.Table
	timeout         time.Duration
	requestHeaders  []string // canonical
	responseHeaders []string // canonical
}

func newForward(fc *config.ForwardAuth, cs *consumer.Table, reg *Registry) *forward {
	f := &forward{url: fc.URL, client: reg.client, cs: cs, timeout: fc.Timeout.D()}
	for _, h := range fc.RequestHeaders {
		f.requestHeaders = append(f.requestHeaders, http.CanonicalHeaderKey(h))
	}
	for _, h := range fc.ResponseHeaders {
		f.responseHeaders = append(f.responseHeaders, http.CanonicalHeaderKey(h))
	}
	return f
}

func (f *forward) challenge(outcome) string { return "" }

func (f *forward) check(w http.ResponseWriter, r *http.Request) (o outcome, id identity) {
	ctx, cancel := context.WithTimeout(r.Context(), f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		httperr.Write(w, r, httperr.ErrAuthUnavailable)
		return answered, id
	}
	for _, h := range f.requestHeaders {
		if v := r.Header[h]; v != nil {
			req.Header[h] = v
		}
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	req.Header["X-Forwarded-Method"] = []string{r.Method}
	req.Header["X-Forwarded-Proto"] = []string{proto}
	req.Header["X-Forwarded-Host"] = []string{r.Host}
	req.Header["X-Forwarded-Uri"] = []string{r.URL.RequestURI()}
	if ip := reqinfo.From(w).ClientIP; ip != "" {
		req.Header["X-Forwarded-For"] = []string{ip}
	}
	res, err := f.client.Do(req)
	if err != nil {
		if r.Context().Err() != nil {
			httperr.Write(w, r, context.Canceled) // the client left: nothing is written
		} else {
			httperr.Write(w, r, errors.Join(httperr.ErrAuthUnavailable, err))
		}
		return answered, id
	}
	defer res.Body.Close()
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxForwardBody))
		f.accept(res.Header, &id)
		return accepted, id
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxForwardBody))
	if err != nil && !errors.Is(err, io.EOF) {
		httperr.Write(w, r, httperr.ErrAuthUnavailable)
		return answered, id
	}
	hdr := w.Header()
	for _, k := range passedBack {
		if v := res.Header[k]; v != nil {
			hdr[k] = v
		}
	}
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(body)
	return answered, id
}

// accept takes the identity from a 2xx answer's header.
func (f *forward) accept(h http.Header, id *identity) {
	for _, k := range f.responseHeaders {
		if v := h.Get(k); v != "" {
			id.fields = append(id.fields, k, v)
		}
	}
	if name := h.Get(HeaderConsumer); name != "" && h1syntax.ValidFieldValue(name) {
		id.consumer = name
		if t := h.Get(HeaderConsumerTier); t != "" && h1syntax.ValidFieldValue(t) {
			id.tier = t
		} else if c := f.cs.Lookup(name); c != nil {
			id.tier = c.Tier
		}
	}
}
