package auth

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
	"os"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/consumer"
	"github.com/rgate/rgate/internal/reqinfo"
)

const (
	testKey      = "key-of-acme"
	testPassword = "s3cret-pass"
)

func testConsumers(t *testing.T) []config.Consumer {
	t.Helper()
	sum := sha256.Sum256([]byte(testKey))
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return []config.Consumer{
		{Name: "acme", Tier: "premium", APIKeysSHA256: []string{hex.EncodeToString(sum[:])},
			BasicAuth: &config.BasicAuth{Username: "acme", PasswordBcrypt: string(h)}},
		{Name: "bob", Tier: "free"},
	}
}

// serve runs one request through h and returns the answer, the Info and
// whether the next handler ran.
type result struct {
	rec  *httptest.ResponseRecorder
	info reqinfo.Info
	next bool
}

func serve(h func(http.Handler) http.Handler, r *http.Request) result {
	var res result
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		res.next = true
		w.WriteHeader(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	w := &reqinfo.Writer{ResponseWriter: rec}
	h(next).ServeHTTP(w, r)
	res.rec, res.info = rec, w.Info
	return res
}

func policyHandler(t *testing.T, pc config.AuthPolicy, allow ...string) (func(http.Handler) http.Handler, *Registry) {
	t.Helper()
	cfg := &config.Config{Consumers: testConsumers(t), Auth: []config.AuthPolicy{pc}}
	cfg.ApplyDefaults()
	reg := NewRegistry(nil)
	t.Cleanup(reg.Close)
	p := NewPolicy(cfg.Auth[0], consumer.NewTable(cfg.Consumers), reg)
	return func(next http.Handler) http.Handler { return New(p, allow, next) }, reg
}

// jwksServer serves a JWK Set that tests can change, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []map[string]string
	fetches int
	down    bool
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.fetches++
		if s.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...map[string]string) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

func (s *jwksServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	var x, y [32]byte
	k.X.FillBytes(x[:])
	k.Y.FillBytes(y[:])
	return map[string]string{"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
		"x": b64(x[:]), "y": b64(y[:])}
}

func newRSA(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEC(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, m jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{"iss": "https://idp.test/", "aud": "payments", "sub": "acme",
		"exp": time.Now().Add(time.Hour).Unix(), "email": "a@acme.test"}
}

func bearer(r *http.Request, tok string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
