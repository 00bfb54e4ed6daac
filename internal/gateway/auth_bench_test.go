package gateway

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/metrics"
	"github.com/rgate/rgate/internal/route"
	"github.com/rgate/rgate/internal/stats"
)

// BenchmarkAuth measures a route with auth against the same route
// without: an API key (looked up by its SHA-256) and an RS256 JWT (a
// token seen before: its verdict is cached). "stub" replaces the
// forwarder by a handler writing a small answer (the gateway's own work);
// "proxy" forwards to a local upstream answering 1 KiB (the work of the
// whole request, as bench/run.sh measures it).
func BenchmarkAuth(b *testing.B) {
	key := "bench-key-0123456789"
	sum := sha256.Sum256([]byte(key))
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(rk.PublicKey.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(rk.PublicKey.E)).Bytes())}}})
	}))
	defer jwks.Close()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "acme", "iss": "https://idp.test/",
		"aud": "bench", "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = "k1"
	signed, err := tok.SignedString(rk)
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(body))
	}))
	defer up.Close()

	variants := []struct {
		name   string
		policy *config.AuthPolicy
		header [2]string
	}{
		{name: "none"},
		{name: "api_key", policy: &config.AuthPolicy{Name: "p", Methods: []string{"api_key"}}, header: [2]string{"X-API-Key", key}},
		{name: "jwt_rs256", policy: &config.AuthPolicy{Name: "p", Methods: []string{"jwt"}, JWT: &config.JWTAuth{
			JWKSURL: jwks.URL, Issuer: "https://idp.test/", Audience: []string{"bench"}, Algorithms: []string{"RS256"}}},
			header: [2]string{"Authorization", "Bearer " + signed}},
	}
	for _, mode := range []string{"stub", "proxy"} {
		for _, v := range variants {
			b.Run(mode+"/"+v.name, func(b *testing.B) {
				cfg := &config.Config{
					Consumers: []config.Consumer{{Name: "acme", Tier: "premium", APIKeysSHA256: []string{hex.EncodeToString(sum[:])}}},
					Routes:    []config.Route{{PathPrefix: "/a", Backend: "a"}},
					Backends:  []config.Backend{{Name: "a", URLs: []string{up.URL}}},
				}
				if v.policy != nil {
					cfg.Auth = []config.AuthPolicy{*v.policy}
					cfg.Routes[0].Auth = "p"
				}
				cfg.ApplyDefaults()
				if err := cfg.Validate(); err != nil {
					b.Fatal(err)
				}
				g := New(cfg, Options{Stats: stats.NewStore(), Metrics: metrics.New()})
				defer g.Close()
				if mode == "stub" {
					g.apply.deps.Forward = func(*route.Route) http.Handler { return stubUpstream{} }
					g.SetConfig(cfg)
				}
				r := httptest.NewRequest("GET", "/a/x", nil)
				if v.header[0] != "" {
					r.Header.Set(v.header[0], v.header[1])
				}
				first := httptest.NewRecorder()
				g.ServeHTTP(first, r) // the first JWT is verified, then its verdict is cached
				if first.Code != http.StatusOK {
					b.Fatalf("status %d: %s", first.Code, first.Body)
				}
				w := discardWriter{h: http.Header{}}
				if got := g.Table().Routes()[0].Policies; v.policy != nil && (len(got) == 0 || got[0] != "auth") {
					b.Fatalf("policies %v", got)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					clear(w.h)
					g.ServeHTTP(w, r)
				}
			})
		}
	}
}
