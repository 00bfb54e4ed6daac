package auth

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/consumer"
)

// Header names the gateway sets from the verified identity.
const (
	HeaderConsumer     = "X-Consumer"
	HeaderConsumerTier = "X-Consumer-Tier"
)

// Policy is one compiled auth policy.
type Policy struct {
	Name        string
	methodNames []string
	methods     []method
	// Managed are the canonical names of the headers the policy may set
	// upstream besides X-Consumer and X-Consumer-Tier.
	Managed []string
	// Credentials are the canonical names of the headers that carry the
	// policy's credentials; CredentialQuery the query parameter ("" when
	// none).
	Credentials     []string
	CredentialQuery string
}

// NewPolicy compiles pc for the consumers of cs. Long-lived state (JWKS
// fetched from URLs, the forward client) comes from reg.
func NewPolicy(pc config.AuthPolicy, cs *consumer.Table, reg *Registry) *Policy {
	p := &Policy{Name: pc.Name, methodNames: pc.Methods}
	for _, m := range pc.Methods {
		switch m {
		case config.AuthAPIKey:
			k := &apiKey{cs: cs, query: pc.APIKey.Query}
			if k.query == "" {
				k.header = http.CanonicalHeaderKey(pc.APIKey.Header)
				p.addCredential(k.header)
				k.challengeValue = `APIKey realm="` + pc.Name + `", header="` + k.header + `"`
			} else {
				p.CredentialQuery = k.query
				k.challengeValue = `APIKey realm="` + pc.Name + `", query="` + k.query + `"`
			}
			p.methods = append(p.methods, k)
		case config.AuthJWT:
			j := newJWT(pc.JWT, pc.Name, cs, reg)
			p.methods = append(p.methods, j)
			p.addCredential("Authorization")
			for _, h := range j.claims {
				p.addManaged(h.header)
			}
		case config.AuthBasic:
			p.methods = append(p.methods, &basicAuth{cs: cs, challengeValue: `Basic realm="` + pc.Basic.Realm + `", charset="UTF-8"`})
			p.addCredential("Authorization")
		case config.AuthForward:
			f := newForward(pc.Forward, cs, reg)
			p.methods = append(p.methods, f)
			for _, h := range f.requestHeaders {
				if h == "Authorization" {
					p.addCredential(h)
				}
			}
			for _, h := range f.responseHeaders {
				p.addManaged(h)
			}
		}
	}
	return p
}

// Methods are the policy's methods, in the order they are tried.
func (p *Policy) Methods() []string { return p.methodNames }

func (p *Policy) addCredential(h string) {
	for _, x := range p.Credentials {
		if x == h {
			return
		}
	}
	p.Credentials = append(p.Credentials, h)
}

func (p *Policy) addManaged(h string) {
	h = http.CanonicalHeaderKey(h)
	for _, x := range p.Managed {
		if x == h {
			return
		}
	}
	p.Managed = append(p.Managed, h)
}

// apiKey authenticates by a consumer's API key.
type apiKey struct {
	cs             *consumer.Table
	header         string // canonical; "" when the key is in the query
	query          string
	challengeValue string
}

func (k *apiKey) check(_ http.ResponseWriter, r *http.Request) (o outcome, id identity) {
	var key string
	if k.header != "" {
		if v := r.Header[k.header]; len(v) > 0 {
			key = v[0]
		}
	} else if r.URL.RawQuery != "" {
		key = r.URL.Query().Get(k.query)
	}
	if key == "" {
		return absent, id
	}
	c := k.cs.ByAPIKey(key)
	if c == nil {
		return refused, id
	}
	id.consumer, id.tier = c.Name, c.Tier
	return accepted, id
}

// challenge names where the key goes (there is no registered scheme for
// API keys; a 401 still says how to authenticate, RFC 9110 11.6.1).
func (k *apiKey) challenge(outcome) string { return k.challengeValue }

// basicAuth authenticates by a consumer's username and password.
type basicAuth struct {
	cs             *consumer.Table
	challengeValue string
}

func (b *basicAuth) check(_ http.ResponseWriter, r *http.Request) (o outcome, id identity) {
	v := r.Header["Authorization"]
	if len(v) == 0 {
		return absent, id
	}
	enc, ok := cutScheme(v[0], "Basic")
	if !ok {
		return absent, id
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return refused, id
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return refused, id
	}
	c := b.cs.ByBasic(user, pass)
	if c == nil {
		return refused, id
	}
	id.consumer, id.tier = c.Name, c.Tier
	return accepted, id
}

func (b *basicAuth) challenge(outcome) string { return b.challengeValue }

// cutScheme returns the credentials of an Authorization value of the given
// scheme (compared case-insensitively).
func cutScheme(v, scheme string) (string, bool) {
	if len(v) <= len(scheme) || v[len(scheme)] != ' ' || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimLeft(v[len(scheme)+1:], " "), true
}
