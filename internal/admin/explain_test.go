package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rgate/rgate/internal/stats"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	var asked []string
	h := New(Options{Stats: stats.NewStore(), Explain: func(_, p string) any {
		asked = append(asked, p)
		return map[string]string{"path": p}
	}})
	for _, tc := range []struct {
		name, method, target string
		status               int
		want                 string // the path Explain gets, or the error's presence
	}{
		{"path explained", "GET", "/explain?path=/api/x%3Fq%3D1", 200, "/api/x?q=1"},
		{"escaped once more in the query", "GET", "/explain?path=/a/%252e%252e/b", 200, "/a/%2e%2e/b"},
		{"no path", "GET", "/explain", 400, ""},
		{"empty path", "GET", "/explain?path=", 400, ""},
		{"not GET", "POST", "/explain?path=/x", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked = nil
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
			if rec.Code != tc.status {
				t.Fatalf("%s %s = %d, want %d; body %q", tc.method, tc.target, rec.Code, tc.status, rec.Body)
			}
			var body map[string]string
			if tc.status != http.StatusMethodNotAllowed {
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %q is not JSON: %v", rec.Body, err)
				}
			}
			switch tc.status {
			case http.StatusOK:
				if len(asked) != 1 || asked[0] != tc.want || body["path"] != tc.want {
					t.Errorf("Explain got %q, answered %v; want %q", asked, body, tc.want)
				}
			case http.StatusBadRequest:
				if body["error"] == "" || len(asked) != 0 {
					t.Errorf("body %v, Explain called with %q; want a JSON error and no call", body, asked)
				}
			}
		})
	}
}

func TestExplainOff(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	New(Options{Stats: stats.NewStore()}).ServeHTTP(rec, httptest.NewRequest("GET", "/explain?path=/x", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /explain without Explain wired = %d, want 404", rec.Code)
	}
}

func TestExplainPassesHost(t *testing.T) {
	t.Parallel()
	var gotHost, gotPath string
	h := New(Options{Stats: stats.NewStore(), Explain: func(host, p string) any { gotHost, gotPath = host, p; return map[string]string{} }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/explain?path=/a/x&host=api.example.com", nil))
	if rec.Code != 200 || gotHost != "api.example.com" || gotPath != "/a/x" {
		t.Errorf("/explain?path=/a/x&host=api.example.com: %d, explained host %q path %q", rec.Code, gotHost, gotPath)
	}
}
