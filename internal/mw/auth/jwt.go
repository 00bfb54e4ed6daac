package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash/maphash"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/consumer"
	"github.com/rgate/rgate/internal/h1syntax"
)

// keySource gives the keys tokens are verified with.
type keySource interface {
	// keyfunc returns the jwt.Keyfunc for a request with context ctx.
	keyfunc(ctx context.Context) jwt.Keyfunc
	// generation changes whenever the keys change: a cached verdict of an
	// older generation is not trusted.
	generation() uint64
}

type claimHeader struct {
	claim, header string
}

// jwtAuth verifies bearer tokens. A verified token is remembered (by its
// SHA-256, bounded) until it expires or the keys change, so a caller that
// sends the same token again does not cost a signature check each time.
type jwtAuth struct {
	parser        *jwt.Parser
	keys          keySource
	cs            *consumer.Table
	consumerClaim string
	tierClaim     string
	claims        []claimHeader
	leeway        time.Duration
	missing       string // challenges
	invalid       string
	cache         tokenCache
}

func newJWT(jc *config.JWTAuth, realm string, cs *consumer.Table, reg *Registry) *jwtAuth {
	opts := []jwt.ParserOption{jwt.WithValidMethods(jc.Algorithms), jwt.WithLeeway(jc.Leeway.D()), jwt.WithExpirationRequired()}
	if jc.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(jc.Issuer))
	}
	if len(jc.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(jc.Audience...))
	}
	j := &jwtAuth{
		parser:        jwt.NewParser(opts...),
		cs:            cs,
		consumerClaim: jc.ConsumerClaim,
		tierClaim:     jc.TierClaim,
		leeway:        jc.Leeway.D(),
		missing:       `Bearer realm="` + realm + `"`,
		invalid:       `Bearer realm="` + realm + `", error="invalid_token"`,
	}
	j.cache.seed = maphash.MakeSeed()
	for _, claim := range slices.Sorted(maps.Keys(jc.ForwardClaims)) {
		j.claims = append(j.claims, claimHeader{claim: claim, header: http.CanonicalHeaderKey(jc.ForwardClaims[claim])})
	}
	switch {
	case jc.JWKSURL != "":
		j.keys = reg.jwks(jc.JWKSURL)
	case jc.JWKSFile != "":
		j.keys = fileKeys(jc.JWKSFile, reg)
	default:
		j.keys = secretKeys(jc.SecretFile, reg)
	}
	return j
}

func (j *jwtAuth) challenge(o outcome) string {
	if o == refused {
		return j.invalid
	}
	return j.missing
}

func (j *jwtAuth) check(_ http.ResponseWriter, r *http.Request) (o outcome, id identity) {
	v := r.Header["Authorization"]
	if len(v) == 0 {
		return absent, id
	}
	tok, ok := cutScheme(v[0], "Bearer")
	if !ok || tok == "" {
		return absent, id
	}
	now := time.Now()
	gen := j.keys.generation()
	digest := tokenDigest(tok)
	if e, ok := j.cache.get(digest); ok && e.gen == gen && now.Before(e.until) && !now.Before(e.from) {
		return accepted, e.id
	}
	claims := jwt.MapClaims{}
	if _, err := j.parser.ParseWithClaims(tok, claims, j.keys.keyfunc(r.Context())); err != nil {
		return refused, id
	}
	name, _ := claims[j.consumerClaim].(string)
	if name == "" || !h1syntax.ValidFieldValue(name) {
		return refused, id // a name that cannot go into a header
	}
	id.consumer = name
	if t, ok := claims[j.tierClaim].(string); ok && j.tierClaim != "" && h1syntax.ValidFieldValue(t) {
		id.tier = t
	} else if c := j.cs.Lookup(name); c != nil {
		id.tier = c.Tier
	}
	for _, ch := range j.claims {
		if s, ok := claimString(claims[ch.claim]); ok {
			id.fields = append(id.fields, ch.header, s)
		}
	}
	e := tokenEntry{id: id, gen: gen, until: now.Add(maxTokenCache)}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		if t := exp.Add(j.leeway); t.Before(e.until) {
			e.until = t
		}
	}
	if nbf, err := claims.GetNotBefore(); err == nil && nbf != nil {
		e.from = nbf.Add(-j.leeway)
	}
	j.cache.put(digest, e)
	return accepted, id
}

// tokenDigest is the SHA-256 of tok, without a heap copy for tokens of a
// usual size.
func tokenDigest(tok string) [sha256.Size]byte {
	var buf [2048]byte
	if len(tok) <= len(buf) {
		n := copy(buf[:], tok)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(tok))
}

// claimString is a claim's value as a header value: strings, numbers and
// booleans; strings with control bytes are left out.
func claimString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != "" && h1syntax.ValidFieldValue(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// maxTokenCache bounds how long a verified token is remembered.
const maxTokenCache = 5 * time.Minute

const (
	tokenShards   = 16
	tokenPerShard = 1024
)

type tokenEntry struct {
	id    identity
	gen   uint64
	from  time.Time
	until time.Time
}

type tokenCache struct {
	seed   maphash.Seed
	shards [tokenShards]struct {
		mu sync.Mutex
		m  map[[sha256.Size]byte]tokenEntry
	}
}

func (c *tokenCache) get(k [sha256.Size]byte) (tokenEntry, bool) {
	s := &c.shards[maphash.Bytes(c.seed, k[:])%tokenShards]
	s.mu.Lock()
	e, ok := s.m[k]
	s.mu.Unlock()
	return e, ok
}

func (c *tokenCache) put(k [sha256.Size]byte, e tokenEntry) {
	s := &c.shards[maphash.Bytes(c.seed, k[:])%tokenShards]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[[sha256.Size]byte]tokenEntry)
	}
	if len(s.m) >= tokenPerShard {
		for old := range s.m { // random order: drop any one
			delete(s.m, old)
			break
		}
	}
	s.m[k] = e
	s.mu.Unlock()
}

// staticKeys are keys that never change while the table lives: a JWKS
// file, an HS* secret, or none (a file that could not be read: every
// token is refused).
type staticKeys struct {
	kf jwt.Keyfunc
}

var errNoKeys = errors.New("no verification keys")

func (s *staticKeys) keyfunc(context.Context) jwt.Keyfunc { return s.kf }
func (s *staticKeys) generation() uint64                  { return 0 }

func refuseAll(*jwt.Token) (any, error) { return nil, errNoKeys }

func fileKeys(path string, reg *Registry) keySource {
	raw, err := os.ReadFile(path)
	if err == nil {
		var kf keyfunc.Keyfunc
		if kf, err = keyfunc.NewJWKSetJSON(raw); err == nil {
			return &staticKeys{kf: kf.Keyfunc}
		}
	}
	reg.log.Error("jwks_file unusable; its policy refuses every token", "file", path, "error", err)
	return &staticKeys{kf: refuseAll}
}

func secretKeys(path string, reg *Registry) keySource {
	raw, err := os.ReadFile(path)
	secret := []byte(strings.TrimSpace(string(raw)))
	if err != nil || len(secret) == 0 {
		reg.log.Error("secret_file unusable; its policy refuses every token", "file", path, "error", err)
		return &staticKeys{kf: refuseAll}
	}
	return &staticKeys{kf: func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, errNoKeys
		}
		return secret, nil
	}}
}
