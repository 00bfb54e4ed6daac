package gateway

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/stats"
)

// recorded keeps every request the gateway hands to its Recorder.
type recorded struct {
	mu  sync.Mutex
	got []stats.Finished
}

func (r *recorded) Record(f stats.Finished) {
	r.mu.Lock()
	r.got = append(r.got, f)
	r.mu.Unlock()
}

// TestRecorderSeam: every finished request goes through Options.Recorder
// once, with its route's and backend's series (none for the default
// response), and admin paths never do.
func TestRecorderSeam(t *testing.T) {
	t.Parallel()
	be := echoBackend(t, "one")
	cfg := &config.Config{
		Routes:          []config.Route{{PathPrefix: "/a", Backend: "a"}},
		DefaultResponse: config.DefaultResponse{Body: "none", StatusCode: 404},
		Backends:        []config.Backend{{Name: "a", URLs: []string{be.URL}}},
	}
	st := stats.NewStore()
	rec := &recorded{}
	g := New(cfg, Options{Stats: st, Recorder: rec})
	t.Cleanup(g.Close)
	serve(g, httptest.NewRequest("GET", "/a/x", nil))
	serve(g, httptest.NewRequest("GET", "/elsewhere", nil))
	if len(rec.got) != 2 {
		t.Fatalf("recorder got %d requests, want 2", len(rec.got))
	}
	routed, dflt := rec.got[0], rec.got[1]
	if routed.Status != 200 || routed.Route != st.Route("/a") || routed.Backend != st.Backend("a") || routed.End.IsZero() {
		t.Errorf("routed request recorded as %+v", routed)
	}
	if dflt.Status != 404 || dflt.Route != nil || dflt.Backend != nil {
		t.Errorf("default response recorded as %+v", dflt)
	}
	if n := st.Global().Summary().Count(); n != 0 {
		t.Errorf("the store counted %d requests that went to another recorder", n)
	}
}
