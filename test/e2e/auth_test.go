package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Tests of issue 15: consumers and authentication at the gateway.

func jwtConfig(jwksURL, upstream string) string {
	return `consumers:
  - name: acme
    tier: premium
auth:
  - name: partners
    methods: [jwt]
    jwt:
      jwks_url: ` + jwksURL + `
      issuer: https://idp.test/
      audience: [payments]
      algorithms: [RS256, ES256]
      leeway: 5s
      forward_claims: {sub: X-User-ID, email: X-User-Email}
` + staticRoutes([3]string{"/pay", upstream, "    auth: partners\n"})
}

// TestAuthJWT: RS256 and ES256 tokens from a JWKS served by the test pass
// and the upstream gets the verified identity (never the client's forged
// copies, never the token); expired, wrong-issuer, wrong-audience,
// alg-none and HS256-signed-with-the-public-key tokens get 401 with an
// RFC 6750 challenge and never reach the upstream. Key rotation: a new kid
// is picked up, the old key is refused once it left the JWKS, and the keys
// survive the JWKS going down.
func TestAuthJWT(t *testing.T) {
	t.Parallel()
	rk, ek := rsaKey(t), ecKey(t)
	idp := newJWKS(t, rsaPublicJWK("r1", &rk.PublicKey), ecPublicJWK("e1", &ek.PublicKey))
	rec := newRecorder(t, nil)
	g := startGateway(t, jwtConfig(idp.URL, rec.url()))

	call := func(tok string, extra ...string) reply {
		kv := append([]string{"Authorization", "Bearer " + tok}, extra...)
		return g.getH(t, "/pay/x", kv...)
	}
	rs := signJWT(t, jwt.SigningMethodRS256, "r1", rk, idpClaims())
	if r := call(rs, forgedIdentity...); r.status != http.StatusOK {
		t.Fatalf("RS256 token: %d %s", r.status, r.body)
	}
	got := rec.only(t)
	checkNoForgery(t, got)
	if got.Header.Get("X-Consumer") != "acme" || got.Header.Get("X-Consumer-Tier") != "premium" ||
		got.Header.Get("X-User-Id") != "acme" || got.Header.Get("X-User-Email") != "ops@acme.test" {
		t.Errorf("upstream identity headers: %v", got.Header)
	}
	if got.Header.Get("Authorization") != "" {
		t.Errorf("the token reached the upstream: %q", got.Header.Get("Authorization"))
	}
	es := signJWT(t, jwt.SigningMethodES256, "e1", ek, idpClaims("sub", "someone-else"))
	if r := call(es); r.status != http.StatusOK {
		t.Fatalf("ES256 token: %d %s", r.status, r.body)
	}

	pub, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct{ name, tok string }{
		{"expired", signJWT(t, jwt.SigningMethodRS256, "r1", rk, idpClaims("exp", time.Now().Add(-time.Minute).Unix()))},
		{"wrong issuer", signJWT(t, jwt.SigningMethodRS256, "r1", rk, idpClaims("iss", "https://evil.test/"))},
		{"wrong audience", signJWT(t, jwt.SigningMethodRS256, "r1", rk, idpClaims("aud", "billing"))},
		{"alg none", signJWT(t, jwt.SigningMethodNone, "r1", jwt.UnsafeAllowNoneSignatureType, idpClaims())},
		{"HS256 with the public key", signJWT(t, jwt.SigningMethodHS256, "r1", pub, idpClaims())},
		{"signed by another key", signJWT(t, jwt.SigningMethodRS256, "r1", rsaKey(t), idpClaims())},
	}
	before := len(rec.requests())
	for _, tc := range refused {
		r := call(tc.tok)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tc.name, r.status)
		}
		if c := r.header.Get("Www-Authenticate"); !strings.HasPrefix(c, "Bearer ") || !strings.Contains(c, `error="invalid_token"`) {
			t.Errorf("%s: WWW-Authenticate %q", tc.name, c)
		}
	}
	if r := g.get(t, "/pay/x"); r.status != http.StatusUnauthorized || strings.Contains(r.header.Get("Www-Authenticate"), "error=") {
		t.Errorf("no token: %d, WWW-Authenticate %q (no error code without a token)", r.status, r.header.Get("Www-Authenticate"))
	}
	if n := len(rec.requests()) - before; n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}

	// Rotation: r2 replaces r1 at the identity provider.
	r2 := rsaKey(t)
	idp.set(false, rsaPublicJWK("r2", &r2.PublicKey), ecPublicJWK("e1", &ek.PublicKey))
	if r := call(signJWT(t, jwt.SigningMethodRS256, "r2", r2, idpClaims())); r.status != http.StatusOK {
		t.Fatalf("token of the new kid r2: %d", r.status)
	}
	if r := call(rs); r.status != http.StatusUnauthorized {
		t.Fatalf("token of the removed key r1: %d, want 401", r.status)
	}
	// The provider goes down: the last good keys keep working.
	idp.set(true)
	if r := call(signJWT(t, jwt.SigningMethodRS256, "r2", r2, idpClaims("jti", "fresh"))); r.status != http.StatusOK {
		t.Fatalf("with the JWKS down: %d, want the last good keys to verify", r.status)
	}
	succ, errs := g.stats(t).counts(t)
	if errs < int64(len(refused))+2 || succ < 4 {
		t.Errorf("/stats: success %d, error %d; the refusals count as errors", succ, errs)
	}
}

func keyBasicConfig(upstream, annBcrypt string) string {
	return `consumers:
  - name: acme
    tier: premium
    api_keys_sha256: [` + sha256Hex("acme-key-1") + `]
  - name: staff-ann
    basic_auth: {username: ann, password_bcrypt: "` + annBcrypt + `"}
auth:
  - name: keys
    methods: [api_key]
  - name: keys-in-query
    methods: [api_key]
    api_key: {query: api_key}
  - name: staff
    methods: [basic]
    basic: {realm: staff area}
` + staticRoutes(
		[3]string{"/key", upstream, "    auth: keys\n"},
		[3]string{"/keyfwd", upstream, "    auth: keys\n    forward_credentials: true\n"},
		[3]string{"/q", upstream, "    auth: keys-in-query\n"},
		[3]string{"/staff", upstream, "    auth: staff\n    allow_consumers: [staff-ann]\n"},
		[3]string{"/onlyann", upstream, "    auth: keys\n    allow_consumers: [staff-ann]\n"})
}

// TestAuthKeysAndBasic: API keys in a header or the query and Basic
// passwords authenticate; the credential is not forwarded unless the
// route says so; forged identity headers never arrive; 401/403 answers
// never reach the upstream; the consumer shows in the access log,
// /requests and /metrics, never the key; a reload adds a key without a
// restart.
func TestAuthKeysAndBasic(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, nil)
	cfg := keyBasicConfig(rec.url(), bcryptOf(t, "ann-pass"))
	g := startGateway(t, cfg)

	if r := g.getH(t, "/key/a", append([]string{"X-API-Key", "acme-key-1"}, forgedIdentity...)...); r.status != http.StatusOK {
		t.Fatalf("good key: %d %s", r.status, r.body)
	}
	got := rec.only(t)
	checkNoForgery(t, got, "X-Consumer", "X-Consumer-Tier")
	if got.Header.Get("X-Consumer") != "acme" || got.Header.Get("X-Consumer-Tier") != "premium" || got.Header.Get("X-Api-Key") != "" {
		t.Errorf("upstream got %v; want X-Consumer acme, tier premium, no X-API-Key", got.Header)
	}
	if r := g.getH(t, "/keyfwd/a", "X-API-Key", "acme-key-1"); r.status != http.StatusOK {
		t.Fatalf("forward_credentials route: %d", r.status)
	}
	if got := rec.requests()[1]; got.Header.Get("X-Api-Key") != "acme-key-1" {
		t.Errorf("forward_credentials: true did not forward the key: %v", got.Header)
	}
	if r := g.get(t, "/q/a?x=1&api_key=acme-key-1&y=2"); r.status != http.StatusOK {
		t.Fatalf("key in the query: %d", r.status)
	}
	if got := rec.requests()[2]; got.URI != "/q/a?x=1&y=2" {
		t.Errorf("upstream URI %q, want the api_key parameter removed", got.URI)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ann:ann-pass"))
	for range 3 {
		if r := g.getH(t, "/staff/a", "Authorization", basic); r.status != http.StatusOK {
			t.Fatalf("good password: %d", r.status)
		}
	}
	if got := rec.requests()[3]; got.Header.Get("X-Consumer") != "staff-ann" || got.Header.Get("Authorization") != "" {
		t.Errorf("basic: upstream got %v", got.Header)
	}

	n := len(rec.requests())
	for _, tc := range []struct {
		name, path string
		kv         []string
		status     int
		challenge  string
	}{
		{"wrong key", "/key/a", []string{"X-API-Key", "acme-key-2"}, 401, ""},
		{"no key", "/key/a", nil, 401, ""},
		{"wrong password", "/staff/a", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ann:nope"))}, 401, `Basic realm="staff area"`},
		{"no password", "/staff/a", nil, 401, `Basic realm="staff area"`},
		{"consumer not allowed", "/onlyann/a", []string{"X-API-Key", "acme-key-1"}, 403, ""},
	} {
		r := g.getH(t, tc.path, tc.kv...)
		if r.status != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, r.status, tc.status)
		}
		if tc.challenge != "" && !strings.HasPrefix(r.header.Get("Www-Authenticate"), tc.challenge) {
			t.Errorf("%s: WWW-Authenticate %q, want %s", tc.name, r.header.Get("Www-Authenticate"), tc.challenge)
		}
		checkErrorBody(t, r)
	}
	if m := len(rec.requests()) - n; m != 0 {
		t.Errorf("%d refused requests reached the upstream", m)
	}

	eventually(t, 3*time.Second, "the access log shows the consumer", func() bool {
		for _, l := range g.accessLogLines() {
			if l["path"] == "/key/a" && l["consumer"] == "acme" {
				return true
			}
		}
		return false
	})
	if out := g.output(); strings.Contains(out, "acme-key-1") || strings.Contains(out, "ann-pass") {
		t.Errorf("a credential appears in rgate's output")
	}
	recent := g.get(t, "/requests")
	if !strings.Contains(string(recent.body), `"consumer": "acme"`) || strings.Contains(string(recent.body), "acme-key-1") {
		t.Errorf("/requests: want the consumer and never the key; got %.600s", recent.body)
	}
	if !strings.Contains(g.output(), `"query":"x=1&api_key=REDACTED&y=2"`) {
		t.Errorf("the access log does not show the query with the key left out")
	}
	if l := g.metricLines(t, "rgate_consumer_requests_total", `consumer="acme"`, `route="/key"`, `code="2xx"`); len(l) != 1 || !strings.HasSuffix(l[0], " 1") {
		t.Errorf("consumer metric lines: %q", l)
	}
	if l := g.metricLines(t, "rgate_auth_failures_total", `route="/onlyann"`, `consumer="acme"`); len(l) != 1 {
		t.Errorf("auth failure metric lines: %q", l)
	}

	dash := g.adminJSON(t, "/dashboard/data")
	routes, _ := dash["routes"].([]any)
	shown := false
	for _, r := range routes {
		if jsonString(r, "prefix") == "/key" {
			cs, _ := jsonAt(r, "consumers")
			list, _ := cs.([]any)
			shown = slices.Contains(list, any("acme"))
		}
	}
	if !shown {
		t.Errorf("the dashboard does not show consumer acme on /key: %v", routes)
	}
	ex := g.adminJSON(t, "/explain?path=/staff/a")
	if jsonString(ex, "route", "auth", "policy") != "staff" {
		t.Errorf("/explain does not show the route's auth: %v", ex["route"])
	}

	// A reload adds a second key to acme, without a restart.
	newCfg := strings.Replace(cfg, "api_keys_sha256: [", "api_keys_sha256: ["+sha256Hex("acme-key-2")+", ", 1)
	writeInPlace(t, g.configPath(t), newCfg)
	eventually(t, 5*time.Second, "the reloaded key works", func() bool {
		return g.getH(t, "/key/a", "X-API-Key", "acme-key-2").status == http.StatusOK
	})
}

// TestAuthForwardContainer: forward auth to a testapp container that
// allows (its answer headers reach the upstream, the client's forged
// copies do not), denies (its 401, challenge and body reach the client as
// they are) and hangs (503 after the timeout, fail closed).
func TestAuthForwardContainer(t *testing.T) {
	t.Parallel()
	verifier := runContainer(t, "verify", map[string]string{"app_name": uniq(t)})
	rec := newRecorder(t, nil)
	g := startGateway(t, `consumers:
  - name: acme
    tier: premium
auth:
  - name: sso
    methods: [forward]
    forward:
      url: http://127.0.0.1:`+strconv.Itoa(verifier.listenPort)+`/auth/verify
      request_headers: [Authorization]
      response_headers: [X-User-ID]
      timeout: 500ms
`+staticRoutes([3]string{"/app", rec.url(), "    auth: sso\n"}))

	if r := g.getH(t, "/app/x", append([]string{"Authorization", "Bearer allow"}, forgedIdentity...)...); r.status != http.StatusOK {
		t.Fatalf("allowed: %d %s", r.status, r.body)
	}
	got := rec.only(t)
	checkNoForgery(t, got, "X-Consumer", "X-Consumer-Tier", "X-User-Id")
	if got.Header.Get("X-User-Id") != "u-42" || got.Header.Get("X-Consumer") != "acme" || got.Header.Get("X-Consumer-Tier") != "premium" {
		t.Errorf("upstream got %v; want the verifier's X-User-Id and consumer", got.Header)
	}
	if got.Header.Get("Authorization") != "" {
		t.Errorf("the credential reached the upstream")
	}

	r := g.getH(t, "/app/x", "Authorization", "Bearer wrong")
	if r.status != http.StatusUnauthorized || r.header.Get("Www-Authenticate") != `Bearer realm="testapp"` ||
		string(r.body) != "denied by "+verifier.name {
		t.Errorf("denied: %d %q %q; want the verifier's own answer", r.status, r.header.Get("Www-Authenticate"), r.body)
	}
	start := time.Now()
	r = g.getH(t, "/app/x", "Authorization", "Bearer hang")
	if took := time.Since(start); r.status != http.StatusServiceUnavailable || took > 3*time.Second {
		t.Errorf("hanging verifier: %d after %v, want 503 after about 500ms", r.status, took)
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("the upstream received %d requests, want only the allowed one", n)
	}
}

// TestAuthConsumerRateLimit: with key: consumer and tier_from: consumer
// each consumer has its own bucket at its configured tier; a client's
// X-User-Tier header is ignored.
func TestAuthConsumerRateLimit(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, nil)
	g := startGateway(t, `consumers:
  - name: acme
    tier: premium
    api_keys_sha256: [`+sha256Hex("acme-key")+`]
  - name: freeloader
    api_keys_sha256: [`+sha256Hex("free-key")+`]
auth:
  - name: keys
    methods: [api_key]
`+staticRoutes([3]string{"/lim", rec.url(), `    auth: keys
    rate_limit:
      key: consumer
      tier_from: consumer
      default: {requests: 2, per: 1m}
      tiers: {premium: {requests: 5, per: 1m}}
`}))
	count := func(key string) int {
		ok := 0
		for range 8 {
			switch r := g.getH(t, "/lim/x", "X-API-Key", key, "X-User-Tier", "premium", "X-Forwarded-For", "203.0.113."+strconv.Itoa(ok)); r.status {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("status %d", r.status)
			}
		}
		return ok
	}
	if n := count("free-key"); n != 2 {
		t.Errorf("freeloader (default tier, spoofing X-User-Tier: premium) got %d requests through, want 2", n)
	}
	if n := count("acme-key"); n != 5 {
		t.Errorf("acme (premium) got %d requests through, want 5", n)
	}
}
