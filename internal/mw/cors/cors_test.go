package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
)

func TestCORS(t *testing.T) {
	t.Parallel()
	reached := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++; w.WriteHeader(200) })
	h := New(config.CORS{
		AllowOrigins: []string{"https://app.example.com"}, AllowMethods: []string{"GET", "post"},
		AllowHeaders: []string{"Authorization"}, ExposeHeaders: []string{"X-Total"}, MaxAge: config.Duration(10 * time.Minute),
	}, next)

	for _, tc := range []struct {
		name       string
		method     string
		hdr        map[string]string
		wantStatus int
		wantNext   bool
		want       map[string]string // "" means absent
	}{
		{
			name: "preflight allowed", method: "OPTIONS",
			hdr:        map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
			wantStatus: 204,
			want: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Methods": "GET, POST",
				"Access-Control-Allow-Headers": "Authorization", "Access-Control-Max-Age": "600"},
		},
		{
			name: "preflight other origin", method: "OPTIONS",
			hdr:        map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
			wantStatus: 204,
			want:       map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""},
		},
		{
			name: "plain OPTIONS passes through", method: "OPTIONS",
			hdr: map[string]string{"Origin": "https://app.example.com"}, wantStatus: 200, wantNext: true,
		},
		{
			name: "actual request allowed", method: "GET",
			hdr: map[string]string{"Origin": "https://APP.example.com"}, wantStatus: 200, wantNext: true,
			want: map[string]string{"Access-Control-Allow-Origin": "https://APP.example.com", "Access-Control-Expose-Headers": "X-Total", "Vary": "Origin"},
		},
		{
			name: "actual request other origin", method: "GET",
			hdr: map[string]string{"Origin": "https://evil.example"}, wantStatus: 200, wantNext: true,
			want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{name: "no origin", method: "GET", wantStatus: 200, wantNext: true, want: map[string]string{"Vary": "Origin"}},
	} {
		reached = 0
		r := httptest.NewRequest(tc.method, "/x", nil)
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tc.wantStatus || (reached == 1) != tc.wantNext {
			t.Errorf("%s: status %d next %v, want %d %v", tc.name, rec.Code, reached == 1, tc.wantStatus, tc.wantNext)
		}
		for k, v := range tc.want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", tc.name, k, got, v)
			}
		}
		if n := len(rec.Header().Values("Vary")); n > 1 {
			t.Errorf("%s: %d Vary headers", tc.name, n)
		}
	}
}

func TestCORSAnyOrigin(t *testing.T) {
	t.Parallel()
	h := New(config.CORS{AllowOrigins: []string{"*"}, AllowHeaders: []string{"*"}}, http.NotFoundHandler())
	r := httptest.NewRequest("OPTIONS", "/", nil)
	r.Header.Set("Origin", "https://x.example")
	r.Header.Set("Access-Control-Request-Method", "PUT")
	r.Header.Set("Access-Control-Request-Headers", "X-A, X-B")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("allow origin %q", got)
	}
	if got := rec.Header().Get("Access-Control-Allow-Headers"); got != "X-A, X-B" {
		t.Errorf("allow headers %q, want the requested ones echoed", got)
	}
	if got := rec.Header().Get("Access-Control-Allow-Methods"); got != config.DefaultCORSAllowMethods {
		t.Errorf("allow methods %q", got)
	}
}
