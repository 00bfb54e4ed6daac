// Package reqid gives every request an id: the client's X-Request-Id when it
// is a sane token, a fresh random one otherwise. The id is passed upstream
// and returned to the client in the same header.
package reqid

import (
	"encoding/hex"
	"math/rand/v2"
)

// Header is the header that carries the id both ways.
const Header = "X-Request-Id"

// MaxLen is the longest client-sent id that is kept.
const MaxLen = 128

// Valid reports whether a client-sent id may be kept: 1..MaxLen characters
// of visible ASCII without quotes or backslashes (nothing that would break a
// log line or a JSON body).
func Valid(id string) bool {
	if len(id) == 0 || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// New returns a fresh random id: 32 hex characters (128 bits).
// math/rand/v2's global source is per-thread ChaCha8: lock-free and
// unpredictable enough for correlation ids (they are not secrets).
func New() string {
	var raw [16]byte
	a, b := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		raw[i] = byte(a >> (8 * i))
		raw[8+i] = byte(b >> (8 * i))
	}
	return hex.EncodeToString(raw[:])
}

// Get returns the id to use for a request whose client sent sent.
func Get(sent string) string {
	if Valid(sent) {
		return sent
	}
	return New()
}
