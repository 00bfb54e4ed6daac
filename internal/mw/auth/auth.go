// Package auth is the route middleware that knows who calls: it checks the
// request's credential by the route's auth policy, refuses what does not
// pass, and records the verified identity in the request's reqinfo.Info.
//
// # Model
//
// A Policy (one per auth entry of the config) lists methods, tried in
// order; a method whose credential the request does not carry is skipped,
// and the first that accepts the credential authenticates the request:
//
//	api_key  the key from a header (default X-API-Key) or a query
//	         parameter, looked up by its SHA-256 among the consumers'
//	jwt      "Authorization: Bearer <JWT>": signature by a key of the
//	         JWKS (or the HS* secret), exp, nbf, iss and aud with leeway;
//	         only the configured algorithms are accepted, never "none"
//	basic    "Authorization: Basic": a consumer's username and password
//	         (bcrypt; a correct one is cached, see package consumer)
//	forward  a GET to another service; a 2xx lets the request through,
//	         any other answer goes back to the client as it is, and a
//	         timeout or failure is 503 (fail closed)
//
// When none accepts, the answer is 401 with a WWW-Authenticate challenge
// per method (Bearer with error="invalid_token" when a token was sent and
// refused, RFC 6750; Basic with the realm). An authenticated consumer not
// in the route's allow_consumers gets 403. None of these answers reaches
// the upstream.
//
// # Identity
//
// The verified identity goes into reqinfo.Info: Consumer and ConsumerTier
// (read by rate limits, the access log, metrics, /requests), and Identity:
// forwarded claims and a forward service's answer headers. The route's
// outbound plan (package proxy) drops every client-sent copy of those
// headers, and the credential itself unless forward_credentials is set,
// before it writes the verified ones.
//
// # State
//
// Policies are compiled with every routing table; what must outlive a
// table (a JWKS fetched from a URL, with its refresh loop) lives in a
// Registry that the caller keeps and closes at shutdown.
package auth

import (
	"net/http"
	"slices"

	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/reqinfo"
)

// identity is what a method verified.
type identity struct {
	consumer string
	tier     string
	fields   []string // name, value pairs
}

// outcome of one method.
type outcome int

const (
	absent   outcome = iota // the request carries no credential for it
	refused                 // it carries one that does not verify
	accepted                // verified
	answered                // the method answered the client itself (forward)
)

// method is one way of authenticating.
type method interface {
	check(w http.ResponseWriter, r *http.Request) (outcome, identity)
	// challenge is the WWW-Authenticate value after the method's outcome
	// o (absent or refused), or "".
	challenge(o outcome) string
}

// handler authenticates, then calls next.
type handler struct {
	p     *Policy
	allow []string
	next  http.Handler
}

// New returns next behind p. allow, when not empty, are the only consumers
// let through. A nil p returns next as is.
func New(p *Policy, allow []string, next http.Handler) http.Handler {
	if p == nil {
		return next
	}
	return &handler{p: p, allow: allow, next: next}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := reqinfo.From(w)
	info.CredentialQuery = h.p.CredentialQuery
	var outcomes [4]outcome
	for i, m := range h.p.methods {
		switch o, id := m.check(w, r); o {
		case accepted:
			if len(h.allow) > 0 && !slices.Contains(h.allow, id.consumer) {
				info.Consumer, info.ConsumerTier, info.AuthFailed = id.consumer, id.tier, true
				httperr.Write(w, r, httperr.ErrForbidden)
				return
			}
			info.Consumer, info.ConsumerTier, info.Identity = id.consumer, id.tier, id.fields
			h.next.ServeHTTP(w, r)
			return
		case answered:
			info.AuthFailed = true
			return
		default:
			outcomes[i] = o
		}
	}
	info.AuthFailed = true
	hdr := w.Header()
	for i, m := range h.p.methods {
		if c := m.challenge(outcomes[i]); c != "" {
			hdr["Www-Authenticate"] = append(hdr["Www-Authenticate"], c)
		}
	}
	httperr.Write(w, r, httperr.ErrUnauthorized)
}

// Interface guards.
var (
	_ method = (*apiKey)(nil)
	_ method = (*jwtAuth)(nil)
	_ method = (*basicAuth)(nil)
	_ method = (*forward)(nil)

	_ keySource = (*jwksURL)(nil)
	_ keySource = (*staticKeys)(nil)
)
