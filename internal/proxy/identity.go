package proxy

import (
	"net/url"
	"strings"

	"github.com/rgate/rgate/internal/mw/auth"
	"github.com/rgate/rgate/internal/reqinfo"
	"github.com/rgate/rgate/internal/route"
)

// compileIdentity sets up the plan's identity fields for a route with auth:
// the client's copies of every field set from the verified identity are
// dropped, and so is its credential unless the route forwards it.
func (p *Plan) compileIdentity(rt *route.Route) {
	a := rt.Auth
	if a == nil {
		return
	}
	p.identity = true
	p.drop = append(p.drop, auth.HeaderConsumer, auth.HeaderConsumerTier)
	p.drop = append(p.drop, a.Managed...)
	if !rt.ForwardCredentials {
		p.drop = append(p.drop, a.Credentials...)
		p.dropQuery = a.CredentialQuery
	}
}

// identityFields writes the verified identity of the request.
func (p *Plan) identityFields(id *reqinfo.Info, s fieldSink) error {
	if id == nil {
		return nil
	}
	if id.Consumer != "" && !p.req.Affects(auth.HeaderConsumer) {
		if err := s.field(auth.HeaderConsumer, id.Consumer); err != nil {
			return err
		}
	}
	if id.ConsumerTier != "" && !p.req.Affects(auth.HeaderConsumerTier) {
		if err := s.field(auth.HeaderConsumerTier, id.ConsumerTier); err != nil {
			return err
		}
	}
	for i := 0; i+1 < len(id.Identity); i += 2 {
		if p.req.Affects(id.Identity[i]) {
			continue
		}
		if err := s.field(id.Identity[i], id.Identity[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// dropParam removes every name=... parameter from a raw query, keeping
// the rest byte for byte.
func dropParam(raw, name string) string {
	var b strings.Builder
	changed := false
	for part := range strings.SplitSeq(raw, "&") {
		k, _, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == name {
			changed = true
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	if !changed {
		return raw
	}
	return b.String()
}
