package cache

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestMissThenHit(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, text("hello", "X-Request-Id", "from-origin", "Connection", "X-Hop", "X-Hop", "1", "X-Kept", "yes"))
	s := NewStore(defaultCfg())
	srv := front(t, s, o)

	first := get(t, srv, http.MethodGet, "/a?q=1")
	if first.body != "hello" || first.xcache() != "MISS" {
		t.Fatalf("first: %q X-Cache %q", first.body, first.xcache())
	}
	wantHeader(t, first, "Cache-Status", "rgate; fwd=uri-miss; stored")

	second := get(t, srv, http.MethodGet, "/a?q=1")
	if second.body != "hello" || second.xcache() != "HIT" {
		t.Fatalf("second: %q X-Cache %q", second.body, second.xcache())
	}
	wantPrefix(t, second, "Cache-Status", "rgate; hit; ttl=")
	wantHeader(t, second, "Age", "0")
	wantHeader(t, second, "Content-Length", "5")
	wantHeader(t, second, "X-Kept", "yes")
	for _, h := range []string{"X-Request-Id", "X-Hop"} {
		if v := second.header.Get(h); v != "" {
			t.Errorf("%s = %q served from the cache", h, v)
		}
	}
	if n := o.count.Load(); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}
	if other := get(t, srv, http.MethodGet, "/a?q=2"); other.xcache() != "MISS" {
		t.Errorf("another query string: X-Cache %q, want MISS", other.xcache())
	}
	st := s.Stats()
	if st.Hits != 1 || st.Misses != 2 || st.Entries != 2 || st.Bytes == 0 {
		t.Errorf("Stats() = %+v", st)
	}
}

func TestNotStored(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		origin http.HandlerFunc
		hdr    []string // request headers
	}{
		{"no-store", text("x", "Cache-Control", "no-store"), nil},
		{"private", text("x", "Cache-Control", "private, max-age=60"), nil},
		{"qualified private", text("x", "Cache-Control", `private="Set-Cookie", max-age=60`), nil},
		{"no-cache", text("x", "Cache-Control", "no-cache"), nil},
		{"max-age=0", text("x", "Cache-Control", "max-age=0"), nil},
		{"set-cookie", text("x", "Set-Cookie", "id=1"), nil},
		{"vary star", text("x", "Vary", "*"), nil},
		{"expires in the past", text("x", "Date", "Mon, 02 Jan 2006 15:04:05 GMT", "Expires", "Mon, 02 Jan 2006 15:00:00 GMT"), nil},
		{"bad expires", text("x", "Expires", "0"), nil},
		{"status 404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, nil},
		{"status 500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, nil},
		{"request no-store", text("x"), []string{"Cache-Control", "no-store"}},
		{"authorization without public", text("x", "Cache-Control", "max-age=60"), []string{"Authorization", "Bearer t"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin(t, tc.origin)
			s := NewStore(defaultCfg())
			srv := front(t, s, o)
			get(t, srv, http.MethodGet, "/r", tc.hdr...)
			second := get(t, srv, http.MethodGet, "/r", tc.hdr...)
			if second.xcache() != "MISS" || o.count.Load() != 2 || s.Stats().Entries != 0 {
				t.Errorf("second: X-Cache %q, origin count %d, entries %d; want MISS, 2, 0",
					second.xcache(), o.count.Load(), s.Stats().Entries)
			}
			if strings.Contains(second.cacheStatus(), "stored") {
				t.Errorf("Cache-Status %q says stored", second.cacheStatus())
			}
		})
	}
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	t.Run("public answer is shared", func(t *testing.T) {
		t.Parallel()
		o := newOrigin(t, text("pub", "Cache-Control", "public, max-age=60"))
		srv := front(t, NewStore(defaultCfg()), o)
		get(t, srv, http.MethodGet, "/p", "Authorization", "Bearer a")
		if r := get(t, srv, http.MethodGet, "/p", "Authorization", "Bearer b"); r.xcache() != "HIT" {
			t.Errorf("X-Cache %q, want HIT", r.xcache())
		}
	})
	t.Run("entry without public not served to authorized requests", func(t *testing.T) {
		t.Parallel()
		o := newOrigin(t, text("anon", "Cache-Control", "max-age=60"))
		srv := front(t, NewStore(defaultCfg()), o)
		get(t, srv, http.MethodGet, "/p")
		r := get(t, srv, http.MethodGet, "/p", "Authorization", "Bearer a")
		if r.xcache() != "MISS" || r.cacheStatus() != "rgate; fwd=request" {
			t.Errorf("X-Cache %q Cache-Status %q, want MISS, fwd=request", r.xcache(), r.cacheStatus())
		}
		if r := get(t, srv, http.MethodGet, "/p"); r.xcache() != "HIT" {
			t.Errorf("anonymous after: X-Cache %q, want HIT", r.xcache())
		}
	})
}

func TestVary(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "accept-encoding")
		text("enc="+r.Header.Get("Accept-Encoding"))(w, r)
	})
	srv := front(t, NewStore(defaultCfg()), o)
	for i, step := range []struct{ enc, xcache, body, status string }{
		{"gzip", "MISS", "enc=gzip", "rgate; fwd=uri-miss; stored"},
		{"br", "MISS", "enc=br", "rgate; fwd=vary-miss; stored"},
		{"gzip", "HIT", "enc=gzip", ""},
		{"br", "HIT", "enc=br", ""},
	} {
		r := get(t, srv, http.MethodGet, "/v", "Accept-Encoding", step.enc)
		if r.xcache() != step.xcache || r.body != step.body {
			t.Errorf("step %d (%s): X-Cache %q body %q, want %q %q", i, step.enc, r.xcache(), r.body, step.xcache, step.body)
		}
		if step.status != "" {
			wantHeader(t, r, "Cache-Status", step.status)
		}
	}
	if n := o.count.Load(); n != 2 {
		t.Errorf("origin saw %d requests, want 2", n)
	}
}

func TestPostNeverCached(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, text("posted", "Cache-Control", "public, max-age=60"))
	srv := front(t, NewStore(defaultCfg()), o)
	for range 2 {
		if r := get(t, srv, http.MethodPost, "/p"); r.xcache() != "" || r.cacheStatus() != "" {
			t.Errorf("POST got X-Cache %q Cache-Status %q", r.xcache(), r.cacheStatus())
		}
	}
	if r := get(t, srv, http.MethodGet, "/p"); r.xcache() != "MISS" {
		t.Errorf("GET after POSTs: X-Cache %q, want MISS", r.xcache())
	}
	if n := o.count.Load(); n != 3 {
		t.Errorf("origin saw %d requests, want 3", n)
	}
}

func TestHead(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, text("body!"))
	srv := front(t, NewStore(defaultCfg()), o)
	if r := get(t, srv, http.MethodHead, "/h"); r.xcache() != "MISS" {
		t.Errorf("HEAD miss: X-Cache %q", r.xcache())
	}
	if r := get(t, srv, http.MethodGet, "/h"); r.xcache() != "MISS" {
		t.Errorf("GET after a HEAD miss: X-Cache %q, want MISS (HEAD answers are not stored)", r.xcache())
	}
	r := get(t, srv, http.MethodHead, "/h")
	if r.xcache() != "HIT" || r.body != "" {
		t.Errorf("HEAD after GET: X-Cache %q body %q", r.xcache(), r.body)
	}
	wantHeader(t, r, "Content-Length", "5")
	if n := o.count.Load(); n != 2 {
		t.Errorf("origin saw %d requests, want 2", n)
	}
}

func TestRequestNoCacheRefetches(t *testing.T) {
	t.Parallel()
	var version atomicString
	version.Store("v1")
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { text(version.Load())(w, r) })
	srv := front(t, NewStore(defaultCfg()), o)
	get(t, srv, http.MethodGet, "/n")
	version.Store("v2")
	for _, hdr := range [][]string{{"Cache-Control", "no-cache"}, {"Pragma", "no-cache"}, {"Cache-Control", "max-age=0"}} {
		r := get(t, srv, http.MethodGet, "/n", hdr...)
		if r.xcache() != "MISS" || r.body != "v2" || r.cacheStatus() != "rgate; fwd=request; stored" {
			t.Errorf("%v: X-Cache %q body %q Cache-Status %q", hdr, r.xcache(), r.body, r.cacheStatus())
		}
	}
	if r := get(t, srv, http.MethodGet, "/n"); r.xcache() != "HIT" || r.body != "v2" {
		t.Errorf("after refetch: X-Cache %q body %q, want HIT v2", r.xcache(), r.body)
	}
}

func TestUpgradeBypassesCache(t *testing.T) {
	t.Parallel()
	s := NewStore(defaultCfg())
	h := New(s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(*capture); ok {
			t.Error("upgrade request got the capture writer")
		}
		w.WriteHeader(http.StatusSwitchingProtocols)
	}))
	r := serve(h, http.MethodGet, "/ws", "Upgrade", "websocket", "Connection", "Upgrade")
	if r.status != http.StatusSwitchingProtocols || r.xcache() != "" {
		t.Errorf("status %d X-Cache %q", r.status, r.xcache())
	}
}

func TestLargeBodyStreamedNotStored(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 300<<10) // > 1MiB/8
	for _, tc := range []struct {
		name   string
		origin http.HandlerFunc
	}{
		{"content-length", text(big)},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(big); i += 32 << 10 {
				_, _ = w.Write([]byte(big[i:min(i+32<<10, len(big))]))
				http.NewResponseController(w).Flush()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin(t, tc.origin)
			s := newStore(0, 0, 1<<20)
			srv := front(t, s, o)
			for i := range 2 {
				if r := get(t, srv, http.MethodGet, "/big"); r.body != big || r.xcache() != "MISS" {
					t.Errorf("request %d: %d bytes, X-Cache %q", i, len(r.body), r.xcache())
				}
			}
			if st := s.Stats(); st.Entries != 0 || o.count.Load() != 2 {
				t.Errorf("entries %d, origin count %d", st.Entries, o.count.Load())
			}
		})
	}
}

func TestFlushPassesThrough(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("first\n"))
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte("second\n"))
	})
	srv := front(t, NewStore(defaultCfg()), o)
	res, err := srv.Client().Get(srv.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, len("first\n"))
	if _, err := res.Body.Read(buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("first chunk %q, %v", buf, err)
	}
	close(release) // only reached if the first chunk was flushed
}

func TestReqinfoCache(t *testing.T) {
	t.Parallel()
	var fail bool
	s := NewStore(defaultCfg())
	h := New(s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		text("x", "Cache-Control", "max-age=60", "Age", "61")(w, r) // stored already stale
	}))
	for _, step := range []struct {
		fail bool
		want string
	}{{false, "MISS"}, {true, "STALE"}} {
		fail = step.fail
		w := &infoWriter{ResponseRecorder: httptest.NewRecorder()}
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/i", nil))
		if w.info.Cache != step.want {
			t.Errorf("fail=%v: Info.Cache = %q, want %q", step.fail, w.info.Cache, step.want)
		}
	}
	fail = false
	h = New(NewStore(defaultCfg()), http.HandlerFunc(text("y")))
	serve(h, http.MethodGet, "/j")
	w := &infoWriter{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/j", nil))
	if w.info.Cache != "HIT" {
		t.Errorf("Info.Cache = %q, want HIT", w.info.Cache)
	}
}

func TestTrailersAndInformational(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Trailer", "X-Sum")
		_, _ = w.Write([]byte("body"))
		w.Header().Set("X-Sum", "42")
	})
	srv := front(t, NewStore(defaultCfg()), o)
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, strconv.Itoa(code)+" "+h.Get("Link"))
		return nil
	}}
	for i := range 2 {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, srv.URL+"/t", nil)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != "body" || res.Trailer.Get("X-Sum") != "42" || res.Header.Get("X-Cache") != "MISS" {
			t.Errorf("request %d: body %q trailer %v X-Cache %q", i, body, res.Trailer, res.Header.Get("X-Cache"))
		}
		if res.Header.Get("Link") != "" {
			t.Errorf("request %d: the 103's Link leaked into the final answer", i)
		}
	}
	if want := []string{"103 </style.css>; rel=preload", "103 </style.css>; rel=preload"}; !slices.Equal(hints, want) {
		t.Errorf("1xx seen %q, want %q", hints, want)
	}
}

func TestOuterHeadersKept(t *testing.T) {
	t.Parallel()
	s := NewStore(defaultCfg())
	cached := New(s, http.HandlerFunc(text("x", "Vary", "Accept-Encoding")))
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Origin") // as a CORS middleware in front would
		cached.ServeHTTP(w, r)
	})
	for _, want := range []string{"MISS", "HIT", "HIT"} {
		r := serve(outer, http.MethodGet, "/o")
		if got := r.header.Values("Vary"); r.xcache() != want || !slices.Equal(got, []string{"Origin", "Accept-Encoding"}) {
			t.Errorf("X-Cache %q Vary %q, want %s [Origin Accept-Encoding]", r.xcache(), got, want)
		}
	}
	sh := s.shardForKey("example.com /o")
	e := sh.items["example.com /o\x00Accept-Encoding:"]
	if e == nil {
		t.Fatal("entry not found under its Vary key")
	}
	for _, f := range e.fields {
		if f.name == "Vary" && !slices.Equal(f.vals, []string{"Accept-Encoding"}) {
			t.Errorf("stored Vary changed to %q", f.vals)
		}
	}
}
