package cache

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want directives
	}{
		{nil, directives{maxAge: -1, sMaxAge: -1, staleIfError: -1}},
		{[]string{"public, max-age=60"}, directives{public: true, maxAge: 60, sMaxAge: -1, staleIfError: -1}},
		{[]string{"Max-Age=60", "S-MAXAGE=\"5\""}, directives{maxAge: 60, sMaxAge: 5, staleIfError: -1}},
		{[]string{`private="Set-Cookie, X-Foo", no-cache="a"`}, directives{private: true, noCache: true, maxAge: -1, sMaxAge: -1, staleIfError: -1}},
		{[]string{"no-store,must-revalidate"}, directives{noStore: true, mustRevalidate: true, maxAge: -1, sMaxAge: -1, staleIfError: -1}},
		{[]string{"proxy-revalidate, stale-if-error=30"}, directives{mustRevalidate: true, maxAge: -1, sMaxAge: -1, staleIfError: 30}},
		{[]string{"max-age=abc"}, directives{maxAge: 0, sMaxAge: -1, staleIfError: -1}},
		{[]string{"max-age=-5"}, directives{maxAge: 0, sMaxAge: -1, staleIfError: -1}},
		{[]string{"max-age=99999999999999999999"}, directives{maxAge: maxDeltaSeconds, sMaxAge: -1, staleIfError: -1}},
		{[]string{" , ,unknown=1, immutable"}, directives{maxAge: -1, sMaxAge: -1, staleIfError: -1}},
	} {
		if got := parseCacheControl(tc.in); got != tc.want {
			t.Errorf("parseCacheControl(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseVary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want []string
		ok   bool
	}{
		{nil, nil, true},
		{[]string{"accept-encoding"}, []string{"Accept-Encoding"}, true},
		{[]string{"Accept-Language, accept-encoding", "ACCEPT-ENCODING"}, []string{"Accept-Encoding", "Accept-Language"}, true},
		{[]string{"Accept, *"}, nil, false},
	} {
		got, ok := parseVary(tc.in)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("parseVary(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAdmit(t *testing.T) {
	t.Parallel()
	s := NewStore(defaultCfg())
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		hdr       []string
		auth      bool
		ok        bool
		fresh     time.Duration
		staleFor  time.Duration
		shared    bool
		age       time.Duration
		wantVary0 string
	}{
		{name: "plain: route ttl", ok: true, fresh: time.Minute, staleFor: time.Hour},
		{name: "max-age", hdr: []string{"Cache-Control", "max-age=5"}, ok: true, fresh: 5 * time.Second, staleFor: time.Hour},
		{name: "s-maxage wins, shared", hdr: []string{"Cache-Control", "max-age=5, s-maxage=9"}, ok: true, fresh: 9 * time.Second, staleFor: time.Hour, shared: true},
		{name: "age", hdr: []string{"Age", "3"}, ok: true, fresh: time.Minute, staleFor: time.Hour, age: 3 * time.Second},
		{name: "expires - date", hdr: []string{"Date", "Thu, 02 Jan 2025 03:04:05 GMT", "Expires", "Thu, 02 Jan 2025 03:04:35 GMT"}, ok: true, fresh: 30 * time.Second, staleFor: time.Hour},
		{name: "expires - now", hdr: []string{"Expires", "Thu, 02 Jan 2025 03:05:05 GMT"}, ok: true, fresh: time.Minute, staleFor: time.Hour},
		{name: "stale-if-error", hdr: []string{"Cache-Control", "stale-if-error=7"}, ok: true, fresh: time.Minute, staleFor: 7 * time.Second},
		{name: "must-revalidate", hdr: []string{"Cache-Control", "must-revalidate"}, ok: true, fresh: time.Minute},
		{name: "auth public", hdr: []string{"Cache-Control", "public"}, auth: true, ok: true, fresh: time.Minute, staleFor: time.Hour, shared: true},
		{name: "vary", hdr: []string{"Vary", "accept"}, ok: true, fresh: time.Minute, staleFor: time.Hour, wantVary0: "Accept"},
		{name: "auth", auth: true},
		{name: "no-store", hdr: []string{"Cache-Control", "no-store"}},
		{name: "private", hdr: []string{"Cache-Control", "private"}},
		{name: "no-cache", hdr: []string{"Cache-Control", "no-cache"}},
		{name: "set-cookie", hdr: []string{"Set-Cookie", "a=b"}},
		{name: "trailer", hdr: []string{"Trailer", "X-Sum"}},
		{name: "vary star", hdr: []string{"Vary", "*"}},
		{name: "expired", hdr: []string{"Expires", "Thu, 02 Jan 2025 03:04:05 GMT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				h.Add(tc.hdr[i], tc.hdr[i+1])
			}
			p, ok := s.admit(h, tc.auth, now)
			if ok != tc.ok {
				t.Fatalf("admit = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if p.fresh != tc.fresh || p.staleFor != tc.staleFor || p.shared != tc.shared || p.age != tc.age || !p.at.Equal(now) {
				t.Errorf("policy %+v", p)
			}
			if tc.wantVary0 != "" && (len(p.vary) != 1 || p.vary[0] != tc.wantVary0) {
				t.Errorf("vary %q, want [%s]", p.vary, tc.wantVary0)
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method string
		hdr    []string
		want   reqFlags
		lead   bool
	}{
		{http.MethodGet, nil, reqFlags{maxAge: -1}, true},
		{http.MethodHead, nil, reqFlags{maxAge: -1}, false},
		{http.MethodGet, []string{"Authorization", "x"}, reqFlags{auth: true, maxAge: -1}, false},
		{http.MethodGet, []string{"Cache-Control", "no-store"}, reqFlags{noStore: true, maxAge: -1}, false},
		{http.MethodGet, []string{"Cache-Control", "no-cache, max-age=3"}, reqFlags{noCache: true, maxAge: 3}, true},
		{http.MethodGet, []string{"Pragma", "no-cache"}, reqFlags{noCache: true, maxAge: -1}, true},
		{http.MethodGet, []string{"Pragma", "no-cache", "Cache-Control", "max-age=9"}, reqFlags{maxAge: 9}, true},
		{http.MethodGet, []string{"Range", "bytes=0-1"}, reqFlags{maxAge: -1}, false},
		{http.MethodGet, []string{"If-None-Match", `"x"`}, reqFlags{maxAge: -1}, false},
	} {
		r := httptest.NewRequest(tc.method, "/", nil)
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			r.Header.Add(tc.hdr[i], tc.hdr[i+1])
		}
		q := parseRequest(r.Header)
		if q != tc.want || canLead(r, q) != tc.lead {
			t.Errorf("%s %q: %+v lead %v, want %+v lead %v", tc.method, tc.hdr, q, canLead(r, q), tc.want, tc.lead)
		}
	}
}

func TestStoredFields(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"Connection":        {"X-Hop, close"},
		"X-Hop":             {"1"},
		"Keep-Alive":        {"timeout=5"},
		"Transfer-Encoding": {"chunked"},
		"Age":               {"3"},
		"X-Request-Id":      {"abc"},
		"Cache-Status":      {"other; hit"},
		"Content-Length":    {"999"},
		"Content-Type":      {"text/plain"},
		"Etag":              {`"v1"`},
	}
	var names []string
	for _, f := range storedFields(h, 5) {
		names = append(names, f.name+"="+f.vals[0])
		if cap(f.vals) != len(f.vals) {
			t.Errorf("%s: cap %d > len %d", f.name, cap(f.vals), len(f.vals))
		}
	}
	want := []string{"Content-Length=5", "Content-Type=text/plain", `Etag="v1"`}
	if !slices.Equal(names, want) {
		t.Errorf("stored %q, want %q", names, want)
	}
}

func TestAppendCacheStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a    answer
		ttl  int64
		want string
	}{
		{answer{}, 12, "rgate; hit; ttl=12"},
		{answer{fwd: fwdURIMiss, collapsed: true}, 60, "rgate; fwd=uri-miss; collapsed; ttl=60"},
		{answer{fwd: fwdStale, fwdStatus: 503}, -40, "rgate; fwd=stale; fwd-status=503; ttl=-40"},
	} {
		if got := string(appendCacheStatus(nil, tc.a, tc.ttl)); got != tc.want {
			t.Errorf("appendCacheStatus(%+v, %d) = %q, want %q", tc.a, tc.ttl, got, tc.want)
		}
	}
}
