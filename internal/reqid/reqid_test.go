package reqid

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"abc-123", true},
		{"5f0c2a1e-8b7d-4c33-9d1e-0a9b8c7d6e5f", true},
		{"", false},
		{strings.Repeat("a", MaxLen), true},
		{strings.Repeat("a", MaxLen+1), false},
		{"has space", false},
		{"tab\there", false},
		{"nl\nx", false},
		{`quote"`, false},
		{`back\slash`, false},
		{"caf\xc3\xa9", false},
		{"del\x7f", false},
	} {
		if got := Valid(tc.id); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestNewAndGet(t *testing.T) {
	t.Parallel()
	a, b := New(), New()
	if len(a) != 32 || a == b || !Valid(a) {
		t.Errorf("New() = %q, %q", a, b)
	}
	if Get("keep-me") != "keep-me" {
		t.Error("valid id not kept")
	}
	if got := Get("bad id"); got == "bad id" || !Valid(got) {
		t.Errorf("invalid id gave %q", got)
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = New()
	}
}

// FuzzGet: whatever a client sends, the id used is valid, and a valid one
// is kept as sent.
func FuzzGet(f *testing.F) {
	for _, s := range []string{"abc", "", "a b", "\x00", strings.Repeat("x", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sent string) {
		got := Get(sent)
		if !Valid(got) {
			t.Fatalf("Get(%q) = %q, not valid", sent, got)
		}
		if Valid(sent) && got != sent {
			t.Fatalf("valid id %q replaced by %q", sent, got)
		}
	})
}
