package breaker

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rgate/rgate/internal/reqinfo"
)

// recorder answers into the writer a route's chain gets from the gateway
// (reqinfo.Writer) over a ResponseRecorder.
type recorder struct {
	reqinfo.Writer
	*httptest.ResponseRecorder
}

func newRecorder() *recorder {
	rec := httptest.NewRecorder()
	return &recorder{Writer: reqinfo.Writer{ResponseWriter: rec}, ResponseRecorder: rec}
}

func (w *recorder) Header() http.Header         { return w.Writer.Header() }
func (w *recorder) WriteHeader(code int)        { w.Writer.WriteHeader(code) }
func (w *recorder) Write(p []byte) (int, error) { return w.Writer.Write(p) }

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// serve runs one request through h.
func serve(h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/api", nil)
	r.Header.Set("X-Request-Id", "req-1")
	w := newRecorder()
	h.ServeHTTP(w, r)
	return w.ResponseRecorder
}

func TestMiddlewareOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		next               http.HandlerFunc
		wantReqs, wantFail uint64
	}{
		{"200 succeeds", status(200), 1, 0},
		{"404 succeeds", status(404), 1, 0},
		{"101 upgrade succeeds", status(101), 1, 0},
		{"500 fails", status(500), 1, 1},
		{"502 fails", status(502), 1, 1},
		{"503 fails", status(503), 1, 1},
		{"504 fails", status(504), 1, 1},
		{"1xx then 500 fails", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(500)
		}, 1, 1},
		{"499 is neither", status(499), 0, 0},
		{"499 recorded by the gateway is neither", func(w http.ResponseWriter, _ *http.Request) {
			reqinfo.From(w).Status = 499
		}, 0, 0},
		{"nothing answered is neither", func(http.ResponseWriter, *http.Request) {}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := NewBreaker(testConfig())
			serve(New(b, "payment", tc.next))
			if s := b.State(); s.WindowRequests != tc.wantReqs || s.WindowFailures != tc.wantFail {
				t.Errorf("window = %d requests, %d failures; want %d, %d",
					s.WindowRequests, s.WindowFailures, tc.wantReqs, tc.wantFail)
			}
		})
	}
}

func TestMiddlewareOpenCycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBreaker(testConfig())
		calls, code := 0, 500
		h := New(b, "payment", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			calls++
			w.WriteHeader(code)
		}))
		for range 10 {
			serve(h)
		}
		if b.State().Name != Open {
			t.Fatalf("state after 10 answers of 500 = %s, want open", b.State().Name)
		}

		r := httptest.NewRequest(http.MethodGet, "/api", nil)
		r.Header.Set("X-Request-Id", "abc")
		w := newRecorder()
		h.ServeHTTP(w, r)
		wantBody := `{"error":"service unavailable","request_id":"abc"}` + "\n"
		if w.Code != 503 || w.Body.String() != wantBody || w.Header().Get("Retry-After") != "30" ||
			w.Header().Get("Content-Type") != "application/json" || calls != 10 {
			t.Errorf("while open: %d %q Retry-After %q Content-Type %q, next called %d times; want 503 %q 30 json, 10",
				w.Code, w.Body, w.Header().Get("Retry-After"), w.Header().Get("Content-Type"), calls, wantBody)
		}
		if w.Info.Backend != "payment" || b.State().Rejected != 1 {
			t.Errorf("info.Backend %q, Rejected %d; want payment, 1", w.Info.Backend, b.State().Rejected)
		}

		time.Sleep(29*time.Second + 500*time.Millisecond)
		if got := serve(h).Header().Get("Retry-After"); got != "1" {
			t.Errorf("0.5s before probing Retry-After = %q, want 1", got)
		}
		time.Sleep(500 * time.Millisecond)
		code = 200
		if rec := serve(h); rec.Code != 200 || b.State().Name != Closed || calls != 11 {
			t.Errorf("probe answered %d, state %s, calls %d; want 200, closed, 11", rec.Code, b.State().Name, calls)
		}
	})
}

func TestMiddlewareHalfOpenRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBreaker(testConfig())
		tripIt(t, b)
		time.Sleep(30 * time.Second)
		probe, ok, _ := b.Allow()
		if !ok {
			t.Fatal("probe refused")
		}
		defer b.Done(probe, false)
		rec := serve(New(b, "payment", status(200)))
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("with the probe slot taken: %d Retry-After %q; want 503, 1", rec.Code, rec.Header().Get("Retry-After"))
		}
	})
}

// A probe that ends without a verdict must give its slot back.
func TestMiddlewareProbeWithoutVerdict(t *testing.T) {
	for _, tc := range []struct {
		name string
		next http.HandlerFunc
	}{
		{"client went away", func(w http.ResponseWriter, _ *http.Request) { reqinfo.From(w).Status = 499 }},
		{"nothing answered", func(http.ResponseWriter, *http.Request) {}},
		{"aborted", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(200)
			panic(http.ErrAbortHandler)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewBreaker(testConfig())
				tripIt(t, b)
				time.Sleep(30 * time.Second)
				func() {
					defer func() {
						if p := recover(); p != nil && p != http.ErrAbortHandler {
							t.Errorf("recovered %v, want http.ErrAbortHandler or nothing", p)
						}
					}()
					serve(New(b, "payment", tc.next))
				}()
				if s := b.State(); s.Name != HalfOpen || s.Trips != 1 {
					t.Errorf("State() = %+v, want still half_open after 1 trip", s)
				}
				if _, ok, _ := b.Allow(); !ok {
					t.Error("probe slot not freed")
				}
			})
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "1"},
		{time.Nanosecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Millisecond, "2"},
		{30 * time.Second, "30"},
		{90*time.Second - time.Nanosecond, "90"},
	} {
		if got := retryAfter(tc.d); got != tc.want {
			t.Errorf("retryAfter(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
