package h1server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readResponse reads one response (body included) from br.
func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// expectClosed waits up to max for the server to close c, reporting how
// long it took; it fails if data arrives instead.
func expectClosed(t *testing.T, c net.Conn, br *bufio.Reader, max time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(max))
	var b [64]byte
	var n int
	var err error
	if br != nil {
		n, err = br.Read(b[:])
	} else {
		n, err = c.Read(b[:])
	}
	if n > 0 {
		t.Fatalf("got %q, want the connection closed", b[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", max)
	}
	return time.Since(start)
}

// expectOpen checks that c stays open (and silent) for d.
func expectOpen(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	var b [64]byte
	n, err := c.Read(b[:])
	var ne net.Error
	if n > 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("connection not open and silent: %q, %v", b[:n], err)
	}
	c.SetReadDeadline(time.Time{})
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.URL.Path)
	})
}

func TestReadHeaderTimeout(t *testing.T) {
	const rht = 300 * time.Millisecond
	addr := startServer(t, &Server{Handler: okHandler(), ReadHeaderTimeout: rht, IdleTimeout: 10 * time.Second})

	t.Run("silent", func(t *testing.T) {
		c := dial(t, addr)
		if d := expectClosed(t, c, nil, 3*time.Second); d < rht/2 {
			t.Errorf("closed after %v, before the header timeout", d)
		}
	})
	t.Run("partial head", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
		if d := expectClosed(t, c, nil, 3*time.Second); d < rht/2 {
			t.Errorf("closed after %v, before the header timeout", d)
		}
	})
	t.Run("slow head", func(t *testing.T) {
		// Trickling bytes does not extend the deadline.
		c := dial(t, addr)
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		expectClosed(t, c, nil, 3*time.Second)
		if d := time.Since(start); d > rht+time.Second {
			t.Errorf("closed after %v", d)
		}
		c.Close()
		<-done
	})
	t.Run("second request", func(t *testing.T) {
		// Idle time before the second request's first byte does not count
		// against its header timeout.
		c := dial(t, addr)
		br := bufio.NewReader(c)
		io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
		readResponse(t, br, "GET")
		time.Sleep(rht + 200*time.Millisecond)
		io.WriteString(c, "GET /2 HTTP/1.1\r\n")
		time.Sleep(rht / 3)
		io.WriteString(c, "Host: x\r\n\r\n")
		if _, body := readResponse(t, br, "GET"); body != "ok /2" {
			t.Fatalf("body %q", body)
		}
		io.WriteString(c, "GET /3 HTTP/1.1\r\n")
		expectClosed(t, c, br, 3*time.Second)
	})
}

func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	addr := startServer(t, &Server{Handler: okHandler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: idle})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponse(t, br, "GET")
	time.Sleep(idle / 3)
	io.WriteString(c, "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := readResponse(t, br, "GET"); body != "ok /2" {
		t.Fatalf("body %q", body)
	}
	if d := expectClosed(t, c, br, 3*time.Second); d < idle/2 {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
}

func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "done "+r.URL.Path)
	})
	s := &Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(ln) }()
	addr := ln.Addr().String()

	// An idle keep-alive connection on the fast path.
	idle := dial(t, addr)
	idleBR := bufio.NewReader(idle)
	io.WriteString(idle, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponse(t, idleBR, "GET")

	// An idle keep-alive connection handed to the fallback.
	handed := dial(t, addr)
	handedBR := bufio.NewReader(handed)
	io.WriteString(handed, "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n")
	readResponse(t, handedBR, "POST")

	// An active request.
	active := dial(t, addr)
	activeBR := bufio.NewReader(active)
	io.WriteString(active, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started

	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- s.Shutdown(context.Background()) }()

	expectClosed(t, idle, idleBR, 3*time.Second)
	expectClosed(t, handed, handedBR, 3*time.Second)
	select {
	case err := <-shutdownErr:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	// New connections are refused.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := c.Read(make([]byte, 1))
		c.Close()
		if n > 0 {
			t.Error("new connection served during shutdown")
		}
	}

	close(release)
	resp, body := readResponse(t, activeBR, "GET")
	if body != "done /slow" || !resp.Close { // ReadResponse consumes "Connection: close" into Close
		t.Errorf("in-flight response: %q close=%v header %v", body, resp.Close, resp.Header)
	}
	expectClosed(t, active, activeBR, 3*time.Second)
	if err := <-shutdownErr; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

func TestShutdownTimeoutThenClose(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s := &Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(ln) }()
	fast := dial(t, ln.Addr().String())
	io.WriteString(fast, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	handed := dial(t, ln.Addr().String())
	io.WriteString(handed, "GET / HTTP/1.0\r\n\r\n")
	<-started
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	expectClosed(t, fast, nil, 3*time.Second)
	expectClosed(t, handed, nil, 3*time.Second)
	close(release)
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	s.connWG.Wait()
	s.fallbackWG.Wait()
}

func TestClientDisconnectCancelsContext(t *testing.T) {
	type result struct {
		err     error
		waited  time.Duration
		path    string
		gotBody string
	}
	results := make(chan result, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		start := time.Now()
		wait := 5 * time.Second
		if r.URL.Path == "/short" {
			wait = 400 * time.Millisecond
		}
		select {
		case <-r.Context().Done():
		case <-time.After(wait):
		}
		results <- result{r.Context().Err(), time.Since(start), r.URL.Path, string(b)}
		io.WriteString(w, "late")
	})
	addr := startServer(t, &Server{Handler: h})

	for _, req := range []string{
		"GET /get HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody",
	} {
		c := dial(t, addr)
		io.WriteString(c, req)
		time.Sleep(150 * time.Millisecond) // past the watcher's delay
		c.Close()
		select {
		case r := <-results:
			if !errors.Is(r.err, context.Canceled) || r.waited > time.Second {
				t.Errorf("%s: context err %v after %v, want Canceled within 1s", r.path, r.err, r.waited)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("handler context not cancelled on client disconnect")
		}
	}

	// Disconnecting right away (before the watcher starts) works too.
	c := dial(t, addr)
	io.WriteString(c, "GET /quick HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(5 * time.Millisecond)
	c.Close()
	select {
	case r := <-results:
		if !errors.Is(r.err, context.Canceled) || r.waited > time.Second {
			t.Errorf("%s: context err %v after %v", r.path, r.err, r.waited)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("handler context not cancelled on quick disconnect")
	}

	// A pipelined request is not a disconnect: the byte the watcher reads
	// is kept for the next request.
	c = dial(t, addr)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(150 * time.Millisecond)
	io.WriteString(c, "POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	for i := 0; i < 2; i++ {
		r := <-results
		if r.err != nil {
			t.Errorf("pipelined %d: context err %v", i, r.err)
		}
		if i == 1 && r.gotBody != "abc" {
			t.Errorf("pipelined body %q", r.gotBody)
		}
		if _, body := readResponse(t, br, "GET"); body != "late" {
			t.Errorf("body %q", body)
		}
	}
}

func TestContextCancelledAfterHandler(t *testing.T) {
	var ctx context.Context
	done := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx = r.Context()
		close(done)
	})
	addr := startServer(t, &Server{Handler: h})
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponse(t, bufio.NewReader(c), "GET")
	<-done
	if ctx.Err() != context.Canceled {
		t.Errorf("context after ServeHTTP: %v", ctx.Err())
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestPanicRecovery(t *testing.T) {
	var logs syncBuffer
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/abort":
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "fine")
	})
	addr := startServer(t, &Server{Handler: h, ErrorLog: slog.New(slog.NewTextHandler(&logs, nil))})

	for _, path := range []string{"/panic", "/abort"} {
		c := dial(t, addr)
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
		expectClosed(t, c, nil, 3*time.Second)
	}
	// The server still serves.
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := readResponse(t, bufio.NewReader(c), "GET"); body != "fine" {
		t.Errorf("body %q", body)
	}
	out := logs.String()
	if !strings.Contains(out, "panic serving") || !strings.Contains(out, "boom") {
		t.Errorf("panic not logged: %q", out)
	}
	if strings.Count(out, "panic serving") != 1 {
		t.Errorf("want exactly one panic logged (not ErrAbortHandler): %q", out)
	}
}

// TestAbortHandlerSendsNothing: a fast-path handler that panics with
// http.ErrAbortHandler before anything was sent (nothing written, or only
// a header decided at WriteHeader, which net/http would not have sent
// yet) has the connection closed without a byte, and nothing logged.
func TestAbortHandlerSendsNothing(t *testing.T) {
	var logs syncBuffer
	var fast, served atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if _, ok := w.(*response); ok {
			fast.Add(1)
		}
		if r.URL.Path == "/after-header" {
			w.Header().Set("Content-Length", "5")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
		}
		panic(http.ErrAbortHandler)
	})
	addr := startServer(t, &Server{Handler: h, ErrorLog: slog.New(slog.NewTextHandler(&logs, nil))})
	for i, path := range []string{"/nothing", "/after-header"} {
		c := dial(t, addr)
		io.WriteString(c, get(path)+get("/next"))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		out, err := io.ReadAll(c)
		if err != nil || len(out) > 0 {
			t.Errorf("%s: got %q, %v; want the connection closed with nothing sent", path, out, err)
		}
		if n := int32(i + 1); served.Load() != n || fast.Load() != n {
			t.Errorf("%s: %d requests served, %d on the fast path; want %d and %d", path, served.Load(), fast.Load(), n, n)
		}
	}
	if out := logs.String(); out != "" {
		t.Errorf("logged %q", out)
	}
}

func TestHandoffMidConnection(t *testing.T) {
	var fastN, slowN atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(*response); ok {
			fastN.Add(1)
		} else {
			slowN.Add(1)
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %q", r.Method, r.URL.Path, b)
	})
	var states []http.ConnState
	var mu sync.Mutex
	fb := &http.Server{ConnState: func(_ net.Conn, st http.ConnState) {
		mu.Lock()
		states = append(states, st)
		mu.Unlock()
	}}
	addr := startServer(t, &Server{Handler: h, Fallback: fb})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	// Two fast requests, the second with a body; then a chunked upload that
	// only net/http handles, sent in two parts; then more requests.
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	readResponse(t, br, "GET")
	readResponse(t, br, "POST")
	io.WriteString(c, "POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(c, "Encoding: chunked\r\n\r\n3\r\ndef\r\n0\r\n\r\nGET /4 HTTP/1.1\r\nHost: x\r\n\r\n")
	_, b3 := readResponse(t, br, "POST")
	_, b4 := readResponse(t, br, "GET")
	if b3 != `POST /3 "def"` || b4 != `GET /4 ""` {
		t.Errorf("bodies after hand-off: %q %q", b3, b4)
	}
	if fastN.Load() != 2 || slowN.Load() != 2 {
		t.Errorf("fast %d, fallback %d requests; want 2 and 2", fastN.Load(), slowN.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) == 0 || states[0] != http.StateNew {
		t.Errorf("fallback conn states %v", states)
	}
}

func TestMaxHeaderBytes(t *testing.T) {
	addr := startServer(t, &Server{Handler: okHandler(), MaxHeaderBytes: 1024})
	// Under the limit but bigger than... well, small: fast path.
	c := dial(t, addr)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /small HTTP/1.1\r\nHost: x\r\nX-A: "+strings.Repeat("a", 900)+"\r\n\r\n")
	if _, body := readResponse(t, br, "GET"); body != "ok /small" {
		t.Fatalf("body %q", body)
	}
	// Far over the limit: 431 (from the fast path, as the limit is under
	// what net/http can enforce).
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\nX-A: "+strings.Repeat("a", 20000)+"\r\n\r\n")
	resp, _ := readResponse(t, br, "GET")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}

func TestServeAfterShutdown(t *testing.T) {
	s := &Server{Handler: okHandler()}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("listener not closed")
	}
}

func TestResponseController(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		var errs []string
		for _, err := range []error{
			rc.SetReadDeadline(time.Now().Add(time.Minute)),
			rc.SetWriteDeadline(time.Now().Add(time.Minute)),
			rc.EnableFullDuplex(),
		} {
			errs = append(errs, fmt.Sprint(err))
		}
		io.WriteString(w, "x")
		errs = append(errs, fmt.Sprint(rc.Flush()))
		_, _, err := rc.Hijack()
		errs = append(errs, fmt.Sprint(errors.Is(err, http.ErrNotSupported)))
		io.WriteString(w, strings.Join(errs, ","))
		rc.SetWriteDeadline(time.Time{})
	})
	addr := startServer(t, &Server{Handler: h})
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := readResponse(t, bufio.NewReader(c), "GET")
	if body != "x<nil>,<nil>,<nil>,<nil>,true" || resp.TransferEncoding == nil {
		t.Errorf("body %q, TE %v", body, resp.TransferEncoding)
	}
}

func TestTLSHandedOff(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, fast := w.(*response)
		fmt.Fprintf(w, "tls=%v fast=%v", r.TLS != nil, fast)
	})
	s := &Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})) }()
	defer func() {
		s.Shutdown(context.Background())
		<-done
	}()

	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := readResponse(t, bufio.NewReader(c), "GET"); body != "tls=true fast=false" {
		t.Errorf("body %q", body)
	}
}
