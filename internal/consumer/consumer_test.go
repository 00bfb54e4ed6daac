package consumer

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/rgate/rgate/internal/config"
)

func table(t *testing.T) *Table {
	t.Helper()
	sum := sha256.Sum256([]byte("k1"))
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return NewTable([]config.Consumer{{Name: "acme", Tier: "premium",
		APIKeysSHA256: []string{strings.ToUpper(hex.EncodeToString(sum[:]))},
		BasicAuth:     &config.BasicAuth{Username: "acme", PasswordBcrypt: string(h)}}})
}

func TestByAPIKey(t *testing.T) {
	t.Parallel()
	tb := table(t)
	if c := tb.ByAPIKey("k1"); c == nil || c.Name != "acme" || c.Tier != "premium" {
		t.Fatalf("k1 -> %+v", c)
	}
	for _, k := range []string{"k2", "", "K1"} {
		if c := tb.ByAPIKey(k); c != nil {
			t.Fatalf("%q -> %+v", k, c)
		}
	}
}

func TestByBasicCachesOnlyGoodPasswords(t *testing.T) {
	t.Parallel()
	tb := table(t)
	if tb.ByBasic("acme", "bad") != nil || tb.ByBasic("nobody", "pw") != nil {
		t.Fatal("bad credential accepted")
	}
	if n := tb.cached(); n != 0 {
		t.Fatalf("%d failures cached", n)
	}
	for range 3 {
		if c := tb.ByBasic("acme", "pw"); c == nil || c.Name != "acme" {
			t.Fatal("good password refused")
		}
	}
	if n := tb.cached(); n != 1 {
		t.Fatalf("cached %d, want 1", n)
	}
	for i := range cacheShards * cachePerShard * 2 { // fill the cache past its bound
		var k [sha256.Size]byte
		copy(k[:], strconv.Itoa(i))
		s := &tb.shards[i%cacheShards]
		s.mu.Lock()
		if s.m == nil {
			s.m = map[[sha256.Size]byte]*Consumer{}
		}
		if len(s.m) < cachePerShard {
			s.m[k] = nil
		}
		s.mu.Unlock()
	}
	tb.ByBasic("acme", "pw")
	if n := tb.cached(); n > cacheShards*cachePerShard {
		t.Fatalf("cache holds %d, over its bound", n)
	}
}
