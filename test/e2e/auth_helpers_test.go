package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// Helpers of the issue-15 (consumers and authentication) tests.

// jwksServer is an identity provider's JWKS endpoint on 127.0.0.1 whose
// keys the test changes (rotation) or takes down.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	keys []map[string]string
	down bool
}

func newJWKS(t *testing.T, keys ...map[string]string) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(down bool, keys ...map[string]string) {
	s.mu.Lock()
	s.keys, s.down = keys, down
	s.mu.Unlock()
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaPublicJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64url(k.N.Bytes()), "e": b64url(big.NewInt(int64(k.E)).Bytes())}
}

func ecPublicJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	var x, y [32]byte
	k.X.FillBytes(x[:])
	k.Y.FillBytes(y[:])
	return map[string]string{"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256", "x": b64url(x[:]), "y": b64url(y[:])}
}

// signJWT signs claims with key under method, naming kid.
func signJWT(t *testing.T, m jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// idpClaims are valid claims for the test identity provider, changed by
// the pairs in kv (a nil value deletes the claim).
func idpClaims(kv ...any) jwt.MapClaims {
	c := jwt.MapClaims{"iss": "https://idp.test/", "aud": []string{"payments"}, "sub": "acme",
		"email": "ops@acme.test", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func bcryptOf(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// forgedIdentity are identity headers a client sends to impersonate
// someone; none may reach the upstream as sent.
var forgedIdentity = []string{
	"X-Consumer", "root", "X-Consumer-Tier", "platinum", "X-User-Id", "forged-id",
	"X-User-Email", "forged@evil.test",
}

// checkNoForgery fails when the upstream request carries a forged value
// of one of the headers the route sets from identity (all of
// forgedIdentity when names is empty).
func checkNoForgery(t *testing.T, got *recorded, names ...string) {
	t.Helper()
	for i := 0; i < len(forgedIdentity); i += 2 {
		if len(names) > 0 && !slices.Contains(names, forgedIdentity[i]) {
			continue
		}
		for _, v := range got.Header.Values(forgedIdentity[i]) {
			if v == forgedIdentity[i+1] {
				t.Errorf("the upstream received the client's forged %s: %q (all: %v)", forgedIdentity[i], v, got.Header)
			}
		}
	}
}

// metricLine returns the /metrics lines that contain every part.
func (g *gw) metricLines(t *testing.T, parts ...string) []string {
	t.Helper()
	r := g.get(t, "/metrics")
	var out []string
	for line := range strings.Lines(string(r.body)) {
		ok := !strings.HasPrefix(line, "#")
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}
