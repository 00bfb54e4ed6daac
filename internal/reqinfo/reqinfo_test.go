package reqinfo

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

type carrier struct {
	http.ResponseWriter
	info Info
}

func (c *carrier) Info() *Info { return &c.info }

type wrapper struct{ http.ResponseWriter }

func (w wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type opaque struct{ http.ResponseWriter } // no Unwrap: the chain ends here

func TestFrom(t *testing.T) {
	t.Parallel()
	c := &carrier{ResponseWriter: httptest.NewRecorder()}
	for _, tc := range []struct {
		name string
		w    http.ResponseWriter
		want *Info
	}{
		{"the carrier itself", c, &c.info},
		{"through two wrappers", wrapper{wrapper{c}}, &c.info},
		{"behind a writer without Unwrap", opaque{c}, nil},
		{"a bare recorder", httptest.NewRecorder(), nil},
		{"nil", nil, nil},
	} {
		if got := From(tc.w); got != tc.want {
			t.Errorf("%s: From = %p, want %p", tc.name, got, tc.want)
		}
	}
}
