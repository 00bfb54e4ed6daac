package config

import "time"

// Consumer is a known caller of the gateway. Its name appears in the
// access log, metrics and the X-Consumer header sent upstream.
type Consumer struct {
	// Name identifies the consumer; unique. Required.
	Name string `yaml:"name"`
	// Tier is the rate-limit tier used by rate limits with
	// tier_from: consumer. Default "": the limit's default rate.
	Tier string `yaml:"tier"`
	// APIKeysSHA256 are the hex SHA-256 digests (64 hex digits) of the
	// consumer's API keys; `rgate hash-key` prints one. Keys themselves are
	// never in the config.
	APIKeysSHA256 []string `yaml:"api_keys_sha256"`
	// BasicAuth is the consumer's HTTP Basic credential. Default none.
	BasicAuth *BasicAuth `yaml:"basic_auth"`
}

// BasicAuth is a username and a bcrypt hash of the password.
type BasicAuth struct {
	// Username is unique among consumers. Required.
	Username string `yaml:"username"`
	// PasswordBcrypt is the bcrypt hash ("$2y$10$..."); `rgate
	// hash-password` prints one. Required.
	PasswordBcrypt string `yaml:"password_bcrypt"`
}

// AuthPolicy is a named way of authenticating requests; a route names one
// in its auth key.
type AuthPolicy struct {
	// Name is what routes refer to; unique. Required.
	Name string `yaml:"name"`
	// Methods are tried in this order; the first that accepts the request's
	// credential authenticates it: api_key, jwt, basic, forward.
	// Required; each method used needs its block below (basic's is
	// optional).
	Methods []string `yaml:"methods"`
	// APIKey says where the key is: a header or a query parameter.
	APIKey *APIKeyAuth `yaml:"api_key"`
	// JWT verifies bearer tokens.
	JWT *JWTAuth `yaml:"jwt"`
	// Basic is HTTP Basic authentication against the consumers'
	// basic_auth.
	Basic *BasicPolicy `yaml:"basic"`
	// Forward asks another service whether to let the request through.
	Forward *ForwardAuth `yaml:"forward"`
}

// APIKeyAuth names where a request carries its API key: exactly one of
// Header and Query. Default: header X-API-Key.
type APIKeyAuth struct {
	// Header is the request header holding the key.
	Header string `yaml:"header"`
	// Query is the query parameter holding the key.
	Query string `yaml:"query"`
}

// JWTAuth verifies "Authorization: Bearer <JWT>" tokens.
type JWTAuth struct {
	// JWKSURL is fetched at start, cached, refreshed when a token names
	// an unknown kid (at most once per 10s) and when its Cache-Control
	// max-age passes (default hourly); the last good keys are kept while
	// it is down. One of jwks_url, jwks_file and secret_file is required.
	JWKSURL string `yaml:"jwks_url"`
	// JWKSFile is a JWK Set read from disk (at start and on reload).
	JWKSFile string `yaml:"jwks_file"`
	// SecretFile holds the shared secret of HS256/HS384/HS512 tokens; the
	// only way to allow an HS* algorithm.
	SecretFile string `yaml:"secret_file"`
	// Issuer, when set, must equal the token's iss.
	Issuer string `yaml:"issuer"`
	// Audience, when set, must contain one of the token's aud values.
	Audience []string `yaml:"audience"`
	// Algorithms are the only signing algorithms accepted ("none" never).
	// Default [RS256].
	Algorithms []string `yaml:"algorithms"`
	// ConsumerClaim is the claim naming the consumer. Default "sub".
	ConsumerClaim string `yaml:"consumer_claim"`
	// TierClaim, when set, is the claim holding the tier; without it (or
	// when the token lacks it) a configured consumer's tier is used.
	TierClaim string `yaml:"tier_claim"`
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 0s.
	Leeway Duration `yaml:"leeway"`
	// ForwardClaims copies claims (string or number values) into upstream
	// request headers: claim name -> header name.
	ForwardClaims map[string]string `yaml:"forward_claims"`
}

// BasicPolicy tunes HTTP Basic authentication.
type BasicPolicy struct {
	// Realm is sent in WWW-Authenticate. Default: the policy's name.
	Realm string `yaml:"realm"`
}

// ForwardAuth asks a service over HTTP: a 2xx answer lets the request
// through, any other answer goes back to the client as it is.
type ForwardAuth struct {
	// URL receives a GET carrying RequestHeaders and X-Forwarded-Method,
	// -Proto, -Host, -Uri and -For. Required; http:// or https://.
	URL string `yaml:"url"`
	// RequestHeaders are copied from the client's request to the service.
	// Default [Authorization, Cookie].
	RequestHeaders []string `yaml:"request_headers"`
	// ResponseHeaders are copied from a 2xx answer to the upstream
	// request (client-sent copies are always removed). Default none.
	ResponseHeaders []string `yaml:"response_headers"`
	// Timeout bounds the call; past it, or when the service cannot be
	// reached, the client gets 503. Default 1s.
	Timeout Duration `yaml:"timeout"`
}

// Authentication methods.
const (
	AuthAPIKey  = "api_key"
	AuthJWT     = "jwt"
	AuthBasic   = "basic"
	AuthForward = "forward"
)

// Rate-limit values tied to consumers.
const (
	RateKeyConsumer  = "consumer"
	TierFromConsumer = "consumer"
)

// Auth defaults.
const (
	DefaultAPIKeyHeader   = "X-API-Key"
	DefaultJWTAlgorithm   = "RS256"
	DefaultConsumerClaim  = "sub"
	DefaultForwardTimeout = time.Second
)

// DefaultForwardRequestHeaders are sent to a forward service by default.
var DefaultForwardRequestHeaders = []string{"Authorization", "Cookie"}

// AuthPolicy returns the named policy, or nil.
func (c *Config) AuthPolicy(name string) *AuthPolicy {
	for i := range c.Auth {
		if c.Auth[i].Name == name {
			return &c.Auth[i]
		}
	}
	return nil
}

func (c *Config) applyAuthDefaults() {
	for i := range c.Auth {
		p := &c.Auth[i]
		if p.APIKey == nil && hasMethod(p.Methods, AuthAPIKey) {
			p.APIKey = &APIKeyAuth{}
		}
		if k := p.APIKey; k != nil && k.Header == "" && k.Query == "" {
			k.Header = DefaultAPIKeyHeader
		}
		if j := p.JWT; j != nil {
			if j.Algorithms == nil {
				j.Algorithms = []string{DefaultJWTAlgorithm}
			}
			if j.ConsumerClaim == "" {
				j.ConsumerClaim = DefaultConsumerClaim
			}
		}
		if p.Basic == nil && hasMethod(p.Methods, AuthBasic) {
			p.Basic = &BasicPolicy{}
		}
		if b := p.Basic; b != nil && b.Realm == "" {
			b.Realm = p.Name
		}
		if f := p.Forward; f != nil {
			if f.RequestHeaders == nil {
				f.RequestHeaders = DefaultForwardRequestHeaders
			}
			setDuration(&f.Timeout, DefaultForwardTimeout)
		}
	}
}

func hasMethod(methods []string, m string) bool {
	for _, x := range methods {
		if x == m {
			return true
		}
	}
	return false
}
