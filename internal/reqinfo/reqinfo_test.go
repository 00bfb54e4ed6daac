package reqinfo

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// passer is a middleware's wrapper: it passes its writer's Info on.
type passer struct{ w http.ResponseWriter }

func (p passer) Header() http.Header         { return p.w.Header() }
func (p passer) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p passer) WriteHeader(code int)        { p.w.WriteHeader(code) }
func (p passer) RequestInfo() *Info          { return From(p.w) }
func (p passer) Unwrap() http.ResponseWriter { return p.w }

type opaque struct{ http.ResponseWriter } // passes nothing on

func TestFrom(t *testing.T) {
	t.Parallel()
	w := &Writer{ResponseWriter: httptest.NewRecorder()}
	for _, tc := range []struct {
		name string
		w    http.ResponseWriter
		same bool
	}{
		{"the writer itself", w, true},
		{"through two wrappers that pass it on", passer{passer{w}}, true},
		{"behind a wrapper that does not", opaque{w}, false},
		{"a bare recorder", httptest.NewRecorder(), false},
	} {
		got := From(tc.w)
		if got == nil {
			t.Fatalf("%s: From = nil", tc.name)
		}
		if (got == &w.Info) != tc.same {
			t.Errorf("%s: From is the writer's Info: %v, want %v", tc.name, got == &w.Info, tc.same)
		}
	}
}

type stamper struct{ n int }

func (s *stamper) Stamp(h http.Header) { s.n++; h.Set("X-Stamped", "yes") }

// sink is a ResponseWriter that keeps what it is given.
type sink struct {
	h     http.Header
	codes []int
	body  []byte
}

func (s *sink) Header() http.Header         { return s.h }
func (s *sink) WriteHeader(code int)        { s.codes = append(s.codes, code) }
func (s *sink) Write(b []byte) (int, error) { s.body = append(s.body, b...); return len(b), nil }

func TestWriterRecordsFinalStatusOnce(t *testing.T) {
	t.Parallel()
	rec := &sink{h: http.Header{}}
	st := &stamper{}
	w := &Writer{ResponseWriter: rec, Stamper: st}
	w.WriteHeader(http.StatusEarlyHints)
	if w.Info.Status != 0 || st.n != 0 {
		t.Fatalf("a 103 was recorded as final: status %d, stamps %d", w.Info.Status, st.n)
	}
	w.WriteHeader(http.StatusCreated)
	w.WriteHeader(http.StatusTeapot)
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if w.Info.Status != http.StatusCreated || w.Info.Bytes != 5 || st.n != 1 || rec.Header().Get("X-Stamped") != "yes" {
		t.Errorf("status %d bytes %d stamps %d header %q; want 201, 5, 1, yes",
			w.Info.Status, w.Info.Bytes, st.n, rec.Header().Get("X-Stamped"))
	}
	if len(rec.codes) != 2 || rec.codes[0] != http.StatusEarlyHints || rec.codes[1] != http.StatusCreated {
		t.Errorf("the writer below got %v, want [103 201]", rec.codes)
	}
	w2 := &Writer{ResponseWriter: httptest.NewRecorder()}
	_, _ = w2.Write([]byte("x"))
	if w2.Info.Status != http.StatusOK {
		t.Errorf("a write without WriteHeader recorded %d, want 200", w2.Info.Status)
	}
}
