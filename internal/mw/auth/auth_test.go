package auth

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rgate/rgate/internal/config"
)

func get(target string) *http.Request { return httptest.NewRequest(http.MethodGet, target, nil) }

func TestAPIKeyHeader(t *testing.T) {
	t.Parallel()
	h, _ := policyHandler(t, config.AuthPolicy{Name: "p", Methods: []string{"api_key"}})
	r := get("/")
	r.Header.Set("X-API-Key", testKey)
	res := serve(h, r)
	if !res.next || res.info.Consumer != "acme" || res.info.ConsumerTier != "premium" {
		t.Fatalf("valid key: next=%v consumer=%q tier=%q", res.next, res.info.Consumer, res.info.ConsumerTier)
	}
	for name, key := range map[string]string{"wrong": "nope", "missing": ""} {
		r := get("/")
		if key != "" {
			r.Header.Set("X-API-Key", key)
		}
		res := serve(h, r)
		if res.next || res.rec.Code != http.StatusUnauthorized || !res.info.AuthFailed || res.info.Consumer != "" {
			t.Errorf("%s key: next=%v status=%d failed=%v", name, res.next, res.rec.Code, res.info.AuthFailed)
		}
		if got := res.rec.Header().Get("Www-Authenticate"); got != `APIKey realm="p", header="X-Api-Key"` {
			t.Errorf("%s key: challenge %q", name, got)
		}
	}
}

func TestAPIKeyQuery(t *testing.T) {
	t.Parallel()
	h, _ := policyHandler(t, config.AuthPolicy{Name: "p", Methods: []string{"api_key"}, APIKey: &config.APIKeyAuth{Query: "api_key"}})
	if res := serve(h, get("/x?a=1&api_key="+testKey)); !res.next || res.info.Consumer != "acme" {
		t.Fatalf("query key refused: %d", res.rec.Code)
	}
	r := get("/x")
	r.Header.Set("X-API-Key", testKey) // not where this policy looks
	if res := serve(h, r); res.next {
		t.Fatal("a key in the header was accepted by a query policy")
	}
}

func TestBasic(t *testing.T) {
	t.Parallel()
	h, _ := policyHandler(t, config.AuthPolicy{Name: "staff", Methods: []string{"basic"}})
	basic := func(user, pass string) *http.Request {
		r := get("/")
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		return r
	}
	for range 2 { // the second is served from the cache
		if res := serve(h, basic("acme", testPassword)); !res.next || res.info.Consumer != "acme" {
			t.Fatalf("good password refused: %d", res.rec.Code)
		}
	}
	for _, r := range []*http.Request{basic("acme", "wrong"), basic("nobody", testPassword), get("/")} {
		res := serve(h, r)
		if res.next || res.rec.Code != http.StatusUnauthorized {
			t.Fatalf("bad credential: next=%v status=%d", res.next, res.rec.Code)
		}
		if got := res.rec.Header().Get("Www-Authenticate"); got != `Basic realm="staff", charset="UTF-8"` {
			t.Fatalf("challenge = %q", got)
		}
	}
}

func TestAllowConsumers(t *testing.T) {
	t.Parallel()
	h, _ := policyHandler(t, config.AuthPolicy{Name: "p", Methods: []string{"api_key"}}, "bob")
	r := get("/")
	r.Header.Set("X-API-Key", testKey)
	res := serve(h, r)
	if res.next || res.rec.Code != http.StatusForbidden || res.info.Consumer != "acme" || !res.info.AuthFailed {
		t.Fatalf("acme on a bob-only route: next=%v status=%d consumer=%q", res.next, res.rec.Code, res.info.Consumer)
	}
}

func jwtPolicy(url string, algs ...string) config.AuthPolicy {
	return config.AuthPolicy{Name: "partners", Methods: []string{"jwt"}, JWT: &config.JWTAuth{
		JWKSURL: url, Issuer: "https://idp.test/", Audience: []string{"payments"}, Algorithms: algs,
		TierClaim: "tier", ForwardClaims: map[string]string{"email": "X-User-Email", "sub": "X-User-ID"},
	}}
}

func TestJWT(t *testing.T) {
	t.Parallel()
	rk, ek := newRSA(t), newEC(t)
	srv := newJWKSServer(t)
	srv.set(rsaJWK("r1", &rk.PublicKey), ecJWK("e1", &ek.PublicKey))
	h, _ := policyHandler(t, jwtPolicy(srv.URL, "RS256", "ES256"))

	ok := serve(h, bearer(get("/"), sign(t, jwt.SigningMethodRS256, "r1", rk, goodClaims())))
	if !ok.next || ok.info.Consumer != "acme" || ok.info.ConsumerTier != "premium" {
		t.Fatalf("RS256 token: status %d consumer %q tier %q", ok.rec.Code, ok.info.Consumer, ok.info.ConsumerTier)
	}
	if want := []string{"X-User-Email", "a@acme.test", "X-User-Id", "acme"}; !slices.Equal(ok.info.Identity, want) {
		t.Fatalf("identity = %q, want %q", ok.info.Identity, want)
	}
	c := goodClaims()
	c["sub"], c["tier"] = "stranger", "gold"
	if res := serve(h, bearer(get("/"), sign(t, jwt.SigningMethodES256, "e1", ek, c))); !res.next || res.info.Consumer != "stranger" || res.info.ConsumerTier != "gold" {
		t.Fatalf("ES256 token of an unknown subject: status %d consumer %q tier %q", res.rec.Code, res.info.Consumer, res.info.ConsumerTier)
	}

	pub, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	bad := map[string]string{
		"expired":       sign(t, jwt.SigningMethodRS256, "r1", rk, with(goodClaims(), "exp", time.Now().Add(-time.Hour).Unix())),
		"no exp":        sign(t, jwt.SigningMethodRS256, "r1", rk, with(goodClaims(), "exp", nil)),
		"not yet":       sign(t, jwt.SigningMethodRS256, "r1", rk, with(goodClaims(), "nbf", time.Now().Add(time.Hour).Unix())),
		"issuer":        sign(t, jwt.SigningMethodRS256, "r1", rk, with(goodClaims(), "iss", "https://evil.test/")),
		"audience":      sign(t, jwt.SigningMethodRS256, "r1", rk, with(goodClaims(), "aud", "billing")),
		"alg none":      sign(t, jwt.SigningMethodNone, "r1", jwt.UnsafeAllowNoneSignatureType, goodClaims()),
		"HS256 pubkey":  sign(t, jwt.SigningMethodHS256, "r1", pub, goodClaims()),
		"other key":     sign(t, jwt.SigningMethodRS256, "r1", newRSA(t), goodClaims()),
		"ES as RS kid":  sign(t, jwt.SigningMethodES256, "r1", ek, goodClaims()),
		"garbage":       "abc.def.ghi",
		"sub with CRLF": sign(t, jwt.SigningMethodRS256, "r1", rk, with(goodClaims(), "sub", "acme\r\nX-Consumer: root")),
	}
	for name, tok := range bad {
		res := serve(h, bearer(get("/"), tok))
		if res.next || res.rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: next=%v status=%d", name, res.next, res.rec.Code)
			continue
		}
		if got := res.rec.Header().Get("Www-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("%s: challenge %q lacks invalid_token", name, got)
		}
	}
	if res := serve(h, get("/")); res.rec.Header().Get("Www-Authenticate") != `Bearer realm="partners"` {
		t.Errorf("no token: challenge %q", res.rec.Header().Get("Www-Authenticate"))
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

// TestJWKSRotation: a new kid is fetched on first sight, a removed key
// stops working once the set is fetched again, and unknown kids fetch at
// most once per 10 s.
func TestJWKSRotation(t *testing.T) {
	t.Parallel()
	k1, k2 := newRSA(t), newRSA(t)
	srv := newJWKSServer(t)
	srv.set(rsaJWK("k1", &k1.PublicKey))
	h, _ := policyHandler(t, jwtPolicy(srv.URL, "RS256"))
	tok1 := sign(t, jwt.SigningMethodRS256, "k1", k1, goodClaims())
	if res := serve(h, bearer(get("/"), tok1)); !res.next {
		t.Fatalf("k1 refused: %d", res.rec.Code)
	}
	srv.set(rsaJWK("k2", &k2.PublicKey)) // k1 rotated out, k2 in
	tok2 := sign(t, jwt.SigningMethodRS256, "k2", k2, goodClaims())
	if res := serve(h, bearer(get("/"), tok2)); !res.next {
		t.Fatalf("new kid k2 refused: %d", res.rec.Code)
	}
	if res := serve(h, bearer(get("/"), tok1)); res.next {
		t.Fatal("k1 (cached verdict) still accepted after the key left the JWKS")
	}
	before := srv.count()
	for range 5 {
		serve(h, bearer(get("/"), sign(t, jwt.SigningMethodRS256, "k9", k2, goodClaims())))
	}
	if n := srv.count() - before; n != 0 {
		t.Fatalf("unknown kids fetched the JWKS %d times within 10 s", n)
	}
}

func TestJWKSDownKeepsKeys(t *testing.T) {
	t.Parallel()
	k := newRSA(t)
	srv := newJWKSServer(t)
	srv.set(rsaJWK("k1", &k.PublicKey))
	pc := jwtPolicy(srv.URL, "RS256")
	h, reg := policyHandler(t, pc)
	c := goodClaims()
	if res := serve(h, bearer(get("/"), sign(t, jwt.SigningMethodRS256, "k1", k, c))); !res.next {
		t.Fatalf("refused: %d", res.rec.Code)
	}
	srv.mu.Lock()
	srv.down = true
	srv.mu.Unlock()
	s := reg.jwks(srv.URL)
	if _, err := s.fetch(t.Context()); err == nil {
		t.Fatal("fetch from a down JWKS succeeded")
	}
	c["jti"] = "another" // a token not in the verdict cache
	if res := serve(h, bearer(get("/"), sign(t, jwt.SigningMethodRS256, "k1", k, c))); !res.next {
		t.Fatalf("keys lost while the JWKS is down: %d", res.rec.Code)
	}
}

func TestHS256Secret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := strings.Repeat("s", 40)
	path := dir + "/secret"
	if err := writeFile(path, secret); err != nil {
		t.Fatal(err)
	}
	h, _ := policyHandler(t, config.AuthPolicy{Name: "p", Methods: []string{"jwt"}, JWT: &config.JWTAuth{SecretFile: path, Algorithms: []string{"HS256"}}})
	if res := serve(h, bearer(get("/"), sign(t, jwt.SigningMethodHS256, "", []byte(secret), goodClaims()))); !res.next {
		t.Fatalf("HS256 with the secret refused: %d", res.rec.Code)
	}
	if res := serve(h, bearer(get("/"), sign(t, jwt.SigningMethodHS256, "", []byte("x"+secret), goodClaims()))); res.next {
		t.Fatal("HS256 with another secret accepted")
	}
}

func TestMethodsInOrder(t *testing.T) {
	t.Parallel()
	h, _ := policyHandler(t, config.AuthPolicy{Name: "p", Methods: []string{"api_key", "basic"}})
	r := get("/")
	r.Header.Set("X-API-Key", "wrong")
	r.SetBasicAuth("acme", testPassword)
	if res := serve(h, r); !res.next || res.info.Consumer != "acme" {
		t.Fatalf("a wrong key before a good password: %d", res.rec.Code)
	}
}
