package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// framingCase is one raw request and what an honest proxy may forward of
// it: the request as its client meant it (method, target, body), or
// nothing (reject). hidden is a second request inside it that must never
// reach any backend.
type framingCase struct {
	name     string
	raw      string
	reject   bool   // nothing may reach a backend
	method   string // else: what the public backend must receive
	uri      string
	body     string
	optional bool // a refusal (4xx) is acceptable too
}

// hidden is the request smuggled inside a case's bytes: it asks for the
// private backend, which no case is allowed to reach.
const hidden = "GET /private/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

func framingCases() []framingCase {
	h := "Host: x\r\n"
	return []framingCase{
		{name: "CL then TE", raw: "POST /public/1 HTTP/1.1\r\n" + h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden,
			method: "POST", uri: "/public/1", body: ""},
		{name: "TE then CL covering a request", raw: "POST /public/2 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: " +
			strconv.Itoa(5+len(hidden)) + "\r\n\r\n0\r\n\r\n" + hidden, method: "POST", uri: "/public/2", body: ""},
		{name: "HTTP/1.0 with TE", raw: "POST /public/3 HTTP/1.0\r\n" + h + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n" +
			"Content-Length: 5\r\n\r\n0\r\n\r\n" + hidden, reject: true},
		{name: "HTTP/1.0 with TE, no CL", raw: "POST /public/4 HTTP/1.0\r\n" + h + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"0\r\n\r\n" + hidden, reject: true},
		{name: "two differing Content-Length", raw: "POST /public/5 HTTP/1.1\r\n" + h + "Content-Length: 5\r\nContent-Length: 0\r\n\r\nhello" + hidden, reject: true},
		{name: "unknown transfer coding", raw: "POST /public/6 HTTP/1.1\r\n" + h + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + hidden, reject: true},
		{name: "chunked twice", raw: "POST /public/7 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + hidden, reject: true},
		{name: "space before colon", raw: "POST /public/8 HTTP/1.1\r\n" + h + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + hidden, reject: true},
		// RFC 9112 5.2: a folded line is refused or unfolded; unfolded,
		// this is "TE then CL" (chunked wins, and the connection closes).
		{name: "obs-fold TE", raw: "POST /public/9 HTTP/1.1\r\n" + h + "Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + hidden,
			method: "POST", uri: "/public/9", body: "", optional: true},
		{name: "plus sign CL", raw: "POST /public/10 HTTP/1.1\r\n" + h + "Content-Length: +5\r\n\r\nhello" + hidden, reject: true},
		{name: "malformed chunk size", raw: "POST /public/11 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" + hidden, reject: true},
		{name: "chunk longer than its size", raw: "POST /public/12 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n" + hidden, reject: true},
		{name: "chunk extension", raw: "POST /public/13 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n",
			method: "POST", uri: "/public/13", body: "hello"},
		{name: "leading empty line", raw: "\r\nGET /public/14 HTTP/1.1\r\n" + h + "\r\n", method: "GET", uri: "/public/14"},
		// After an h2c upgrade the client would speak HTTP/2: its preface
		// must never reach a backend (as an HTTP/1 request the bytes after
		// a refused upgrade are just the next request, routed as any).
		{name: "h2c upgrade, then the HTTP/2 preface", raw: "GET /public/15 HTTP/1.1\r\n" + h + "Connection: Upgrade, HTTP2-Settings\r\n" +
			"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", method: "GET", uri: "/public/15"},
		{name: "query with semicolons and bad escapes", raw: "GET /public/16?a=1;b=2&c=%zz HTTP/1.1\r\n" + h + "\r\n",
			method: "GET", uri: "/public/16?a=1;b=2&c=%zz"},
		{name: "dot segments to another route", raw: "GET /public/../private/17 HTTP/1.1\r\n" + h + "\r\n", reject: true},
		{name: "encoded dot segments", raw: "GET /public/%2e%2e/private/18 HTTP/1.1\r\n" + h + "\r\n", reject: true},
		{name: "encoded slash", raw: "GET /public%2F..%2Fprivate/19 HTTP/1.1\r\n" + h + "\r\n", reject: true},
		{name: "TRACE", raw: "TRACE /public/20 HTTP/1.1\r\n" + h + "\r\n", reject: true},
		{name: "Expect 100-continue", raw: "PUT /public/21 HTTP/1.1\r\n" + h + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
			method: "PUT", uri: "/public/21", body: "hello"},
		{name: "bare LF line ends", raw: "GET /public/22 HTTP/1.1\n" + h[:len(h)-2] + "\n\n", method: "GET", uri: "/public/22", optional: true},
		{name: "NUL in a header", raw: "GET /public/23 HTTP/1.1\r\n" + h + "X-A: a\x00b\r\n\r\n", reject: true},
		{name: "CL with a chunked-looking body", raw: "POST /public/24 HTTP/1.1\r\n" + h + "Content-Length: " + strconv.Itoa(len(hidden)) + "\r\n\r\n" + hidden,
			method: "POST", uri: "/public/24", body: hidden},
		{name: "trailer after the last chunk", raw: "POST /public/25 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" +
			"X-Trailer: 1\r\n\r\n", method: "POST", uri: "/public/25", body: "hello"},
		{name: "absolute-form to another host", raw: "GET http://evil.example/public/26 HTTP/1.1\r\n" + h + "\r\n", method: "GET", uri: "/public/26", optional: true},
	}
}

// TestFramingAgainstNginx sends a set of hostile request framings to rgate
// and to nginx (each in front of its own pair of recording backends,
// /public and /private), and requires of rgate that every request it
// forwards is the one its client sent (method, target, body as framed),
// and that nothing ever reaches the private backend. nginx's outcomes are
// logged beside rgate's for reference.
func TestFramingAgainstNginx(t *testing.T) {
	t.Parallel()
	nginxBin := requireTool(t, "nginx")
	rPub, rPriv := newRecorder(t, nil), newRecorder(t, nil)
	nPub, nPriv := newRecorder(t, nil), newRecorder(t, nil)
	g := startGateway(t, staticRoutes([3]string{"/public", rPub.url(), ""}, [3]string{"/private", rPriv.url(), ""}))
	nginxURL := startNginx(t, nginxBin, nPub.url(), nPriv.url())

	var table []string
	for i, c := range framingCases() {
		rBefore, nBefore := len(rPub.requests()), len(nPub.requests())
		rgot := g.rawExchange(t, c.raw, time.Second)
		ngot := rawExchangeAt(t, nginxURL, c.raw, time.Second)
		rNew, nNew := rPub.requests()[rBefore:], nPub.requests()[nBefore:]
		table = append(table, fmt.Sprintf("%2d %-40s rgate %-28s nginx %s", i+1, c.name,
			outcome(rgot, rNew), outcome(ngot, nNew)))
		checkForwarded(t, c, rgot, rNew)
	}
	t.Logf("case, rgate's and nginx's outcomes:\n%s", strings.Join(table, "\n"))
	if got := rPriv.requests(); len(got) != 0 {
		t.Errorf("rgate let requests reach the private backend: %s", describe(got))
	}
	if got := nPriv.requests(); len(got) != 0 {
		t.Logf("nginx let %d requests reach the private backend: %s", len(got), describe(got))
	}
}

// checkForwarded holds rgate's outcome for c against what c allows.
func checkForwarded(t *testing.T, c framingCase, answer string, got []*recorded) {
	t.Helper()
	status := statusOf(answer)
	switch {
	case c.reject:
		if len(got) != 0 {
			t.Errorf("%s: refused framing reached the backend: %s", c.name, describe(got))
		}
		if status < 400 {
			t.Errorf("%s: answered %q, want a refusal", c.name, firstLine([]byte(answer)))
		}
	case len(got) == 0 && c.optional && status >= 400 && status < 500:
	case len(got) != 1:
		t.Errorf("%s: the backend received %d requests, want 1 (answer %q): %s", c.name, len(got), firstLine([]byte(answer)), describe(got))
	default:
		r := got[0]
		if r.Method != c.method || r.URI != c.uri || r.Body != c.body || r.BodyErr != nil {
			t.Errorf("%s: the backend received %s %s body %q (%v), the client sent %s %s body %q",
				c.name, r.Method, r.URI, r.Body, r.BodyErr, c.method, c.uri, c.body)
		}
		for _, k := range []string{"Upgrade", "Http2-Settings", "Expect"} {
			if r.Header.Get(k) != "" {
				t.Errorf("%s: the backend received %s: %q", c.name, k, r.Header.Get(k))
			}
		}
	}
}

func statusOf(answer string) int {
	if !strings.HasPrefix(answer, "HTTP/1.") || len(answer) < 12 {
		return 0
	}
	n, _ := strconv.Atoi(answer[9:12])
	return n
}

// outcome is a short account of a case: the statuses answered, and what
// reached the backend.
func outcome(answer string, got []*recorded) string {
	var codes []string
	for _, line := range strings.Split(answer, "\r\n") {
		if strings.HasPrefix(line, "HTTP/1.") && len(line) >= 12 {
			codes = append(codes, line[9:12])
		}
	}
	s := strings.Join(codes, "+")
	if s == "" {
		s = "closed"
	}
	return fmt.Sprintf("%s, %d forwarded", s, len(got))
}

// startNginx runs nginx (as its own process, in a private prefix) as a
// reverse proxy of /public and /private to the two upstreams, and returns
// its address.
func startNginx(t *testing.T, bin, pub, priv string) string {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
user root;
worker_processes 1;
error_log %[1]s/error.log info;
pid %[1]s/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d;
    location /public { proxy_pass %[3]s; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /private { proxy_pass %[4]s; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location / { return 404; }
  }
}
`, dir, port, pub, priv)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	eventually(t, 10*time.Second, "nginx answering", func() bool {
		res, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		res.Body.Close()
		return true
	})
	return addr
}

// rawExchangeAt is rawExchange against any address.
func rawExchangeAt(t *testing.T, addr, raw string, wait time.Duration) string {
	t.Helper()
	g := &gw{url: "http://" + addr}
	return g.rawExchange(t, raw, wait)
}

// requireTool returns the path of a program the test needs: it fails
// where the end-to-end suite must run (CI, RGATE_E2E=1), and skips
// elsewhere.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" || os.Getenv("RGATE_E2E") != "" {
		t.Fatalf("%s is not installed (.ci/run installs it)", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}
