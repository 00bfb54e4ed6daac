package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chaosPublicPrivate routes /public to backend pub and /private to backend
// priv, with serverExtra (indented YAML) under server.
func chaosPublicPrivate(label, serverExtra string) string {
	return fmt.Sprintf(`routes:
  - path_prefix: /public
    backend: pub
  - path_prefix: /private
    backend: priv
default_response:
  body: "no route"
  status_code: 404
backends:
  - name: pub
    match_labels: [app_name=%[1]s-pub]
  - name: priv
    match_labels: [app_name=%[1]s-priv]
server:
  read_header_timeout: 5s
%[2]s`, label, serverExtra)
}

// TestChaosNoSmuggling: promise "requests cannot be smuggled or re-routed".
// Ambiguous framing (Content-Length with Transfer-Encoding, duplicate
// Content-Length, odd transfer codings) gets at most one answer and a
// closed connection; no dot-segment or encoded-slash trick from /public
// reaches the backend of /private (its own hit counter stays 0); client
// X-Forwarded-* are replaced unless the peer is a trusted proxy; a
// client's Connection header cannot strip what rgate adds; a bad
// X-Request-Id is replaced, not echoed.
func TestChaosNoSmuggling(t *testing.T) {
	t.Parallel()
	label := uniq(t)
	pub := runContainer(t, "pub", map[string]string{"app_name": label + "-pub"})
	priv := runContainer(t, "priv", map[string]string{"app_name": label + "-priv"})
	g := startGateway(t, chaosPublicPrivate(label, ""))
	g.waitBackend(t, "/public/ready", pub.name, 5*time.Second)
	privHits := func() int64 { t.Helper(); return chaosDirectHits(t, priv.listenPort) }
	var legit int64 // requests the test itself sent to /private
	if n := privHits(); n != 0 {
		t.Fatalf("the private backend counted %d hits before the test, want 0", n)
	}
	// checkPrivate fails the test as soon as anything reached the private
	// backend, naming the request that did it.
	checkPrivate := func(what string) {
		t.Helper()
		if n := privHits(); n != legit {
			t.Fatalf("%s: the private backend has %d hits, want %d: a request reached a backend whose prefix it does not carry", what, n, legit)
		}
	}
	hidden := "GET /private/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

	t.Run("framing", func(t *testing.T) {
		cases := []struct {
			name   string
			raw    string
			reject bool // must be refused with 4xx/5xx
		}{
			{"CL then TE, hidden request", "POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n" +
				"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden, false},
			{"TE then CL covering the hidden request", "POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n" +
				"Content-Length: " + strconv.Itoa(5+len(hidden)) + "\r\n\r\n0\r\n\r\n" + hidden, false},
			{"GET with CL and TE", "GET /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n" +
				"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden, false},
			{"HTTP/1.0 with TE and CL", "POST /public/a HTTP/1.0\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n" +
				"Content-Length: 5\r\n\r\n0\r\n\r\n" + hidden, false},
			{"duplicate differing Content-Length", "POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n" +
				"Content-Length: " + strconv.Itoa(5+len(hidden)) + "\r\n\r\nhello" + hidden, true},
			{"Content-Length list", "POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5, 6\r\n\r\nhello!" + hidden, true},
			{"TE gzip, chunked", "POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + hidden, true},
			{"TE chunked, identity", "POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + hidden, true},
			{"TE xchunked", "POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + hidden, true},
			{"TE identity", "POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + hidden, true},
			{"TE twice", "POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden, true},
			{"TE twice, second odd", "POST /public/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n" + hidden, true},
		}
		for _, c := range cases {
			r := g.chaosExchange(t, c.raw, 3*time.Second)
			t.Logf("%-40s answers %v, connection closed: %v", c.name, r.statuses, r.closed)
			switch {
			case len(r.statuses) > 1:
				t.Errorf("%s: %d answers %v on one connection, want at most one (a smuggled request was served)", c.name, len(r.statuses), r.statuses)
			case !r.closed:
				t.Errorf("%s: the connection stayed open after the answer (%v), want it closed", c.name, r.err)
			case c.reject && (len(r.statuses) == 0 || r.statuses[0] < 400):
				t.Errorf("%s: answers %v, want a 4xx/5xx refusal", c.name, r.statuses)
			}
			checkPrivate(c.name)
		}
	})

	t.Run("traversal", func(t *testing.T) {
		targets := []string{
			"/public/../private/x",
			"/public/./../private/x",
			"/public//../private/x",
			"/public/%2e%2e/private/x",
			"/public/%2E%2E/private/x",
			"/public/%2e%2E/private/x",
			"/public/.%2e/private/x",
			"/public/%2e./private/x",
			"/public/..%2fprivate/x",
			"/public/..%2Fprivate/x",
			"/public%2f..%2fprivate/x",
			"/public%2F..%2Fprivate%2Fx",
			"/public/%2e%2e%2fprivate/x",
			"/public/%2E%2e%2Fprivate%2fx",
			"/public/%252e%252e/private/x",
			"/public/%252e%252e%252fprivate/x",
			"/public/..%252fprivate/x",
			"/public/..\\private/x",
			"/public\\..\\private\\x",
			"/public/..%5cprivate/x",
			"/public/..%5Cprivate/x",
			"/public/a/b/../../../private/x",
			"/public/a/b/c/../../../../private/x",
			"/public/a/%2e%2e/%2e%2e/private/x",
			"/public/a/b/c/..%2f..%2f..%2f..%2fprivate/x",
			"/public/%2e%2e/%2e%2e/private/x",
			"/public/..;/private/x",
			"/public;/../private/x",
			"/public/%2e%2e;/private/x",
			"/public/..;jsessionid=1/private/x",
			"/public/../private/x?a=1",
			"/public/../private",
			"/public/..",
			"/public/../private/",
			"/public/..%00/private/x",
			"/public/%c0%ae%c0%ae/private/x",
			"/public/%u002e%u002e/private/x",
			"/public/..%2f",
			"http://127.0.0.1/public/../private/x",
			"http://127.0.0.1/public/%2e%2e/private/x",
		}
		statuses := map[int][]string{}
		for _, target := range targets {
			r := g.chaosExchange(t, "GET "+target+" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 3*time.Second)
			checkPrivate("GET " + target)
			if len(r.statuses) != 1 {
				t.Errorf("GET %s: answers %v (%v), want one", target, r.statuses, r.err)
				continue
			}
			statuses[r.statuses[0]] = append(statuses[r.statuses[0]], target)
			if r.statuses[0] < 400 {
				if b := r.headers[0].Get("X-Backend-Name"); b != pub.name {
					t.Errorf("GET %s: %d from %q, want a refusal or the public backend %s", target, r.statuses[0], b, pub.name)
				}
			}
		}
		for s, ts := range statuses {
			t.Logf("%d for %d targets: %q", s, len(ts), ts)
		}
		t.Logf("%d traversal targets: the private backend's hit count stayed 0", len(targets))
		// The detector works: a plain request to /private is counted.
		if r := g.get(t, "/private/x"); r.status != http.StatusOK || r.backend() != priv.name {
			t.Fatalf("GET /private/x = %d from %q, want 200 from %s", r.status, r.backend(), priv.name)
		}
		legit++
		if n := privHits(); n != legit {
			t.Errorf("after one GET /private/x the private backend counted %d hits, want %d", n, legit)
		}
	})

	t.Run("forwarded headers", func(t *testing.T) {
		spoof := "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nForwarded: for=203.0.113.9\r\n"
		e := chaosEcho(t, g, "GET /public/xf HTTP/1.1\r\nHost: 127.0.0.1:"+strconv.Itoa(g.port)+"\r\n"+spoof+"Connection: close\r\n\r\n")
		chaosCheckHeader(t, "default: X-Forwarded-For", e.header("X-Forwarded-For"), "127.0.0.1")
		chaosCheckHeader(t, "default: X-Forwarded-Proto", e.header("X-Forwarded-Proto"), "http")
		chaosCheckHeader(t, "default: X-Forwarded-Host", e.header("X-Forwarded-Host"), "127.0.0.1:"+strconv.Itoa(g.port))
		chaosCheckHeader(t, "default: Forwarded", e.header("Forwarded"), "")

		tg := startGateway(t, chaosPublicPrivate(label, "  trusted_proxies: [\"127.0.0.1\"]\n"))
		tg.waitBackend(t, "/public/ready", pub.name, 5*time.Second)
		e = chaosEcho(t, tg, "GET /public/xf HTTP/1.1\r\nHost: 127.0.0.1:"+strconv.Itoa(tg.port)+"\r\n"+spoof+"Connection: close\r\n\r\n")
		chaosCheckHeader(t, "trusted: X-Forwarded-For", e.header("X-Forwarded-For"), "203.0.113.9, 127.0.0.1")
		chaosCheckHeader(t, "trusted: X-Forwarded-Proto", e.header("X-Forwarded-Proto"), "https")
		chaosCheckHeader(t, "trusted: X-Forwarded-Host", e.header("X-Forwarded-Host"), "evil.example")
	})

	t.Run("connection header", func(t *testing.T) {
		for _, conn := range []string{
			"X-Request-Id, X-Forwarded-For",
			"close, X-Request-Id, X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto",
		} {
			r := g.chaosExchangeN(t, "GET /public/conn HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: client-id-42\r\n"+
				"X-Forwarded-For: 203.0.113.9\r\nConnection: "+conn+"\r\n\r\n", 3*time.Second, 1)
			e := chaosEchoOf(t, r)
			id := e.header("X-Request-Id")
			if id == "" || id != r.headers[0].Get("X-Request-Id") {
				t.Errorf("Connection: %s: upstream X-Request-Id %q, answer's %q; want the same, non-empty", conn, id, r.headers[0].Get("X-Request-Id"))
			}
			chaosCheckHeader(t, "Connection: "+conn+": upstream X-Forwarded-For", e.header("X-Forwarded-For"), "127.0.0.1")
			chaosCheckHeader(t, "Connection: "+conn+": upstream X-Forwarded-Proto", e.header("X-Forwarded-Proto"), "http")
			if e.header("X-Forwarded-Host") == "" {
				t.Errorf("Connection: %s: upstream X-Forwarded-Host missing", conn)
			}
		}
	})

	t.Run("request id", func(t *testing.T) {
		hexID := regexp.MustCompile(`^[0-9a-f]{32}$`)
		valid := strings.Repeat("v", 128)
		r := g.chaosExchange(t, "GET /public/id HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Request-Id: "+valid+"\r\n\r\n", 3*time.Second)
		if e := chaosEchoOf(t, r); e.header("X-Request-Id") != valid || r.headers[0].Get("X-Request-Id") != valid {
			t.Errorf("a valid 128-character X-Request-Id was not kept: upstream %q, answer %q", e.header("X-Request-Id"), r.headers[0].Get("X-Request-Id"))
		}
		bad := map[string]string{
			"129 characters": strings.Repeat("x", 129),
			"4 KiB":          strings.Repeat("y", 4096),
			"tab":            "abc\tdef",
			"space":          "abc def",
			"DEL":            "abc\x7fdef",
			"SOH":            "abc\x01def",
			"quote":          `abc"def`,
			"backslash":      `abc\def`,
			"non-ASCII":      "abc\xc3\xa9def",
			"CR in value":    "abc\rdef",
		}
		for what, id := range bad {
			r := g.chaosExchange(t, "GET /public/id HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Request-Id: "+id+"\r\n\r\n", 3*time.Second)
			if len(r.statuses) != 1 {
				t.Errorf("X-Request-Id with %s: answers %v (%v), want one", what, r.statuses, r.err)
				continue
			}
			got := r.headers[0].Get("X-Request-Id")
			if r.statuses[0] != http.StatusOK {
				// Refused by the HTTP parser: fine, as long as it is not echoed.
				if strings.Contains(got, "abc") || strings.Contains(r.bodies[0], id) {
					t.Errorf("X-Request-Id with %s: refused with %d but echoed (%q)", what, r.statuses[0], got)
				}
				t.Logf("X-Request-Id with %s: refused with %d", what, r.statuses[0])
				continue
			}
			up := chaosEchoOf(t, r).header("X-Request-Id")
			if got == id || up == id || !hexID.MatchString(got) || up != got {
				t.Errorf("X-Request-Id with %s: upstream saw %q, answer carries %q; want the same fresh 32-hex id, not the client's", what, up, got)
			} else {
				t.Logf("X-Request-Id with %s: replaced by %s", what, got)
			}
		}
	})
	checkPrivate("the whole test")
}

// chaosDirectHits reads a testapp's request counter on its own port.
func chaosDirectHits(t *testing.T, port int) int64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/hits")
	if err != nil {
		t.Fatalf("GET /hits of the private backend: %v", err)
	}
	defer resp.Body.Close()
	var h struct {
		Hits *int64 `json:"hits"`
	}
	b, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(b, &h) != nil || h.Hits == nil {
		t.Fatalf("GET /hits of the private backend: %q", b)
	}
	return *h.Hits
}

// chaosEcho sends raw and decodes the one echo answer.
func chaosEcho(t *testing.T, g *gw, raw string) echo {
	t.Helper()
	return chaosEchoOf(t, g.chaosExchange(t, raw, 3*time.Second))
}

func chaosEchoOf(t *testing.T, r chaosRaw) echo {
	t.Helper()
	if len(r.statuses) == 0 {
		t.Fatalf("no answer (%v)", r.err)
	}
	return decodeEcho(t, reply{status: r.statuses[0], header: r.headers[0], body: []byte(r.bodies[0])})
}

func chaosCheckHeader(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}
