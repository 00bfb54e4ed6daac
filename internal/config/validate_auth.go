package config

import (
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// jwtAlgorithms are the signing algorithms a policy may allow.
var jwtAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}

// IsHMAC reports whether alg is one of the HS* (shared secret) algorithms.
func IsHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

// auth checks consumers, auth policies and the routes' use of them.
func (ch *checker) auth(c *Config) {
	names := ch.consumers(c.Consumers)
	policies := map[string]int{}
	var policyNames []string
	for i, p := range c.Auth {
		at := "auth[" + strconv.Itoa(i) + "]"
		switch j, dup := policies[p.Name]; {
		case p.Name == "":
			ch.add(at+".name", "required")
		case strings.ContainsAny(p.Name, "\"\\\r\n\x00"):
			ch.add(at+".name", "must not contain quotes, backslashes or line breaks (it is the realm of challenges)")
		case dup:
			ch.add(at+".name", "duplicate auth policy name %q (also auth[%d])", p.Name, j)
		default:
			policies[p.Name] = i
			policyNames = append(policyNames, p.Name)
		}
		ch.authPolicy(at, p)
	}
	for i, r := range c.Routes {
		at := "routes[" + strconv.Itoa(i) + "]"
		if r.Auth != "" {
			if _, ok := policies[r.Auth]; !ok {
				ch.add(at+".auth", "unknown auth policy %q%s", r.Auth, suggest(r.Auth, policyNames))
			}
		}
		if len(r.AllowConsumers) > 0 && r.Auth == "" {
			ch.add(at+".allow_consumers", "needs auth: only an authenticated caller has a consumer name")
		}
		if r.ForwardCredentials && r.Auth == "" {
			ch.add(at+".forward_credentials", "needs auth")
		}
		for j, n := range r.AllowConsumers {
			if !slices.Contains(names, n) {
				ch.add(at+".allow_consumers["+strconv.Itoa(j)+"]", "unknown consumer %q%s", n, suggest(n, names))
			}
		}
	}
}

func (ch *checker) consumers(cs []Consumer) []string {
	var names []string
	first, users, keys := map[string]int{}, map[string]int{}, map[string]string{}
	for i, c := range cs {
		at := "consumers[" + strconv.Itoa(i) + "]"
		switch j, dup := first[c.Name]; {
		case c.Name == "":
			ch.add(at+".name", "required")
		case dup:
			ch.add(at+".name", "duplicate consumer name %q (also consumers[%d])", c.Name, j)
		default:
			first[c.Name] = i
			names = append(names, c.Name)
		}
		if strings.ContainsAny(c.Name+c.Tier, "\r\n\x00") {
			ch.add(at, "name and tier must not contain CR, LF or NUL")
		}
		for j, h := range c.APIKeysSHA256 {
			field := at + ".api_keys_sha256[" + strconv.Itoa(j) + "]"
			if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
				ch.add(field, "must be 64 hex digits (a SHA-256; `rgate hash-key` prints one), got %d characters", len(h))
				continue
			}
			if other, dup := keys[strings.ToLower(h)]; dup {
				ch.add(field, "the same key is also listed for %s", other)
				continue
			}
			keys[strings.ToLower(h)] = at
		}
		if b := c.BasicAuth; b != nil {
			switch j, dup := users[b.Username]; {
			case b.Username == "" || strings.Contains(b.Username, ":"):
				ch.add(at+".basic_auth.username", "required, without \":\"")
			case dup:
				ch.add(at+".basic_auth.username", "duplicate username %q (also consumers[%d])", b.Username, j)
			default:
				users[b.Username] = i
			}
			if _, err := bcrypt.Cost([]byte(b.PasswordBcrypt)); err != nil {
				ch.add(at+".basic_auth.password_bcrypt", "not a bcrypt hash (`rgate hash-password` prints one)")
			}
		}
	}
	return names
}

func (ch *checker) authPolicy(at string, p AuthPolicy) {
	if len(p.Methods) == 0 {
		ch.add(at+".methods", "required: one or more of api_key, jwt, basic, forward")
	}
	for j, m := range p.Methods {
		field := at + ".methods[" + strconv.Itoa(j) + "]"
		switch m {
		case AuthAPIKey, AuthBasic:
		case AuthJWT:
			if p.JWT == nil {
				ch.add(field, "jwt needs a jwt block")
			}
		case AuthForward:
			if p.Forward == nil {
				ch.add(field, "forward needs a forward block")
			}
		default:
			ch.add(field, "unknown method %q; want api_key, jwt, basic or forward", m)
		}
		if slices.Index(p.Methods, m) < j {
			ch.add(field, "%q is listed twice", m)
		}
	}
	if k := p.APIKey; k != nil {
		switch {
		case k.Header != "" && k.Query != "":
			ch.add(at+".api_key", "set header or query, not both")
		case k.Header != "" && !validHeaderName(k.Header):
			ch.add(at+".api_key.header", "not a valid header name: %q", k.Header)
		case k.Query != "" && (!validToken(k.Query) || strings.ContainsAny(k.Query, "&=+%")):
			ch.add(at+".api_key.query", "not a plain parameter name: %q", k.Query)
		}
	}
	if j := p.JWT; j != nil {
		ch.jwt(at+".jwt", j)
	}
	if f := p.Forward; f != nil {
		ch.forward(at+".forward", f)
	}
	if b := p.Basic; b != nil && strings.ContainsAny(b.Realm, "\"\\\r\n") {
		ch.add(at+".basic.realm", "must not contain quotes, backslashes or line breaks")
	}
}

func (ch *checker) jwt(at string, j *JWTAuth) {
	sources := 0
	for _, s := range []string{j.JWKSURL, j.JWKSFile, j.SecretFile} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		ch.add(at, "needs exactly one of jwks_url, jwks_file and secret_file, got %d", sources)
	}
	if j.JWKSURL != "" {
		if u, err := url.Parse(j.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ch.add(at+".jwks_url", "must be an http:// or https:// URL, got %q", j.JWKSURL)
		}
	}
	if j.JWKSFile != "" {
		ch.jwksFile(at+".jwks_file", j.JWKSFile)
	}
	if j.SecretFile != "" {
		if b, err := os.ReadFile(j.SecretFile); err != nil {
			ch.add(at+".secret_file", "cannot be read: %v", err)
		} else if len(strings.TrimSpace(string(b))) < 32 {
			ch.add(at+".secret_file", "the secret must be at least 32 bytes")
		}
	}
	if len(j.Algorithms) == 0 {
		ch.add(at+".algorithms", "required: the algorithms tokens may be signed with")
	}
	for i, a := range j.Algorithms {
		field := at + ".algorithms[" + strconv.Itoa(i) + "]"
		switch {
		case strings.EqualFold(a, "none"):
			ch.add(field, "\"none\" is never accepted: unsigned tokens prove nothing")
		case !slices.Contains(jwtAlgorithms, a):
			ch.add(field, "unknown algorithm %q; want one of %s", a, strings.Join(jwtAlgorithms, ", "))
		case IsHMAC(a) && j.SecretFile == "":
			ch.add(field, "%s needs secret_file (a JWKS holds public keys; accepting HS* with them allows forged tokens)", a)
		case !IsHMAC(a) && j.SecretFile != "":
			ch.add(field, "%s needs jwks_url or jwks_file; secret_file is for HS256/HS384/HS512 only", a)
		}
	}
	ch.nonNegative(at+".leeway", j.Leeway)
	for _, claim := range sortedKeys(j.ForwardClaims) {
		h := j.ForwardClaims[claim]
		if !validHeaderName(h) || hopByHop(h) {
			ch.add(at+".forward_claims."+claim, "not a header that can be set: %q", h)
		}
	}
}

func (ch *checker) jwksFile(field, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		ch.add(field, "cannot be read: %v", err)
		return
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil || len(set.Keys) == 0 {
		ch.add(field, "not a JWK Set (a JSON object with a non-empty \"keys\" list)")
	}
}

func (ch *checker) forward(at string, f *ForwardAuth) {
	if u, err := url.Parse(f.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ch.add(at+".url", "must be an http:// or https:// URL, got %q", f.URL)
	}
	for i, h := range f.RequestHeaders {
		if !validHeaderName(h) {
			ch.add(at+".request_headers["+strconv.Itoa(i)+"]", "not a valid header name: %q", h)
		}
	}
	for i, h := range f.ResponseHeaders {
		if !validHeaderName(h) || hopByHop(h) {
			ch.add(at+".response_headers["+strconv.Itoa(i)+"]", "not a header that can be set: %q", h)
		}
	}
	ch.positive(at+".timeout", f.Timeout)
}

// tierFrom checks a rate limit's tier_from.
func (ch *checker) tierFrom(at string, rl *RateLimit) {
	switch rl.TierFrom {
	case "":
	case TierFromConsumer:
		if rl.TierHeader != "" {
			ch.add(at+".tier_header", "cannot be used with tier_from: consumer (the client's header is ignored then)")
		}
	default:
		ch.add(at+".tier_from", "must be consumer, got %q", rl.TierFrom)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
