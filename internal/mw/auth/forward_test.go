package auth

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
)

func TestForward(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "allow":
			if r.Header.Get("X-Forwarded-Uri") != "/pay?x=1" || r.Header.Get("X-Forwarded-Method") != "GET" {
				http.Error(w, "missing forwarded fields", http.StatusTeapot)
				return
			}
			w.Header().Set("X-User-Id", "u-42")
			w.Header().Set("X-Consumer", "acme")
			w.Header().Set("X-Secret-Internal", "no")
		case "hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			w.Header().Set("Www-Authenticate", `Bearer realm="sso"`)
			w.Header().Set("Location", "https://sso.test/login")
			w.WriteHeader(http.StatusFound)
			_, _ = w.Write([]byte("go log in"))
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	h, _ := policyHandler(t, config.AuthPolicy{Name: "sso", Methods: []string{"forward"}, Forward: &config.ForwardAuth{
		URL: srv.URL, ResponseHeaders: []string{"X-User-ID"}, Timeout: config.Duration(200 * time.Millisecond)}})

	r := get("/pay?x=1")
	r.Header.Set("Authorization", "allow")
	res := serve(h, r)
	if !res.next || res.info.Consumer != "acme" || res.info.ConsumerTier != "premium" ||
		!slices.Equal(res.info.Identity, []string{"X-User-Id", "u-42"}) {
		t.Fatalf("allowed: next=%v status=%d info=%+v", res.next, res.rec.Code, res.info)
	}

	r = get("/pay")
	r.Header.Set("Authorization", "deny")
	res = serve(h, r)
	if res.next || res.rec.Code != http.StatusFound || res.rec.Body.String() != "go log in" ||
		res.rec.Header().Get("Location") != "https://sso.test/login" || res.rec.Header().Get("Www-Authenticate") != `Bearer realm="sso"` {
		t.Fatalf("denied: next=%v status=%d body=%q header=%v", res.next, res.rec.Code, res.rec.Body, res.rec.Header())
	}

	r = get("/pay")
	r.Header.Set("Authorization", "hang")
	start := time.Now()
	res = serve(h, r)
	if res.next || res.rec.Code != http.StatusServiceUnavailable || time.Since(start) > 2*time.Second {
		t.Fatalf("hung: next=%v status=%d after %v", res.next, res.rec.Code, time.Since(start))
	}
}
