package stats

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// get serves path from h and returns the status and the decoded body.
func get(t *testing.T, h http.Handler, method, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type = %q", method, path, ct)
	}
	if method == http.MethodHead {
		return rec.Code, nil
	}
	return rec.Code, decode(t, rec.Body.Bytes())
}

func TestWindowSnapshot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := NewStore()
		st.Route("/idle")
		record := func(status int) {
			st.Global().Record(status, time.Millisecond)
			st.Route("/a").Record(status, time.Millisecond)
			st.Backend("b").Record(status, time.Millisecond)
		}
		record(200)
		record(500)
		time.Sleep(30 * time.Second)
		record(404)

		snap := st.WindowSnapshot(10 * time.Second)
		for name, m := range map[string]Summary{"global": snap.Global, "route": snap.Routes["/a"], "backend": snap.Backends["b"]} {
			if m.Count() != 1 || m.Classes[4] != 1 {
				t.Errorf("%s over 10s = %+v, want the one 404", name, m)
			}
		}
		if _, ok := snap.Routes["/idle"]; !ok || len(snap.Routes) != 2 || len(snap.Backends) != 1 {
			t.Errorf("window snapshot lists routes %v and backends %v, want every Series", snap.Routes, snap.Backends)
		}
		if m := st.WindowSnapshot(time.Minute).Global; m.Success != 1 || m.Error != 2 {
			t.Errorf("global over 1m = %d/%d success/error, want 1/2", m.Success, m.Error)
		}
	})
}

// windowStore fills a Store, inside a synctest bubble: a 200 and a 502 at
// t0 and a 201 at t0+20s in the global, route /a and backend b Series; it
// returns at t0+20s.
func windowStore() *Store {
	st := NewStore()
	for _, s := range []*Series{st.Global(), st.Route("/a"), st.Backend("b")} {
		s.Record(200, time.Millisecond)
		s.Record(502, 3*time.Millisecond)
	}
	time.Sleep(20 * time.Second)
	for _, s := range []*Series{st.Global(), st.Route("/a"), st.Backend("b")} {
		s.Record(201, 2*time.Millisecond)
	}
	return st
}

// TestHandlerWindow: /stats?window=D has the cumulative document's keys,
// for every series, over D, plus window_seconds; /stats keeps everything
// and has no window_seconds.
func TestHandlerWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query          string
		seconds        float64 // 0: no window_seconds key
		success, error float64
	}{
		{"", 0, 2, 1},
		{"?window=60s", 60, 2, 1},
		{"?window=10s", 10, 1, 0},
		{"?window=1500ms", 2, 1, 0},
		{"?window=61s", 70, 2, 1},
		{"?window=15m", 900, 2, 1},
		{"?window=1s", 1, 1, 0},
	} {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := windowStore().Handler()
				code, doc := get(t, h, http.MethodGet, "/stats"+tc.query)
				if code != http.StatusOK {
					t.Fatalf("status = %d, want 200", code)
				}
				ws, has := doc["window_seconds"]
				if tc.seconds == 0 && has {
					t.Errorf("cumulative document has window_seconds = %v", ws)
				}
				if tc.seconds != 0 && ws != tc.seconds {
					t.Errorf("window_seconds = %v, want %v", ws, tc.seconds)
				}
				for where, obj := range map[string]map[string]any{
					"top":     doc,
					"route":   object(t, object(t, doc, "routes"), "/a"),
					"backend": object(t, object(t, doc, "backends"), "b"),
				} {
					got := checkSeries(t, obj)
					if got["requests_count.success"] != tc.success || got["requests_count.error"] != tc.error {
						t.Errorf("%s requests_count = %v/%v, want %v/%v", where,
							got["requests_count.success"], got["requests_count.error"], tc.success, tc.error)
					}
				}
				if code, _ := get(t, h, http.MethodHead, "/stats"+tc.query); code != http.StatusOK {
					t.Errorf("HEAD = %d, want 200", code)
				}
			})
		})
	}
}

func TestHandlerBadWindow(t *testing.T) {
	t.Parallel()
	h := NewStore().Handler()
	for _, v := range []string{"", "abc", "60", "0s", "-5s", "999ms", "15m1s", "1h", `"><&`} {
		t.Run(v, func(t *testing.T) {
			code, doc := get(t, h, http.MethodGet, "/stats?window="+url.QueryEscape(v))
			if code != http.StatusBadRequest {
				t.Fatalf("window=%q: status %d, want 400", v, code)
			}
			msg, _ := doc["error"].(string)
			if want := "window " + strconv.Quote(v); !strings.Contains(msg, want) {
				t.Errorf("window=%q: error %q does not name the value (%s)", v, msg, want)
			}
			if code, _ := get(t, h, http.MethodHead, "/stats?window="+url.QueryEscape(v)); code != http.StatusBadRequest {
				t.Errorf("HEAD window=%q: status %d, want 400", v, code)
			}
		})
	}
}

func TestParseWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1s", time.Second, true},
		{"60s", time.Minute, true},
		{"1m30s", 90 * time.Second, true},
		{"15m", 15 * time.Minute, true},
		{"900s", 15 * time.Minute, true},
		{"1000ms", time.Second, true},
		{"999ms", 0, false},
		{"15m0.001s", 0, false},
		{"", 0, false},
		{"60", 0, false},
		{"soon", 0, false},
	} {
		got, err := ParseWindow(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrBadWindow) {
			t.Errorf("ParseWindow(%q) error = %v, want ErrBadWindow", tc.in, err)
		}
	}
}
