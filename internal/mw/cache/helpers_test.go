package cache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/httperr"
	"github.com/rgate/rgate/internal/reqinfo"
)

// origin is an httptest backend that counts the requests it serves.
type origin struct {
	srv   *httptest.Server
	count atomic.Int64
}

func newOrigin(t *testing.T, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.count.Add(1)
		h(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// proxyTo is the next handler of a route: a ReverseProxy to u.
func proxyTo(t *testing.T, u string) *httputil.ReverseProxy {
	t.Helper()
	target, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		// As the gateway does: one place maps the failure to a status.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { httperr.Write(w, r, err) },
	}
}

// front serves s in front of a proxy to o.
func front(t *testing.T, s *Store, o *origin) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(s, proxyTo(t, o.srv.URL)))
	t.Cleanup(srv.Close)
	return srv
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) xcache() string      { return r.header.Get("X-Cache") }
func (r response) cacheStatus() string { return r.header.Get("Cache-Status") }

// get requests path from srv over the network with headers given as name,
// value pairs.
func get(t *testing.T, srv *httptest.Server, method, path string, hdr ...string) response {
	t.Helper()
	r, err := do(srv, method, path, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// do is get for goroutines other than the test's.
func do(srv *httptest.Server, method, path string, hdr ...string) (response, error) {
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		return response{}, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(b)}, err
}

// serve runs h in process (no network: usable in a synctest bubble).
func serve(h http.Handler, method, target string, hdr ...string) response {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Result().Header, rec.Body.String()}
}

// counting wraps an in-process next handler with a request counter.
func counting(n *atomic.Int64, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	})
}

// text answers body with the given headers as name, value pairs.
func text(body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Add(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, body)
	}
}

func newStore(ttl, staleFor config.Duration, maxBytes config.Size) *Store {
	return NewStore(config.Cache{TTL: ttl, StaleIfError: staleFor, MaxBytes: maxBytes})
}

// infoWriter carries a reqinfo record, as the gateway's writer does.
type infoWriter struct {
	*httptest.ResponseRecorder
	info reqinfo.Info
}

func (w *infoWriter) RequestInfo() *reqinfo.Info { return &w.info }

func wantHeader(t *testing.T, r response, name, want string) {
	t.Helper()
	if got := r.header.Get(name); got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func wantPrefix(t *testing.T, r response, name, prefix string) {
	t.Helper()
	if got := r.header.Get(name); !strings.HasPrefix(got, prefix) {
		t.Errorf("%s = %q, want prefix %q", name, got, prefix)
	}
}

func defaultCfg() config.Cache { return config.Cache{} }

// atomicString is a string shared between a test and its origin handler.
type atomicString struct{ v atomic.Value }

func (a *atomicString) Store(s string) { a.v.Store(s) }

func (a *atomicString) Load() string {
	s, _ := a.v.Load().(string)
	return s
}
