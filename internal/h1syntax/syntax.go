// Package h1syntax holds the HTTP/1 lexical rules that rgate's own wire
// engines (h1server, h1client) and the outbound request plan share:
// character tables, token lists, hop-by-hop fields and the small error
// helpers of connection code. The tables mirror golang.org/x/net/http/httpguts
// (vendored into net/http, not in this module's go.mod) and net/textproto,
// so the engines accept exactly the bytes net/http accepts.
package h1syntax

// IsTokenTable reports whether a byte is a tchar (RFC 9110 section 5.6.2),
// the table httpguts.ValidHeaderFieldName and net/http's method check use.
var IsTokenTable = byteSet("!#$%&'*+-.^_`|~" + digits + upper + lower)

// ValidHostByte is httpguts' table for ValidHostHeader.
var ValidHostByte = byteSet(digits + lower + upper + "!$%&()*+,-.:;=[']_~")

const (
	digits = "0123456789"
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower  = "abcdefghijklmnopqrstuvwxyz"
)

// byteSet returns the table that holds the bytes of chars.
func byteSet(chars string) (t [256]bool) {
	for i := 0; i < len(chars); i++ {
		t[chars[i]] = true
	}
	return t
}

// InvalidValueByte marks bytes that may not appear in a header field value:
// CTLs other than HTAB, and DEL. (textproto's validHeaderValueByte and
// httpguts.ValidHeaderFieldValue agree on this set; obs-text is allowed.)
var InvalidValueByte = func() (t [256]bool) {
	for b := 0; b < 0x20; b++ {
		t[b] = b != '\t'
	}
	t[0x7f] = true
	return t
}()

// IsToken reports whether b is a non-empty token.
func IsToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !IsTokenTable[c] {
			return false
		}
	}
	return true
}

// ValidTokenString reports whether s is a non-empty token.
func ValidTokenString(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsTokenTable[s[i]] {
			return false
		}
	}
	return true
}

// ValidHost reports whether every byte of b may appear in a Host header.
func ValidHost(b []byte) bool {
	for _, c := range b {
		if !ValidHostByte[c] {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether v may be sent as a header field value.
func ValidFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if InvalidValueByte[v[i]] {
			return false
		}
	}
	return true
}

// HasCTL reports whether s holds a control byte (or DEL).
func HasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

// IsHex reports whether c is a hexadecimal digit.
func IsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// IsDigit reports whether c is a decimal digit.
func IsDigit(c byte) bool { return '0' <= c && c <= '9' }

// LowerASCII lower-cases an ASCII letter and leaves other bytes alone.
func LowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + ('a' - 'A')
	}
	return b
}

// EqualFoldBytes reports whether b equals s, ignoring ASCII case.
func EqualFoldBytes(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if LowerASCII(b[i]) != LowerASCII(s[i]) {
			return false
		}
	}
	return true
}

// EqualFold is ascii.EqualFold from net/http/internal/ascii.
func EqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if LowerASCII(s[i]) != LowerASCII(t[i]) {
			return false
		}
	}
	return true
}

// CanonicalizeKey rewrites a (already validated as a token) into
// textproto's canonical MIME header key form in place.
func CanonicalizeKey(a []byte) {
	upper := true
	for i, c := range a {
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		a[i] = c
		upper = c == '-'
	}
}

// IsOWS reports whether b is optional white space (SP or HTAB).
func IsOWS(b byte) bool { return b == ' ' || b == '\t' }

// TrimOWS trims optional white space from both ends of x.
func TrimOWS(x string) string {
	for len(x) > 0 && IsOWS(x[0]) {
		x = x[1:]
	}
	for len(x) > 0 && IsOWS(x[len(x)-1]) {
		x = x[:len(x)-1]
	}
	return x
}

// TokenEqual reports whether t1 and t2 are equal, ASCII case-insensitively
// (false when t1 has a non-ASCII byte).
func TokenEqual(t1, t2 string) bool {
	if len(t1) != len(t2) {
		return false
	}
	for i := 0; i < len(t1); i++ {
		if t1[i] >= 0x80 {
			return false
		}
		if LowerASCII(t1[i]) != LowerASCII(t2[i]) {
			return false
		}
	}
	return true
}

// HeaderValueContainsToken is httpguts' function of the same name: v is a
// comma-separated list that holds token.
func HeaderValueContainsToken(v string, token string) bool {
	for {
		comma := -1
		for i := 0; i < len(v); i++ {
			if v[i] == ',' {
				comma = i
				break
			}
		}
		if comma < 0 {
			break
		}
		if TokenEqual(TrimOWS(v[:comma]), token) {
			return true
		}
		v = v[comma+1:]
	}
	return TokenEqual(TrimOWS(v), token)
}

// HeaderValuesContainsToken is httpguts.HeaderValuesContainsToken: one of
// the field's values holds token.
func HeaderValuesContainsToken(values []string, token string) bool {
	for _, v := range values {
		if HeaderValueContainsToken(v, token) {
			return true
		}
	}
	return false
}

// HasToken is net/http's unexported hasToken: token (lower case) appears in
// v, ASCII case-insensitively, with space, tab or comma boundaries. Unlike
// HeaderValueContainsToken it does not split v into list elements, so
// "keep-alive close" holds "close" too.
func HasToken(v, token string) bool {
	if len(token) > len(v) || token == "" {
		return false
	}
	if v == token {
		return true
	}
	for sp := 0; sp <= len(v)-len(token); sp++ {
		// Check that first character is good.
		// The token is ASCII, so checking only a single byte
		// is sufficient. We skip this potential starting
		// position if both the first byte and its potential
		// ASCII uppercase equivalent (b|0x20) don't match.
		// False positives ('^' => '~') are caught by EqualFold.
		if b := v[sp]; b != token[0] && b|0x20 != token[0] {
			continue
		}
		// Check that start pos is on a valid token boundary.
		if sp > 0 && !isTokenBoundary(v[sp-1]) {
			continue
		}
		// Check that end pos is on a valid token boundary.
		if endPos := sp + len(token); endPos != len(v) && !isTokenBoundary(v[endPos]) {
			continue
		}
		if EqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func isTokenBoundary(b byte) bool {
	return b == ' ' || b == ',' || b == '\t'
}
