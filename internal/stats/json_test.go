package stats

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return doc
}

// object returns doc[key] as an object, failing the test otherwise.
func object(t *testing.T, doc map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := doc[key].(map[string]any)
	if !ok {
		t.Fatalf("key %q = %#v, want an object", key, doc[key])
	}
	return o
}

// number returns doc[key] as a number, failing the test otherwise.
func number(t *testing.T, doc map[string]any, key string) float64 {
	t.Helper()
	n, ok := doc[key].(float64)
	if !ok {
		t.Fatalf("key %q = %#v, want a number", key, doc[key])
	}
	return n
}

// checkSeries checks one series object has the full shape and returns its
// numbers by "object.key".
func checkSeries(t *testing.T, doc map[string]any) map[string]float64 {
	t.Helper()
	got := make(map[string]float64)
	for obj, keys := range map[string][]string{
		"requests_count": {"success", "error"},
		"latency_ms":     {"average", "p50", "p95", "p99", "max"},
		"status_classes": {"1xx", "2xx", "3xx", "4xx", "5xx", "other"},
	} {
		o := object(t, doc, obj)
		for _, k := range keys {
			got[obj+"."+k] = number(t, o, k)
		}
	}
	return got
}

func TestJSONZeroState(t *testing.T) {
	b, err := NewStore().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	doc := decode(t, b)
	for k, v := range checkSeries(t, doc) {
		if v != 0 {
			t.Errorf("%s = %v, want 0", k, v)
		}
	}
	for _, k := range []string{"routes", "backends"} {
		if o := object(t, doc, k); len(o) != 0 {
			t.Errorf("%s = %v, want {}", k, o)
		}
	}
}

func TestJSONSeedKeysAndValues(t *testing.T) {
	st := NewStore()
	pay, be := st.Route("/api/payment"), st.Backend("payment")
	st.Route("/api/orders") // configured, never hit
	for _, rec := range []struct {
		status int
		d      time.Duration
	}{{200, 1234567}, {200, 2 * time.Millisecond}, {502, 3 * time.Millisecond}, {403, 0}} {
		st.Global().Record(rec.status, rec.d)
		pay.Record(rec.status, rec.d)
		be.Record(rec.status, rec.d)
	}
	b, err := st.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	doc := decode(t, b)
	want := map[string]float64{
		"requests_count.success": 2, "requests_count.error": 2,
		"latency_ms.average": 1.559, // 6.234567 / 4, rounded to 3 decimals
		"latency_ms.max":     3,
		"status_classes.2xx": 2, "status_classes.4xx": 1, "status_classes.5xx": 1,
	}
	check := func(where string, got map[string]float64) {
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s %s = %v, want %v", where, k, got[k], w)
			}
		}
		// p50 is the 2nd of 4 samples, p95 and p99 the 4th; bucket
		// midpoints, so within 1% rather than exact.
		for k, w := range map[string]float64{"p50": 1.234567, "p95": 3, "p99": 3} {
			if p := got["latency_ms."+k]; relErr(p, w) > 0.01 {
				t.Errorf("%s %s = %v, want %v within 1%%", where, k, p, w)
			}
		}
	}
	check("top", checkSeries(t, doc))
	routes := object(t, doc, "routes")
	if len(routes) != 2 {
		t.Errorf("routes = %v, want /api/orders and /api/payment", routes)
	}
	check("route", checkSeries(t, object(t, routes, "/api/payment")))
	if zero := checkSeries(t, object(t, routes, "/api/orders")); zero["requests_count.success"] != 0 {
		t.Errorf("unused route has counts: %v", zero)
	}
	check("backend", checkSeries(t, object(t, object(t, doc, "backends"), "payment")))

	var buf bytes.Buffer
	if err := st.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), append(b, '\n')) {
		t.Errorf("WriteJSON = %s, want MarshalJSON + newline = %s", buf.Bytes(), b)
	}
}

func TestJSONKeysSorted(t *testing.T) {
	st := NewStore()
	for _, n := range []string{"/z", "/a", "/m"} {
		st.Route(n)
	}
	b, _ := st.MarshalJSON()
	i, j, k := bytes.Index(b, []byte(`"/a"`)), bytes.Index(b, []byte(`"/m"`)), bytes.Index(b, []byte(`"/z"`))
	if i < 0 || i > j || j > k {
		t.Errorf("route keys not sorted: %s", b)
	}
}

func TestHandler(t *testing.T) {
	st := NewStore()
	st.Global().Record(200, time.Millisecond)
	h := st.Handler()
	for _, tc := range []struct {
		method   string
		status   int
		wantBody bool
	}{
		{http.MethodGet, 200, true},
		{http.MethodHead, 200, false},
		{http.MethodPost, 405, false},
		{http.MethodDelete, 405, false},
	} {
		t.Run(tc.method, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/stats", nil))
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tc.status == 405 {
				if a := rec.Header().Get("Allow"); a != "GET, HEAD" {
					t.Errorf("Allow = %q, want %q", a, "GET, HEAD")
				}
				return
			}
			if rec.Header().Get("Content-Length") == "" {
				t.Error("no Content-Length")
			}
			if !tc.wantBody {
				if rec.Body.Len() != 0 {
					t.Errorf("HEAD wrote a body: %q", rec.Body)
				}
				return
			}
			doc := decode(t, rec.Body.Bytes())
			if got := checkSeries(t, doc)["requests_count.success"]; got != 1 {
				t.Errorf("success = %v, want 1", got)
			}
		})
	}
}
