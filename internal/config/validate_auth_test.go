package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const authBase = `routes:
  - path_prefix: /a
    backend: orders
    auth: partners
`

func TestAuthProblems(t *testing.T) {
	t.Parallel()
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name, in, want string
	}{
		{"unknown policy", "routes:\n  - path_prefix: /a\n    backend: orders\n    auth: partner\nauth:\n  - name: partners\n    methods: [api_key]\n" + orders,
			`t.yml:4: routes[0].auth: unknown auth policy "partner" (did you mean "partners"?)`},
		{"unknown method", authBase + "auth:\n  - name: partners\n    methods: [api_key, oauth]\n" + orders,
			`t.yml:7: auth[0].methods[1]: unknown method "oauth"; want api_key, jwt, basic or forward`},
		{"alg none", authBase + "auth:\n  - name: partners\n    methods: [jwt]\n    jwt: {jwks_url: \"https://idp.test/jwks\", algorithms: [RS256, none]}\n" + orders,
			`t.yml:8: auth[0].jwt.algorithms[1]: "none" is never accepted: unsigned tokens prove nothing`},
		{"HS256 with a JWKS", authBase + "auth:\n  - name: partners\n    methods: [jwt]\n    jwt: {jwks_url: \"https://idp.test/jwks\", algorithms: [HS256]}\n" + orders,
			`t.yml:8: auth[0].jwt.algorithms[0]: HS256 needs secret_file (a JWKS holds public keys; accepting HS* with them allows forged tokens)`},
		{"two key sources", authBase + "auth:\n  - name: partners\n    methods: [jwt]\n    jwt: {jwks_url: \"https://idp.test/jwks\", jwks_file: x.json}\n" + orders,
			`t.yml:8: auth[0].jwt: needs exactly one of jwks_url, jwks_file and secret_file, got 2`},
		{"no key source", authBase + "auth:\n  - name: partners\n    methods: [jwt]\n    jwt: {issuer: x}\n" + orders,
			`t.yml:8: auth[0].jwt: needs exactly one of jwks_url, jwks_file and secret_file, got 0`},
		{"jwt without block", authBase + "auth:\n  - name: partners\n    methods: [jwt]\n" + orders,
			`t.yml:7: auth[0].methods[0]: jwt needs a jwt block`},
		{"short hash", "consumers:\n  - name: acme\n    api_keys_sha256: [abc]\n" + orders,
			"t.yml:3: consumers[0].api_keys_sha256[0]: must be 64 hex digits (a SHA-256; `rgate hash-key` prints one), got 3 characters"},
		{"hash not hex", "consumers:\n  - name: acme\n    api_keys_sha256: [" + strings.Repeat("zz", 32) + "]\n" + orders,
			"t.yml:3: consumers[0].api_keys_sha256[0]: must be 64 hex digits (a SHA-256; `rgate hash-key` prints one), got 64 characters"},
		{"duplicate key", "consumers:\n  - name: a\n    api_keys_sha256: [" + hash + "]\n  - name: b\n    api_keys_sha256: [" + hash + "]\n" + orders,
			`t.yml:5: consumers[1].api_keys_sha256[0]: the same key is also listed for consumers[0]`},
		{"bad bcrypt", "consumers:\n  - name: a\n    basic_auth: {username: a, password_bcrypt: plain}\n" + orders,
			"t.yml:3: consumers[0].basic_auth.password_bcrypt: not a bcrypt hash (`rgate hash-password` prints one)"},
		{"duplicate consumer", "consumers:\n  - name: a\n  - name: a\n" + orders,
			`t.yml:3: consumers[1].name: duplicate consumer name "a" (also consumers[0])`},
		{"allow unknown consumer", authBase + "    allow_consumers: [acme]\nauth:\n  - name: partners\n    methods: [api_key]\nconsumers:\n  - name: acmee\n" + orders,
			`t.yml:5: routes[0].allow_consumers[0]: unknown consumer "acme" (did you mean "acmee"?)`},
		{"allow without auth", "routes:\n  - path_prefix: /a\n    backend: orders\n    allow_consumers: [a]\nconsumers:\n  - name: a\n" + orders,
			`t.yml:4: routes[0].allow_consumers: needs auth: only an authenticated caller has a consumer name`},
		{"forward url", authBase + "auth:\n  - name: partners\n    methods: [forward]\n    forward: {url: \"ftp://x\"}\n" + orders,
			`t.yml:8: auth[0].forward.url: must be an http:// or https:// URL, got "ftp://x"`},
		{"api key header and query", authBase + "auth:\n  - name: partners\n    methods: [api_key]\n    api_key: {header: X-Key, query: key}\n" + orders,
			`t.yml:8: auth[0].api_key: set header or query, not both`},
		{"tier_from", "routes:\n  - path_prefix: /a\n    backend: orders\n    rate_limit:\n      tier_from: header\n      default: {requests: 1}\n" + orders,
			`t.yml:5: routes[0].rate_limit.tier_from: must be consumer, got "header"`},
		{"tier_from with tier_header", "routes:\n  - path_prefix: /a\n    backend: orders\n    rate_limit:\n      tier_from: consumer\n      tier_header: X-Tier\n      default: {requests: 1}\n" + orders,
			`t.yml:6: routes[0].rate_limit.tier_header: cannot be used with tier_from: consumer (the client's header is ignored then)`},
		{"unknown auth key", authBase + "auth:\n  - name: partners\n    methods: [api_key]\n    api_keys: {header: X}\n" + orders,
			`t.yml:8: auth[0].api_keys: unknown key "api_keys" (did you mean "api_key"?)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.in), "t.yml")
			if err == nil {
				t.Fatalf("no problem reported, want %s", tc.want)
			}
			if got := err.Error(); !strings.Contains(got, tc.want) {
				t.Fatalf("got:\n%s\nwant a line:\n%s", got, tc.want)
			}
		})
	}
}

func TestAuthValid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("x", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	in := `consumers:
  - name: acme
    tier: premium
    api_keys_sha256: [` + strings.Repeat("0f", 32) + `]
    basic_auth: {username: acme, password_bcrypt: "$2a$04$hjDKBuLmjJyYDFN3XoGqNeLq6L6TtY5Qj4nqs2iHkLpGmn7BlmH7i"}
auth:
  - name: partners
    methods: [api_key, jwt, basic, forward]
    api_key: {query: api_key}
    jwt: {jwks_url: "https://idp.test/jwks", issuer: "https://idp.test/", audience: [payments], algorithms: [RS256, ES256], tier_claim: tier, leeway: 30s, forward_claims: {email: X-User-Email}}
    basic: {realm: partners}
    forward: {url: "http://127.0.0.1:9000/verify", response_headers: [X-User-ID], timeout: 1s}
  - name: internal
    methods: [jwt]
    jwt: {secret_file: "` + secret + `", algorithms: [HS256]}
routes:
  - path_prefix: /a
    backend: orders
    auth: partners
    allow_consumers: [acme]
    forward_credentials: true
    rate_limit:
      key: consumer
      tier_from: consumer
      default: {requests: 10, per: 1m}
      tiers: {premium: {requests: 100, per: 1m}}
` + orders
	cfg, err := Parse([]byte(in), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.AuthPolicy("partners")
	if p == nil || p.JWT.ConsumerClaim != "sub" || p.Forward.RequestHeaders[0] != "Authorization" || p.Basic.Realm != "partners" {
		t.Fatalf("defaults not applied: %+v", p)
	}
	if k := cfg.AuthPolicy("internal"); k.JWT.Algorithms[0] != "HS256" || k.APIKey != nil {
		t.Fatalf("internal = %+v", k)
	}
}
