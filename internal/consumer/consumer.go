// Package consumer is the table of known callers and the checks of their
// credentials: API keys (stored as SHA-256 digests) and HTTP Basic
// passwords (stored as bcrypt hashes).
//
// An API key is hashed once per request and looked up by its digest; the
// digest found is compared again in constant time, so neither the lookup
// nor the comparison tells an attacker how close a guess came. A Basic
// password costs one bcrypt the first time it is seen; a correct one is
// then remembered in a bounded cache keyed by an HMAC of the username and
// password under a key made for this table (never the password itself), so
// a valid caller does not pay a bcrypt per request. Wrong passwords are
// not cached: each costs a bcrypt, as it should, and so does an unknown
// username (checked against a decoy hash), so timing does not tell which
// usernames exist.
//
// A Table is immutable apart from that cache; a reload builds a new one.
package consumer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash/maphash"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/rgate/rgate/internal/config"
)

// Consumer is one known caller.
type Consumer struct {
	Name string
	Tier string
}

// Table holds the consumers of one config.
type Table struct {
	byName   map[string]*Consumer
	byKey    map[[sha256.Size]byte]*keyEntry
	byUser   map[string]*basic
	cacheKey [32]byte
	seed     maphash.Seed
	shards   [cacheShards]cacheShard
	// decoy is a bcrypt hash checked for unknown usernames, so that a
	// wrong username costs what a wrong password does (made on first use).
	decoyOnce sync.Once
	decoy     []byte
}

type keyEntry struct {
	c      *Consumer
	digest [sha256.Size]byte
}

type basic struct {
	c    *Consumer
	hash []byte
}

const (
	cacheShards   = 16
	cachePerShard = 256 // at most 4096 remembered passwords per table
)

type cacheShard struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*Consumer
}

// NewTable builds the table of cs, which passed config validation (an
// unparsable digest is skipped).
func NewTable(cs []config.Consumer) *Table {
	t := &Table{
		byName: make(map[string]*Consumer, len(cs)),
		byKey:  map[[sha256.Size]byte]*keyEntry{},
		byUser: map[string]*basic{},
		seed:   maphash.MakeSeed(),
	}
	_, _ = rand.Read(t.cacheKey[:])
	for _, cc := range cs {
		c := &Consumer{Name: cc.Name, Tier: cc.Tier}
		t.byName[c.Name] = c
		for _, h := range cc.APIKeysSHA256 {
			var d [sha256.Size]byte
			if b, err := hex.DecodeString(strings.ToLower(h)); err == nil && len(b) == len(d) {
				copy(d[:], b)
				t.byKey[d] = &keyEntry{c: c, digest: d}
			}
		}
		if b := cc.BasicAuth; b != nil {
			t.byUser[b.Username] = &basic{c: c, hash: []byte(b.PasswordBcrypt)}
		}
	}
	return t
}

// Lookup returns the consumer called name, or nil.
func (t *Table) Lookup(name string) *Consumer { return t.byName[name] }

// ByAPIKey returns the consumer whose key is key, or nil.
func (t *Table) ByAPIKey(key string) *Consumer {
	d := sha256.Sum256([]byte(key))
	e := t.byKey[d]
	if e == nil {
		return nil
	}
	// The map found the digest; confirm it in constant time, so the
	// answer never rests on a short-circuiting comparison alone.
	if subtle.ConstantTimeCompare(e.digest[:], d[:]) != 1 {
		return nil
	}
	return e.c
}

// ByBasic returns the consumer whose Basic credential is user:pass, or nil.
func (t *Table) ByBasic(user, pass string) *Consumer {
	b := t.byUser[user]
	if b == nil {
		t.decoyOnce.Do(func() { t.decoy, _ = bcrypt.GenerateFromPassword(t.cacheKey[:16], bcrypt.DefaultCost) })
		_ = bcrypt.CompareHashAndPassword(t.decoy, []byte(pass))
		return nil
	}
	mac := hmac.New(sha256.New, t.cacheKey[:])
	mac.Write([]byte(user))
	mac.Write([]byte{0})
	mac.Write([]byte(pass))
	var k [sha256.Size]byte
	mac.Sum(k[:0])
	s := &t.shards[maphash.Bytes(t.seed, k[:])%cacheShards]
	s.mu.Lock()
	c := s.m[k]
	s.mu.Unlock()
	if c != nil {
		return c
	}
	if bcrypt.CompareHashAndPassword(b.hash, []byte(pass)) != nil {
		return nil
	}
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[[sha256.Size]byte]*Consumer)
	}
	if len(s.m) >= cachePerShard {
		for old := range s.m { // map order is random: drop any one
			delete(s.m, old)
			break
		}
	}
	s.m[k] = b.c
	s.mu.Unlock()
	return b.c
}

// cached returns how many passwords are remembered (for tests).
func (t *Table) cached() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
