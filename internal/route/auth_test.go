package route

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/docker"
)

// TestAuthStateAcrossCompiles: a compile with an unchanged policy keeps it
// (and its caches); a reload that changes consumers rebuilds the policy
// but does not fetch the JWKS again; a table without the policy stops its
// JWKS; a table compiled only to be looked at fetches nothing.
func TestAuthStateAcrossCompiles(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int32
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	defer jwks.Close()
	cfg := func(consumers ...string) *config.Config {
		c := &config.Config{
			Auth:     []config.AuthPolicy{{Name: "p", Methods: []string{"jwt"}, JWT: &config.JWTAuth{JWKSURL: jwks.URL}}},
			Routes:   []config.Route{{PathPrefix: "/a", Backend: "b", Auth: "p"}},
			Backends: []config.Backend{{Name: "b", URLs: []string{"http://127.0.0.1:1"}}},
		}
		for _, n := range consumers {
			c.Consumers = append(c.Consumers, config.Consumer{Name: n})
		}
		c.ApplyDefaults()
		return c
	}
	fwd := func(*Route) http.Handler { return http.NotFoundHandler() }

	if tab := Compile(cfg("a"), docker.Snapshot{}, Deps{Forward: nil}); tab.Routes()[0].Auth != nil ||
		strings.Join(tab.Routes()[0].Policies, ",") != "auth" {
		t.Fatalf("a look-only table: auth %v, policies %v", tab.Routes()[0].Auth, tab.Routes()[0].Policies)
	}
	st := NewState()
	defer st.Auth.Close()
	deps := Deps{State: st, Forward: fwd}
	p1 := Compile(cfg("a"), docker.Snapshot{}, deps).Routes()[0].Auth
	waitFetches := func(want int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for fetches.Load() != want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := fetches.Load(); got != want {
			t.Fatalf("JWKS fetched %d times, want %d", got, want)
		}
	}
	waitFetches(1)
	if p2 := Compile(cfg("a"), docker.Snapshot{}, deps).Routes()[0].Auth; p2 != p1 {
		t.Error("an unchanged policy was rebuilt")
	}
	if p3 := Compile(cfg("a", "b"), docker.Snapshot{}, deps).Routes()[0].Auth; p3 == p1 || p3 == nil {
		t.Error("new consumers did not rebuild the policy")
	}
	time.Sleep(50 * time.Millisecond)
	waitFetches(1)
	none := cfg()
	none.Routes[0].Auth = ""
	Compile(none, docker.Snapshot{}, deps)
	Compile(cfg("a"), docker.Snapshot{}, deps) // the policy is back: a fresh source fetches again
	waitFetches(2)
}
