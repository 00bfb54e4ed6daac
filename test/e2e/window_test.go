package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// windowCounts is requests_count.success and .error of the series at keys
// (none: the whole gateway) in a /stats document.
func windowCounts(t *testing.T, doc map[string]any, keys ...string) (success, errs float64) {
	t.Helper()
	s, ok1 := jsonAt(doc, append(keys, "requests_count", "success")...)
	e, ok2 := jsonAt(doc, append(keys, "requests_count", "error")...)
	succ, ok3 := s.(float64)
	errN, ok4 := e.(float64)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		t.Fatalf("/stats %v: requests_count.success/.error missing or not numbers", keys)
	}
	return succ, errN
}

// TestStatsWindow: a burst shows exactly in /stats?window=60s (for the
// gateway, its route and its backend, with window_seconds), ages out of a
// 2s window within seconds while the cumulative document keeps it, and a
// bad window gets 400 naming the value.
func TestStatsWindow(t *testing.T) {
	t.Parallel()
	b := startProcess(t, "win")
	g := startGateway(t, fmt.Sprintf(`routes:
  - path_prefix: /w
    backend: w
default_response:
  body: "no route"
  status_code: 404
backends:
  - name: w
    urls: [%s]
`, b.url))
	if s, e := windowCounts(t, g.adminJSON(t, "/stats?window=60s")); s != 0 || e != 0 {
		t.Fatalf("fresh gateway: window=60s shows %v/%v success/error, want 0/0", s, e)
	}

	const nOK, nErr = 40, 10
	for range nOK {
		if r := g.get(t, "/w/x"); r.status != http.StatusOK {
			t.Fatalf("GET /w/x = %d, want 200; body %q", r.status, r.body)
		}
	}
	for range nErr {
		if r := g.get(t, "/w/status?code=503"); r.status != http.StatusServiceUnavailable {
			t.Fatalf("GET /w/status?code=503 = %d, want 503", r.status)
		}
	}
	burstEnd := time.Now()

	doc := g.adminJSON(t, "/stats?window=60s")
	if ws, _ := jsonAt(doc, "window_seconds"); ws != float64(60) {
		t.Errorf("window=60s: window_seconds = %v, want 60", ws)
	}
	for _, keys := range [][]string{nil, {"routes", "/w"}, {"backends", "w"}} {
		if s, e := windowCounts(t, doc, keys...); s != nOK || e != nErr {
			t.Errorf("window=60s %v: %v/%v success/error, want %d/%d", keys, s, e, nOK, nErr)
		}
	}
	if p95, _ := jsonAt(doc, "latency_ms", "p95"); p95 == nil || p95.(float64) <= 0 {
		t.Errorf("window=60s: latency_ms.p95 = %v, want > 0", p95)
	}
	if s, e := windowCounts(t, g.adminJSON(t, "/stats?window=2s")); s+e == 0 {
		t.Errorf("window=2s right after the burst shows nothing")
	}

	// A request leaves a 2s window one to two seconds after it was made.
	eventually(t, 10*time.Second, "window=2s to empty", func() bool {
		s, e := windowCounts(t, g.adminJSON(t, "/stats?window=2s"))
		return s == 0 && e == 0
	})
	if age := time.Since(burstEnd); age < time.Second {
		t.Errorf("window=2s emptied %v after the burst, want >= 1s", age)
	}
	if s, e := windowCounts(t, g.adminJSON(t, "/stats?window=60s")); s != nOK || e != nErr {
		t.Errorf("window=60s after %v: %v/%v, want %d/%d", time.Since(burstEnd), s, e, nOK, nErr)
	}
	cum := g.adminJSON(t, "/stats")
	if _, has := cum["window_seconds"]; has {
		t.Errorf("cumulative /stats has window_seconds")
	}
	if s, e := windowCounts(t, cum); s != nOK || e != nErr {
		t.Errorf("cumulative /stats: %v/%v, want %d/%d", s, e, nOK, nErr)
	}

	for _, v := range []string{"abc", "0s", "16m", "500ms", ""} {
		r := g.get(t, "/stats?window="+url.QueryEscape(v))
		var body struct{ Error string }
		if err := json.Unmarshal(r.body, &body); r.status != http.StatusBadRequest || err != nil {
			t.Errorf("window=%q: %d %q, want 400 with a JSON error", v, r.status, r.body)
			continue
		}
		if !strings.Contains(body.Error, fmt.Sprintf("%q", v)) {
			t.Errorf("window=%q: error %q does not name the value", v, body.Error)
		}
	}
}
