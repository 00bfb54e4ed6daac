package h1syntax

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"testing"
)

func TestTokens(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"GET", true},
		{"X-Custom_Name.v2~", true},
		{"!#$%&'*+-.^_`|~09azAZ", true},
		{"", false},
		{"Content Type", false},
		{"Host:", false},
		{"a\tb", false},
		{"(x)", false},
		{"a/b", false},
		{"caf\xc3\xa9", false},
		{"x\x00", false},
		{"del\x7f", false},
	} {
		if got := IsToken([]byte(tc.in)); got != tc.want {
			t.Errorf("IsToken(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if got := ValidTokenString(tc.in); got != tc.want {
			t.Errorf("ValidTokenString(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestTokenTableMatchesNetHTTP checks every ASCII byte against net/http's
// method check (httpguts.IsTokenRune).
func TestTokenTableMatchesNetHTTP(t *testing.T) {
	for c := 0; c < 0x80; c++ {
		_, err := http.NewRequest(string(rune(c)), "http://example.com/", nil)
		if netHTTP := err == nil; IsTokenTable[c] != netHTTP {
			t.Errorf("IsTokenTable[%q] = %v, net/http accepts it as a method: %v", rune(c), IsTokenTable[c], netHTTP)
		}
	}
}

func TestValidHost(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", true},
		{"example.com", true},
		{"example.com:8080", true},
		{"[::1]:443", true},
		{"user@host", false}, // '@' is not in httpguts' table
		{"a b", false},
		{"a/b", false},
		{"h\xc3\xa9", false},
	} {
		if got := ValidHost([]byte(tc.in)); got != tc.want {
			t.Errorf("ValidHost(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestValidFieldValue(t *testing.T) {
	for _, tc := range []struct {
		in         string
		valid, ctl bool
	}{
		{"", true, false},
		{"text/html; charset=utf-8", true, false},
		{"a\tb", true, true},         // HTAB is allowed in a value, but is a CTL
		{"caf\xc3\xa9", true, false}, // obs-text is allowed
		{"\x80\xff", true, false},
		{"a\rb", false, true},
		{"a\nb", false, true},
		{"a\x00b", false, true},
		{"\x1f", false, true},
		{"del\x7f", false, true},
	} {
		if got := ValidFieldValue(tc.in); got != tc.valid {
			t.Errorf("ValidFieldValue(%q) = %v, want %v", tc.in, got, tc.valid)
		}
		if got := HasCTL(tc.in); got != tc.ctl {
			t.Errorf("HasCTL(%q) = %v, want %v", tc.in, got, tc.ctl)
		}
	}
}

func TestHeaderValuesContainsToken(t *testing.T) {
	for _, tc := range []struct {
		values []string
		token  string
		want   bool
	}{
		{[]string{"close"}, "close", true},
		{[]string{"Close"}, "close", true},
		{[]string{"CLOSE"}, "close", true},
		{[]string{"keep-alive, close"}, "close", true},
		{[]string{"close, keep-alive"}, "close", true},
		{[]string{" \tclose\t "}, "close", true},
		{[]string{"keep-alive ,\tclose ,x"}, "close", true},
		{[]string{"keep-alive", "Upgrade"}, "upgrade", true},
		{[]string{"Upgrade"}, "Upgrade", true},
		{[]string{"closed"}, "close", false},
		{[]string{"unclose"}, "close", false},
		{[]string{"keep-alive close"}, "close", false}, // a list element, not a word
		{[]string{"cl ose"}, "close", false},
		{[]string{"\xc3lose"}, "close", false},
		{[]string{""}, "close", false},
		{nil, "close", false},
		{[]string{","}, "", true}, // an empty element matches an empty token
	} {
		if got := HeaderValuesContainsToken(tc.values, tc.token); got != tc.want {
			t.Errorf("HeaderValuesContainsToken(%q, %q) = %v, want %v", tc.values, tc.token, got, tc.want)
		}
	}
}

func TestHasToken(t *testing.T) {
	for _, tc := range []struct {
		v, token string
		want     bool
	}{
		{"close", "close", true},
		{"Close", "close", true},
		{"keep-alive, CLOSE", "close", true},
		{"keep-alive close", "close", true}, // space is a boundary here
		{"x\tclose\t", "close", true},
		{"closed", "close", false},
		{"unclose", "close", false},
		{"close-ish", "close", false},
		{"clo", "close", false},
		{"close", "", false},
		{"", "close", false},
		{"^lose", "~lose", false}, // '^'|0x20 is '~': caught by EqualFold
	} {
		if got := HasToken(tc.v, tc.token); got != tc.want {
			t.Errorf("HasToken(%q, %q) = %v, want %v", tc.v, tc.token, got, tc.want)
		}
	}
}

func TestTrimOWSAndFold(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{" \t", ""},
		{" a b\t", "a b"},
		{"\ra\n", "\ra\n"}, // CR and LF are not OWS
	} {
		if got := TrimOWS(tc.in); got != tc.want {
			t.Errorf("TrimOWS(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"Content-Length", "content-length", true},
		{"HOST", "Host", true},
		{"Host", "Hosts", false},
		{"Hast", "Host", false},
		{"[", "{", false},
	} {
		if got := EqualFold(tc.a, tc.b); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := EqualFoldBytes([]byte(tc.a), tc.b); got != tc.want {
			t.Errorf("EqualFoldBytes(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCanonicalizeKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"content-length", "Content-Length"},
		{"CONTENT-LENGTH", "Content-Length"},
		{"x-forwarded-for", "X-Forwarded-For"},
		{"te", "Te"},
		{"www-authenticate", "Www-Authenticate"},
		{"a--b", "A--B"},
		{"1x", "1x"},
	} {
		b := []byte(tc.in)
		CanonicalizeKey(b)
		if string(b) != tc.want {
			t.Errorf("CanonicalizeKey(%q) = %q, want %q", tc.in, b, tc.want)
		}
		if want := http.CanonicalHeaderKey(tc.in); string(b) != want {
			t.Errorf("CanonicalizeKey(%q) = %q, net/http says %q", tc.in, b, want)
		}
	}
}

func TestRemoveHopByHop(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   http.Header
		want []string // the keys left, sorted
	}{
		{
			name: "fixed fields",
			in: http.Header{
				"Connection": {"keep-alive"}, "Proxy-Connection": {"x"}, "Keep-Alive": {"timeout=5"},
				"Proxy-Authenticate": {"x"}, "Proxy-Authorization": {"x"}, "Te": {"trailers"},
				"Trailer": {"X"}, "Transfer-Encoding": {"chunked"}, "Upgrade": {"websocket"},
				"Content-Type": {"text/plain"},
			},
			want: []string{"Content-Type"},
		},
		{
			name: "fields Connection names",
			in: http.Header{
				"Connection": {"x-hop, X-Other", " x-third\t"}, "X-Hop": {"1"}, "X-Other": {"2"},
				"X-Third": {"3"}, "X-Kept": {"4"},
			},
			want: []string{"X-Kept"},
		},
		{
			name: "empty Connection elements",
			in:   http.Header{"Connection": {", ,"}, "Accept": {"*/*"}},
			want: []string{"Accept"},
		},
		{
			name: "no Connection",
			in:   http.Header{"Accept": {"*/*"}, "Host-Ish": {"x"}},
			want: []string{"Accept", "Host-Ish"},
		},
	} {
		RemoveHopByHop(tc.in)
		got := slices.Sorted(maps.Keys(tc.in))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: RemoveHopByHop left %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestConnectionNames(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{""}, nil},
		{[]string{" , "}, nil},
		{[]string{"close"}, []string{"Close"}},
		{[]string{"x-a, X-B", "x-c"}, []string{"X-A", "X-B", "X-C"}},
	} {
		if got := ConnectionNames(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("ConnectionNames(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, k := range []string{"Connection", "Te", "Upgrade", "Transfer-Encoding"} {
		if !IsHopByHop(k) {
			t.Errorf("IsHopByHop(%q) = false", k)
		}
	}
	for _, k := range []string{"Content-Length", "connection", "Host"} {
		if IsHopByHop(k) {
			t.Errorf("IsHopByHop(%q) = true", k)
		}
	}
}

type tempErr struct{}

func (tempErr) Error() string   { return "temporary" }
func (tempErr) Timeout() bool   { return false }
func (tempErr) Temporary() bool { return true }

func TestIsTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"context.DeadlineExceeded", context.DeadlineExceeded, true},
		{"os.ErrDeadlineExceeded", os.ErrDeadlineExceeded, true},
		{"wrapped os.ErrDeadlineExceeded", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, true},
		{"fmt-wrapped", fmt.Errorf("reading: %w", context.DeadlineExceeded), true},
		{"context.Canceled", context.Canceled, false},
		{"io.EOF", io.EOF, false},
		{"net.ErrClosed", net.ErrClosed, false},
		{"net.Error without Timeout", tempErr{}, false},
		{"plain", errors.New("timeout"), false},
	} {
		if got := IsTimeout(tc.err); got != tc.want {
			t.Errorf("IsTimeout(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
