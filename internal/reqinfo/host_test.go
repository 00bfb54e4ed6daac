package reqinfo

import "testing"

func TestHostOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[::1]:8080", "::1"},
		{"[fe80::1%eth0]:80", "fe80::1%eth0"},
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8::1", "2001:db8::1"},
		{"::1", "::1"},
		{"[::1]", "[::1]"},
		{"[broken", "[broken"},
		{"", ""},
		{"@", "@"},
	} {
		if got := HostOf(tc.addr); got != tc.want {
			t.Errorf("HostOf(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func BenchmarkHostOf(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = HostOf("[2001:db8::1]:443")
	}
}
