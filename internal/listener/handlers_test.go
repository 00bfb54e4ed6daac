package listener

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })

// TestSecure: HSTS on every TLS answer when set; Connection: close after
// an HTTP/1.0 request (whose Transfer-Encoding net/http ignores), and not
// after an HTTP/1.1 or HTTP/2 one.
func TestSecure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		major, minor int
		hsts         string
		wantClose    bool
	}{
		{1, 0, "max-age=60", true}, {1, 1, "max-age=60", false}, {2, 0, "", false},
	} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.ProtoMajor, r.ProtoMinor = tc.major, tc.minor
		rec := httptest.NewRecorder()
		secure(ok, tc.hsts).ServeHTTP(rec, r)
		if got := rec.Header().Get("Connection") == "close"; got != tc.wantClose {
			t.Errorf("HTTP/%d.%d: Connection: close %v, want %v", tc.major, tc.minor, got, tc.wantClose)
		}
		if got := rec.Header().Get("Strict-Transport-Security"); got != tc.hsts {
			t.Errorf("HTTP/%d.%d: HSTS %q, want %q", tc.major, tc.minor, got, tc.hsts)
		}
	}
}

// TestRedirect: 308 to https on the TLS port, keeping path and query;
// admin paths and ACME challenges are served instead.
func TestRedirect(t *testing.T) {
	t.Parallel()
	isAdmin := func(p string) bool { return p == "/stats" }
	for _, tc := range []struct {
		host, target string
		port         int
		want         string // "" for served
	}{
		{"api.example.com", "/a/b?q=1", 8443, "https://api.example.com:8443/a/b?q=1"},
		{"api.example.com:8080", "/", 443, "https://api.example.com/"},
		{"[::1]:8080", "/x", 8443, "https://[::1]:8443/x"},
		{"api.example.com", "/stats", 8443, ""},
		{"api.example.com", "/.well-known/acme-challenge/tok", 8443, ""},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		r.Host = tc.host
		rec := httptest.NewRecorder()
		redirect(ok, tc.port, isAdmin).ServeHTTP(rec, r)
		switch {
		case tc.want == "" && (rec.Code != 200 || rec.Body.String() != "ok"):
			t.Errorf("%s%s: %d, want it served", tc.host, tc.target, rec.Code)
		case tc.want != "" && (rec.Code != 308 || rec.Header().Get("Location") != tc.want):
			t.Errorf("%s%s: %d Location %q, want 308 %q", tc.host, tc.target, rec.Code, rec.Header().Get("Location"), tc.want)
		}
	}
}
