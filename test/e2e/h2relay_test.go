package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHTTP2RequestsRelayedAsHTTP1: what an HTTP/2 client sends over TLS
// reaches an HTTP/1.1 upstream as the same request: method, target,
// Host from :authority, bodies of known and unknown length, an empty
// POST with Content-Length: 0, HEAD without a body, cookies joined into
// one field (RFC 9113 8.2.3), X-Forwarded-Proto https, and no HTTP/2
// pseudo-header; TE only as "trailers".
func TestHTTP2RequestsRelayedAsHTTP1(t *testing.T) {
	t.Parallel()
	ca, dir := newTestCA(t), t.TempDir()
	cert, key := ca.issue(t, dir, "h", 30, false, "h2.example.test")
	up := newRecorder(t, nil)
	tlsPort := freePort(t)
	startGateway(t, staticRoutes([3]string{"/", up.url(), ""})+fmt.Sprintf(`server:
  tls:
    port: %d
    certificates:
      - {cert_file: %s, key_file: %s}
`, tlsPort, cert, key))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "h2.example.test"}, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(tlsPort))
		}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	type sent struct {
		method, path, body string
		unknownLength      bool
		cookies            []string
	}
	for i, tc := range []sent{
		{method: "GET", path: "/a?x=1&y=%2F"},
		{method: "HEAD", path: "/head"},
		{method: "POST", path: "/known", body: "hello"},
		{method: "POST", path: "/empty"},
		{method: "PUT", path: "/streamed", body: strings.Repeat("s", 70000), unknownLength: true},
		{method: "GET", path: "/cookies", cookies: []string{"a=1", "b=2"}},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
			if tc.unknownLength {
				body = io.MultiReader(body) // hides the length: no content-length, DATA frames only
			}
		}
		req, err := http.NewRequest(tc.method, "https://h2.example.test"+tc.path, body)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tc.cookies {
			req.Header.Add("Cookie", c)
		}
		req.Header.Set("Te", "trailers")
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.ProtoMajor != 2 || res.StatusCode != 200 || (tc.method != "HEAD" && string(b) != "ok") {
			t.Fatalf("%s %s: %s %d %q, want HTTP/2 200 ok", tc.method, tc.path, res.Proto, res.StatusCode, b)
		}
		got := up.requests()
		if len(got) != i+1 {
			t.Fatalf("%s %s: upstream saw %d requests, want %d", tc.method, tc.path, len(got), i+1)
		}
		r := got[i]
		if r.Method != tc.method || r.URI != tc.path || r.Proto != "HTTP/1.1" || r.Body != tc.body {
			t.Errorf("%s %s: upstream got %s %s %s with body of %d bytes", tc.method, tc.path, r.Method, r.URI, r.Proto, len(r.Body))
		}
		if h := r.Host; h != "h2.example.test" {
			t.Errorf("%s: upstream Host %q", tc.path, h)
		}
		if p := r.Header.Get("X-Forwarded-Proto"); p != "https" {
			t.Errorf("%s: X-Forwarded-Proto %q", tc.path, p)
		}
		if te := r.Header.Values("Te"); len(te) > 1 || len(te) == 1 && te[0] != "trailers" {
			t.Errorf("%s: TE %q forwarded; only \"trailers\" may pass (as ReverseProxy)", tc.path, te)
		}
		for k := range r.Header {
			if strings.HasPrefix(k, ":") {
				t.Errorf("%s: pseudo-header %q forwarded", tc.path, k)
			}
		}
		switch {
		case tc.method == "POST" && tc.body == "" && r.ContentLength != 0:
			t.Errorf("%s: empty POST sent with length %d, want Content-Length: 0", tc.path, r.ContentLength)
		case tc.body != "" && !tc.unknownLength && r.ContentLength != int64(len(tc.body)):
			t.Errorf("%s: Content-Length %d, want %d", tc.path, r.ContentLength, len(tc.body))
		}
		if tc.cookies != nil {
			if c := r.Header.Values("Cookie"); len(c) != 1 || c[0] != "a=1; b=2" {
				t.Errorf("cookies reached the upstream as %q, want one field \"a=1; b=2\"", c)
			}
		}
	}
}
