package accesslog

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain /path?x=1", `"plain /path?x=1"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"a\nb\rc\td", `"a\nb\rc\td"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"\xff", `"\ufffd"`},
		{"a\xe2\x82b", `"a\ufffd\ufffdb"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"☃😀", `"☃😀"`},
		{"<script>&", `"<script>&"`},
	} {
		if got := string(appendJSONString(nil, tc.in)); got != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzAppendJSONString checks that any input gives valid JSON that decodes
// to the input with each invalid UTF-8 byte replaced by U+FFFD, exactly as
// encoding/json would encode it.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\n\x00", "\xff\xfe", "é\xc3", "\u2028", "😀\xf0\x9f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString(nil, s)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if want := string([]rune(s)); got != want {
			t.Fatalf("round trip of %q = %q, want %q", s, got, want)
		}
		std, _ := json.Marshal(s)
		var stdGot string
		_ = json.Unmarshal(std, &stdGot)
		if got != stdGot {
			t.Fatalf("decodes to %q, encoding/json's to %q", got, stdGot)
		}
	})
}
