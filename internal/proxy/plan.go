package proxy

import (
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"

	"github.com/rgate/rgate/internal/h1syntax"
	"github.com/rgate/rgate/internal/headers"
	"github.com/rgate/rgate/internal/reqid"
	"github.com/rgate/rgate/internal/reqinfo"
	"github.com/rgate/rgate/internal/route"
)

// Forwarding headers. The client's copies are dropped; they are believed,
// and passed on, only from trusted proxies (server.trusted_proxies).
const (
	headerXFF   = "X-Forwarded-For"
	headerXFH   = "X-Forwarded-Host"
	headerXFP   = "X-Forwarded-Proto"
	headerFwdBy = "Forwarded"
)

// W3C Trace Context fields. With tracing on, the client's copies are
// replaced by the request's trace context (reqinfo.Trace); with it off
// they pass through like any other field.
const (
	headerTraceparent = "Traceparent"
	headerTracestate  = "Tracestate"
)

// Plan is a route's outbound request, compiled once per route: what of
// the client's request leaves for the upstream, and what of the
// upstream's answer comes back. Every engine applies the same plan; none
// has header policy of its own.
//
// The outbound head carries, in this order: the client's fields except
// hop-by-hop ones (and those its Connection header names), the forwarding
// fields, framing fields and those the route's rules remove or set; the
// client's User-Agent (first value; none when empty); "Te: trailers" when
// the client accepts trailers; the upgrade fields of an upgrade request;
// X-Forwarded-For/-Host/-Proto (and Forwarded from a trusted proxy); the
// request id; traceparent and tracestate when the request is traced; the
// fields the route's rules set. Host and the body's
// framing are the engine's.
type Plan struct {
	prefix string // stripped from the path when strip is set
	strip  bool
	// upgrades are the protocols (lower case) a client may switch to.
	upgrades []string
	req      headers.Rules
	res      headers.Rules
	// set are the request rules' fields that a head can carry: rules
	// for Host and the framing fields are left out, as net/http's request
	// writer ignores those in a header map.
	set []setField
	// identity is set on a route with auth: drop are the client's fields
	// that never leave (the identity fields, the credential unless
	// forward_credentials), dropQuery the query parameter holding the
	// credential; the verified identity is written from reqinfo.
	identity  bool
	drop      []string
	dropQuery string
}

type setField struct {
	name  string
	value string
}

// NewPlan compiles rt's outbound plan.
func NewPlan(rt *route.Route) *Plan {
	p := &Plan{prefix: rt.Prefix, strip: rt.StripPrefix, upgrades: rt.Upgrades, req: rt.RequestHeaders, res: rt.ResponseHeaders}
	p.compileIdentity(rt)
	for i := range p.req.NumSet() {
		k, vv := p.req.Set(i)
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		for _, v := range vv {
			p.set = append(p.set, setField{k, v})
			if k == "User-Agent" {
				break // the writer sends the first value only
			}
		}
	}
	return p
}

// fieldSink receives the outbound head's fields in order.
type fieldSink interface {
	field(k, v string) error
}

// fields sends the outbound header fields for r to s. trusted says
// whether the client is a trusted proxy; info is the request's (its
// trace context, zero when it is not traced, and its verified identity).
func (p *Plan) fields(r *http.Request, trusted bool, info *reqinfo.Info, s fieldSink) error {
	named := h1syntax.ConnectionNames(r.Header["Connection"])
	traced := info != nil && info.Trace.On()
	for k, vv := range r.Header {
		if skipOutbound(k) || (named != nil && slices.Contains(named, k)) || p.req.Affects(k) ||
			traced && (k == headerTraceparent || k == headerTracestate) {
			continue
		}
		if p.identity && slices.Contains(p.drop, k) {
			continue
		}
		for _, v := range vv {
			if err := s.field(k, v); err != nil {
				return err
			}
		}
	}
	if ua := r.Header["User-Agent"]; len(ua) > 0 && !slices.Contains(named, "User-Agent") && !p.req.Affects("User-Agent") {
		if v := textproto.TrimString(ua[0]); v != "" {
			if err := s.field("User-Agent", v); err != nil {
				return err
			}
		}
	}
	if h1syntax.HeaderValuesContainsToken(r.Header["Te"], "trailers") && !p.req.Affects("Te") {
		_ = s.field("Te", "trailers")
	}
	if up := p.upgrade(r.Header); up != "" {
		_ = s.field("Connection", "Upgrade")
		if err := s.field("Upgrade", up); err != nil {
			return err
		}
	}
	if err := p.forwarded(r, trusted, s); err != nil {
		return err
	}
	if id := r.Header[reqid.Header]; len(id) > 0 && !p.req.Affects(reqid.Header) {
		if err := s.field(reqid.Header, id[0]); err != nil {
			return err
		}
	}
	if traced {
		if err := p.trace(&info.Trace, s); err != nil {
			return err
		}
	}
	if p.identity {
		if err := p.identityFields(info, s); err != nil {
			return err
		}
	}
	for _, f := range p.set {
		if err := s.field(f.name, f.value); err != nil {
			return err
		}
	}
	return nil
}

// trace sends the request's traceparent and tracestate, unless the
// route's rules set or remove them.
func (p *Plan) trace(tc *reqinfo.Trace, s fieldSink) error {
	if !p.req.Affects(headerTraceparent) {
		if err := s.field(headerTraceparent, tc.Parent); err != nil {
			return err
		}
	}
	if tc.State != "" && !p.req.Affects(headerTracestate) {
		return s.field(headerTracestate, tc.State)
	}
	return nil
}

// forwarded sends X-Forwarded-For/-Host/-Proto and Forwarded: from a
// trusted proxy, its X-Forwarded-For is extended with its address and its
// -Host, -Proto and Forwarded are kept; from anyone else, they describe
// this hop only.
func (p *Plan) forwarded(r *http.Request, trusted bool, s fieldSink) error {
	if !p.req.Affects(headerXFF) {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if prior := r.Header[headerXFF]; trusted && len(prior) > 0 {
				host = strings.Join(prior, ", ") + ", " + host
			}
			if err := s.field(headerXFF, host); err != nil {
				return err
			}
		}
	}
	if !p.req.Affects(headerXFH) {
		if err := keepOrSet(r, trusted, headerXFH, r.Host, s); err != nil {
			return err
		}
	}
	if !p.req.Affects(headerXFP) {
		proto := "http"
		if r.TLS != nil {
			proto = "https"
		}
		if err := keepOrSet(r, trusted, headerXFP, proto, s); err != nil {
			return err
		}
	}
	if !trusted || p.req.Affects(headerFwdBy) {
		return nil
	}
	for _, v := range r.Header[headerFwdBy] {
		if err := s.field(headerFwdBy, v); err != nil {
			return err
		}
	}
	return nil
}

// keepOrSet sends a trusted client's values of k, or else v.
func keepOrSet(r *http.Request, trusted bool, k, v string, s fieldSink) error {
	in := r.Header[k]
	if !trusted || len(in) == 0 {
		return s.field(k, v)
	}
	for _, x := range in {
		if err := s.field(k, x); err != nil {
			return err
		}
	}
	return nil
}

// skipOutbound names the client's fields that never leave as they came:
// hop-by-hop fields, the forwarding fields the plan rewrites, those the
// engine or the plan write themselves, and Expect: rgate answers
// "100 Continue" itself when it reads the body, as nginx does, so the
// upstream never makes the client wait for one.
func skipOutbound(k string) bool {
	switch k {
	case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"Host", "User-Agent", "Content-Length", "Expect", reqid.Header:
		return true
	}
	return h1syntax.IsHopByHop(k)
}

// upgrade is the protocol an upgrade request asks for, when the route
// allows it ("" otherwise: the request goes as an ordinary one). The
// request's Upgrade is read as httputil.ReverseProxy reads it.
func (p *Plan) upgrade(h http.Header) string {
	if h["Upgrade"] == nil || !h1syntax.HeaderValuesContainsToken(h["Connection"], "Upgrade") {
		return ""
	}
	up := h.Get("Upgrade")
	for _, allowed := range p.upgrades {
		if h1syntax.EqualFold(up, allowed) {
			return up
		}
	}
	return ""
}

// target returns the outbound URL's path and query for u: the route
// prefix stripped when the route says so; the query byte for byte.
func (p *Plan) target(u *url.URL) url.URL {
	out := *u
	if p.strip {
		stripPrefix(&out, p.prefix)
	}
	if p.dropQuery != "" && out.RawQuery != "" {
		out.RawQuery = dropParam(out.RawQuery, p.dropQuery)
	}
	return out
}

// response applies the plan to an answer's header: hop-by-hop fields go
// (not from a 101, whose Upgrade and Connection belong to the switch),
// then the route's response rules.
func (p *Plan) response(h http.Header, status int) {
	if status != http.StatusSwitchingProtocols {
		h1syntax.RemoveHopByHop(h)
	}
	p.res.Apply(h)
}

// trailers removes from an answer's trailers (announced or received) the
// fields a trailer must not carry.
func (p *Plan) trailers(t http.Header) {
	for k := range t {
		if h1syntax.ForbiddenInTrailer(k) {
			delete(t, k)
		}
	}
}

// stripPrefix removes the route prefix from the outbound path, keeping it
// absolute ("/api/payment" + "/api/payment" -> "/").
func stripPrefix(u *url.URL, prefix string) {
	u.Path = ensureSlash(strings.TrimPrefix(u.Path, prefix))
	if u.RawPath != "" {
		if rp, ok := strings.CutPrefix(u.RawPath, prefix); ok {
			u.RawPath = ensureSlash(rp)
		} else {
			u.RawPath = "" // escaped differently: let Path's encoding stand
		}
	}
}

func ensureSlash(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "/" + p
}

// headerSink collects the fields into a header map (the standard engine).
type headerSink http.Header

func (h headerSink) field(k, v string) error {
	h[k] = append(h[k], v)
	return nil
}
