package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an upstream on 127.0.0.1 that keeps every request it
// receives, exactly as it came off the wire, and answers each with what
// its answer function writes. It stands for a misbehaving or scripted
// backend, outside Docker (a static url).
type recorder struct {
	ln     net.Listener
	answer func(c net.Conn, r *recorded) (keepOpen bool)
	mu     sync.Mutex
	got    []*recorded
	conns  int
	wg     sync.WaitGroup
}

// recorded is one request as the upstream read it.
type recorded struct {
	Method, URI, Proto string
	Host               string // the Host field (net/http takes it out of Header)
	Header             http.Header
	Body               string
	BodyErr            error
	ContentLength      int64
	TransferEncoding   []string
	Conn               int // which connection (1, 2, ...) carried it
}

// okAnswer answers 200 "ok" and keeps the connection.
func okAnswer(c net.Conn, _ *recorded) bool {
	_, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	return err == nil
}

func newRecorder(t *testing.T, answer func(net.Conn, *recorded) bool) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if answer == nil {
		answer = okAnswer
	}
	rec := &recorder{ln: ln, answer: answer}
	rec.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rec.mu.Lock()
			rec.conns++
			n := rec.conns
			rec.mu.Unlock()
			rec.wg.Go(func() { rec.serve(c, n) })
		}
	})
	t.Cleanup(func() { ln.Close(); rec.wg.Wait() })
	return rec
}

func (rec *recorder) url() string { return "http://" + rec.ln.Addr().String() }

func (rec *recorder) serve(c net.Conn, n int) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, berr := io.ReadAll(r.Body)
		got := &recorded{Method: r.Method, URI: r.RequestURI, Proto: r.Proto, Host: r.Host, Header: r.Header, Body: string(body),
			BodyErr: berr, ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding, Conn: n}
		rec.mu.Lock()
		rec.got = append(rec.got, got)
		rec.mu.Unlock()
		_ = c.SetReadDeadline(time.Time{})
		if berr != nil || !rec.answer(c, got) {
			return
		}
	}
}

// requests returns what the upstream received so far.
func (rec *recorder) requests() []*recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]*recorded(nil), rec.got...)
}

// only returns the one request the upstream received, failing otherwise.
func (rec *recorder) only(t *testing.T) *recorded {
	t.Helper()
	got := rec.requests()
	if len(got) != 1 {
		t.Fatalf("the upstream received %d requests, want 1: %s", len(got), describe(got))
	}
	return got[0]
}

func describe(rs []*recorded) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "[%s %s %s CL=%d TE=%v body=%q] ", r.Method, r.URI, r.Proto, r.ContentLength, r.TransferEncoding, r.Body)
	}
	return b.String()
}

// staticRoutes is a config whose routes each send a prefix to one static
// upstream: pairs of (prefix, url[, extra route lines]).
func staticRoutes(routes ...[3]string) string {
	var b strings.Builder
	b.WriteString("access_log: {enabled: true}\nroutes:\n")
	for i, r := range routes {
		fmt.Fprintf(&b, "  - path_prefix: %s\n    backend: b%d\n", r[0], i)
		if r[2] != "" {
			b.WriteString(r[2])
		}
	}
	b.WriteString("default_response: {body: \"no route\", status_code: 404}\nbackends:\n")
	for i, r := range routes {
		fmt.Fprintf(&b, "  - name: b%d\n    urls: [%s]\n", i, r[1])
	}
	return b.String()
}

// rawExchange sends raw on a fresh connection to the gateway, then reads
// until the gateway closes it or wait passes, and returns every byte.
func (g *gw) rawExchange(t *testing.T, raw string, wait time.Duration) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", g.url[len("http://"):], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() { _, _ = io.WriteString(c, raw) }()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	b, _ := io.ReadAll(c)
	return string(b)
}
